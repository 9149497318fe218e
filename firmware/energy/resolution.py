"""Display resolution of the energy registers: the step at which a shown value changes.

The decimals come from the A code of the configuration ("7.0", "7.1", "6.1": integer
digits . decimals). The step is the A code's (1 kWh or 0.1 kWh), made coarser by
powers of ten where the CT/VT ratio makes the primary energy too fast for it:
- a shown value may not change faster than once every 10 s at maximum load
  (phases x Un x Imax x ratio): a faster digit cannot be read, and every change
  is a save to flash (the endurance of the store rests on this bound);
- the field must hold one year of energy at maximum load before it rolls over.
From 10 kWh up the unit is MWh (e.g. 3000/5 A: 10 kWh, shown as MWh with 2 decimals).
The 162's 0.1 kWh at 85 A changes every 18 s; the 351B at 5/5 A every 87 s.
"""

MIN_CHANGE_S = 10


def p_max(cfg, primary=True):
    """Maximum load in W (all phases at Un and Imax, PF 1), primary or secondary side."""
    p = cfg.phases * cfg.un * cfg.imax
    if primary:
        p = p * cfg.ct[0] * cfg.vt[0] / (cfg.ct[1] * cfg.vt[1])
    return p


def energy_display(cfg, primary=True):
    """(step_mwh, unit, decimals, digits) of the shown energy registers."""
    whole, dec = cfg.display.split(".")
    dec = int(dec)
    digits = int(whole) + dec
    e = 6 - dec                          # step = 10**e mWh
    pm = p_max(cfg, primary)
    fast = pm * MIN_CHANGE_S / 3.6       # mWh per 10 s at maximum load
    year = pm * 8760 * 1000              # mWh per year at maximum load
    while 10 ** e < fast or 10 ** (digits + e) <= year:
        e += 1
    if e <= 6:
        return 10 ** e, "kWh", 6 - e, digits
    return 10 ** e, "MWh", max(0, 9 - e), digits

"""The quantity catalogue: every quantity the meter exposes, by OBIS code (one table).

The display lists, the IEC 62056-21 readout and (later) the DLMS objects are views of
this table; adding a quantity is adding a row here, never editing a view.

A row: (code, kind, unit, scale, decimals, flags, read, hist, when)
    code      OBIS code in the short form the glass and the readout show ("1.8.0")
    kind      ENERGY: an energy register (unit, decimals and digits follow the A code
              and the CT/VT ratio: energy/resolution.py; verification mode adds two
              decimals); NUMBER: a measured or derived value; COUNT: a register that
              only grows (hours, stops): rolls over like a register; DATE, TIME: the
              local date and time of the meter clock
    unit      display unit ("kvarh" rows become "Mvarh" with the energy display)
    scale     read() gives the value in units of 10**scale of `unit`
    decimals  decimals shown (NUMBER, COUNT)
    flags     LEGAL (sealed metrological data), MANDATORY (cannot be left off the
              manual display list), L2/L3 (exists only with that many phases)
    read      f(meter) -> int: the value now
    hist      None, or (billing field, factor): the value at a billing stop is the
              snapshot's field (logs/billing.py) times factor, in the row's scale;
              such a row can be asked for as "code*NN" (NN = 01 the last stop .. 36)
    when      None, or (f(meter) -> UTC, billing field): the time stamp of a maximum
              (0: none yet), now and at a billing stop
Values are integers; floats (rms values from the metrology) become integers here, at
the edge.
"""

from ..energy.resolution import energy_display

DEPTH = 36    # historical values *01..*36: the billing logger's depth (logs/billing.py
#               DEPTH; a test holds them equal; not imported, to keep config light)

ENERGY = 0
NUMBER = 1
COUNT = 2
DATE = 3
TIME = 4

LEGAL = 1
MANDATORY = 2
L2 = 4
L3 = 8


def _e(name):
    return lambda m: m.registers.mwh(name, True)


def _ta(t):
    return lambda m: m.logbook.treg.a_plus[t - 1]


def _tr(t):
    return lambda m: m.logbook.treg.r_plus[t - 1]


def _kv(m):
    vt = m.registers.vt
    return vt[0] / vt[1]


def _ki(m):
    ct = m.registers.ct
    return ct[0] / ct[1]


def _v(k):
    return lambda m: int(m.m.vrms[k] * _kv(m) * 100 + 0.5)


def _i(k):
    return lambda m: int(m.m.irms[k] * _ki(m) * 1000 + 0.5)


def _p(k):
    return lambda m: int(m.m.p[k] * _kv(m) * _ki(m))


def _pt(m, sign):
    x = int(m.m.p_total * _kv(m) * _ki(m))
    return x if x * sign > 0 else 0


def _qt(m, sign):
    x = int(m.m.q_total * _kv(m) * _ki(m))
    return x if x * sign > 0 else 0


def _local(m):
    return m.logbook.zone.local(m.clock.now())


def _tmax(t, j):
    return lambda m: m.logbook.demand.tmax[t - 1][j]


_EL = LEGAL
_EM = LEGAL | MANDATORY

ROWS = (
    # energy registers, primary (the shown and billed values)
    ("1.8.0", ENERGY, "kWh", -6, 0, _EM, _e("a_plus"), ("a_plus", 1000), None),
    ("2.8.0", ENERGY, "kWh", -6, 0, _EM, _e("a_minus"), ("a_minus", 1000), None),
    ("3.8.0", ENERGY, "kvarh", -6, 0, _EL, _e("r_plus"), ("r_plus", 1000), None),
    ("4.8.0", ENERGY, "kvarh", -6, 0, _EL, _e("r_minus"), ("r_minus", 1000), None),
    ("5.8.0", ENERGY, "kvarh", -6, 0, _EL, _e("r1"), None, None),
    ("6.8.0", ENERGY, "kvarh", -6, 0, _EL, _e("r2"), None, None),
    ("7.8.0", ENERGY, "kvarh", -6, 0, _EL, _e("r3"), None, None),
    ("8.8.0", ENERGY, "kvarh", -6, 0, _EL, _e("r4"), None, None),
    # tariff registers A+ and R+ (T1..T4 are in the billing snapshot)
    ("1.8.1", ENERGY, "kWh", -6, 0, 0, _ta(1), ("a_plus_t1", 1000), None),
    ("1.8.2", ENERGY, "kWh", -6, 0, 0, _ta(2), ("a_plus_t2", 1000), None),
    ("1.8.3", ENERGY, "kWh", -6, 0, 0, _ta(3), ("a_plus_t3", 1000), None),
    ("1.8.4", ENERGY, "kWh", -6, 0, 0, _ta(4), ("a_plus_t4", 1000), None),
    ("1.8.5", ENERGY, "kWh", -6, 0, 0, _ta(5), None, None),
    ("1.8.6", ENERGY, "kWh", -6, 0, 0, _ta(6), None, None),
    ("1.8.7", ENERGY, "kWh", -6, 0, 0, _ta(7), None, None),
    ("1.8.8", ENERGY, "kWh", -6, 0, 0, _ta(8), None, None),
    ("3.8.1", ENERGY, "kvarh", -6, 0, 0, _tr(1), ("r_plus_t1", 1000), None),
    ("3.8.2", ENERGY, "kvarh", -6, 0, 0, _tr(2), ("r_plus_t2", 1000), None),
    ("3.8.3", ENERGY, "kvarh", -6, 0, 0, _tr(3), ("r_plus_t3", 1000), None),
    ("3.8.4", ENERGY, "kvarh", -6, 0, 0, _tr(4), ("r_plus_t4", 1000), None),
    # demand (mean power over the integration period E), primary
    ("1.5.0", NUMBER, "kW", -6, 3, 0, lambda m: m.logbook.demand.last_p, None, None),
    ("3.5.0", NUMBER, "kvar", -6, 3, 0, lambda m: m.logbook.demand.last_q, None, None),
    ("1.6.0", NUMBER, "kW", -6, 3, 0, lambda m: m.logbook.demand.pmax[0], ("pmax", 1000),
     (lambda m: m.logbook.demand.pmax[1], "pmax_time")),
    ("3.6.0", NUMBER, "kvar", -6, 3, 0, lambda m: m.logbook.demand.qmax[0], ("qmax", 1000),
     (lambda m: m.logbook.demand.qmax[1], "qmax_time")),
    ("1.6.1", NUMBER, "kW", -6, 3, 0, _tmax(1, 0), ("pmax_t1", 1000),
     (_tmax(1, 1), "pmax_t1_time")),
    ("1.6.2", NUMBER, "kW", -6, 3, 0, _tmax(2, 0), ("pmax_t2", 1000),
     (_tmax(2, 1), "pmax_t2_time")),
    ("3.6.1", NUMBER, "kvar", -6, 3, 0, _tmax(1, 2), ("qmax_t1", 1000),
     (_tmax(1, 3), "qmax_t1_time")),
    ("3.6.2", NUMBER, "kvar", -6, 3, 0, _tmax(2, 2), ("qmax_t2", 1000),
     (_tmax(2, 3), "qmax_t2_time")),
    ("1.2.0", NUMBER, "kW", -6, 3, 0, lambda m: m.logbook.demand.pmax_acc, ("pmax_acc", 1000),
     None),
    ("3.2.0", NUMBER, "kvar", -6, 3, 0, lambda m: m.logbook.demand.qmax_acc,
     ("qmax_acc", 1000), None),
    # instantaneous values, primary (the metrology's secondary values times CT and VT)
    ("1.7.0", NUMBER, "kW", -3, 3, 0, lambda m: _pt(m, 1), None, None),
    ("2.7.0", NUMBER, "kW", -3, 3, 0, lambda m: -_pt(m, -1), None, None),
    ("3.7.0", NUMBER, "kvar", -3, 3, 0, lambda m: _qt(m, 1), None, None),
    ("4.7.0", NUMBER, "kvar", -3, 3, 0, lambda m: -_qt(m, -1), None, None),
    ("21.7.0", NUMBER, "kW", -3, 3, 0, _p(0), None, None),
    ("41.7.0", NUMBER, "kW", -3, 3, L2, _p(1), None, None),
    ("61.7.0", NUMBER, "kW", -3, 3, L3, _p(2), None, None),
    ("32.7.0", NUMBER, "V", -2, 1, 0, _v(0), None, None),
    ("52.7.0", NUMBER, "V", -2, 1, L2, _v(1), None, None),
    ("72.7.0", NUMBER, "V", -2, 1, L3, _v(2), None, None),
    ("31.7.0", NUMBER, "A", -3, 2, 0, _i(0), None, None),
    ("51.7.0", NUMBER, "A", -3, 2, L2, _i(1), None, None),
    ("71.7.0", NUMBER, "A", -3, 2, L3, _i(2), None, None),
    ("14.7.0", NUMBER, "Hz", -2, 2, 0, lambda m: int(m.m.freq * 100 + 0.5), None, None),
    ("13.7.0", NUMBER, "", -3, 3, 0, lambda m: int(m.m.pf_total * 1000), None, None),
    # counters, clock, identity
    ("C.8.0", COUNT, "h", 0, 0, 0, lambda m: m.logbook.hours_s // 3600, ("hours", 1), None),
    ("0.1.0", COUNT, "", 0, 0, 0, lambda m: m.logbook.stops, ("stops", 1), None),
    ("0.9.1", TIME, "hh:mm:ss", 0, 0, 0, _local, None, None),
    ("0.9.2", DATE, "YY-MM-DD", 0, 0, 0, _local, None, None),
    ("0.4.2", NUMBER, "A", 0, 0, LEGAL, lambda m: m.registers.ct[0], ("ct_primary", 1), None),
    ("0.4.5", NUMBER, "A", 0, 0, LEGAL, lambda m: m.registers.ct[1], ("ct_secondary", 1), None),
    ("C.1.0", NUMBER, "", 0, 0, LEGAL, lambda m: m.cfg.serial, None, None),
    ("F.F.0", NUMBER, "", 0, 0, 0, lambda m: m.display.status(), None, None),
)

_INDEX = {}
for _n, _r in enumerate(ROWS):
    _INDEX[_r[0]] = _n


def parse(code):
    """'1.8.0' -> (row, 0); '1.8.0*01' -> (row, 1). ValueError names what is wrong."""
    if not isinstance(code, str):
        raise ValueError("OBIS code: a string like '1.8.0', got %r" % (code,))
    n = 0
    base = code
    star = code.find("*")
    if star >= 0:
        base = code[:star]
        tail = code[star + 1:]
        if len(tail) != 2 or not ("0" <= tail[0] <= "9" and "0" <= tail[1] <= "9"):
            raise ValueError("OBIS code %s: the billing suffix is *01..*%d" % (code, DEPTH))
        n = int(tail)
        if not 1 <= n <= DEPTH:
            raise ValueError("OBIS code %s: the billing suffix is *01..*%d" % (code, DEPTH))
    i = _INDEX.get(base)
    if i is None:
        raise ValueError("OBIS code %s: not a quantity of this meter" % code)
    row = ROWS[i]
    if n and row[7] is None:
        raise ValueError("OBIS code %s: %s has no historical values" % (code, base))
    return row, n


def available(row, phases):
    """Whether a row exists on a meter with `phases` phases."""
    f = row[5]
    return not ((f & L2 and phases < 2) or (f & L3 and phases < 3))


def mandatory():
    """The codes every manual display list must hold (legal display entries)."""
    return tuple(r[0] for r in ROWS if r[5] & MANDATORY)


class Reading:
    """One quantity read for showing: value in units of 10**scale of unit; decimals
    to show; wrap/pad: a register that rolls over at `pad` digits (display/field.py);
    kind; when a DATE/TIME: value is local epoch seconds; `when`: the UTC time stamp of
    a maximum. value None: not held (a
    billing stop not made yet)."""

    def __init__(self, kind, value, scale, unit, decimals, wrap=False, pad=0):
        self.kind = kind
        self.value = value
        self.scale = scale
        self.unit = unit
        self.decimals = decimals
        self.wrap = wrap
        self.pad = pad
        self.when = None         # UTC of a maximum (rows with a time stamp; 0: none yet)


class Catalogue:
    """The table bound to one meter: read any quantity by code."""

    def __init__(self, meter):
        self.meter = meter
        cfg = meter.cfg
        self.phases = cfg.phases
        self.energy = energy_display(cfg, True)      # (step_mwh, unit, decimals, digits)
        self.verification = bool(getattr(cfg, "verification", False))

    def rows(self):
        for r in ROWS:
            if available(r, self.phases):
                yield r

    def read(self, code, snapshot=None):
        """The Reading of `code` ('1.8.0', '1.8.0*03'). For a historical code the
        billing snapshot may be passed in (the caller caches it); else it is read
        from the billing logger."""
        row, n = parse(code)
        if not available(row, self.phases):
            raise ValueError("OBIS code %s: needs %d phases" % (code, 3 if row[5] & L3 else 2))
        when = None
        if n:
            if snapshot is None:
                snapshot = self.snapshot(n)
            if snapshot is None:
                value = None
            else:
                key, factor = row[7]
                value = snapshot[key] * factor
                if row[8] is not None:
                    when = snapshot[row[8][1]]
        else:
            value = row[6](self.meter)
            if row[8] is not None:
                when = row[8][0](self.meter)
        r = self.shape(row, value)
        r.when = when
        return r

    def snapshot(self, n):
        bl = self.meter.logbook.billing
        return None if bl is None else bl.get(n)

    def shape(self, row, value):
        kind = row[1]
        if kind == ENERGY:
            _step, unit, dec, digits = self.energy
            react = row[2] == "kvarh"
            scale = -6
            if unit == "MWh":
                scale = -9
                unit = "Mvarh" if react else "MWh"
            elif react:
                unit = "kvarh"
            if self.verification:
                dec = min(dec + 2, -scale)
                digits = 8
            return Reading(kind, value, scale, unit, dec, True, digits)
        if kind == COUNT:
            return Reading(kind, value, row[3], row[2], row[4], True, 8)
        return Reading(kind, value, row[3], row[2], row[4])

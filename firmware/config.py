"""Meter configuration: the two profiles (Kamstrup 162 / 351B) and validated overrides.

Figures from the datasheets in shared/reference and the metrology notes:
162: 1-phase direct, 5(85) A, Un 230 V, class B, LED 1000 imp/kWh and imp/kvarh, 30 ms.
351B: 3-phase CT 5(6) A, Un 3x230/400 V, class C, LED 10000 imp/kWh and imp/kvarh
(30 ms), S0 5000 imp/kWh, 30 or 80 ms (code I), secondary or primary energy
(code M), CT ratio 5/5..3000/5.
"""

PROFILES = {
    "162": {
        "profile": "162", "phases": 1, "wiring": "4w", "accuracy_class": "B",
        "un": 230.0, "fn": 50, "iref": 5.0, "itr": 0.5, "imin": 0.25, "ist": 0.02,
        "imax": 85.0,
        "led_imp_kwh": 1000, "led_imp_kvarh": 1000, "led_idle_on": False,
        "s0_imp_kwh": 0, "s0_primary": False, "pulse_ms": 30,
        "ct": (1, 1), "vt": (1, 1),
        "cycles": 50, "creep_current": None, "creep_power": None,
        "display": "6.1",
        "display_auto": ["1.8.0", "2.8.0", "1.7.0", "0.9.1"],
        "display_manual": ["1.8.0", "2.8.0", "3.8.0", "4.8.0", "1.8.1", "1.8.2", "1.5.0",
                           "1.6.0", "1.7.0", "2.7.0", "32.7.0", "31.7.0", "14.7.0", "13.7.0",
                           "C.8.0", "0.1.0", "0.9.2", "0.9.1", "C.1.0", "F.F.0",
                           "1.8.0*01", "2.8.0*01", "1.6.0*01"],
    },
    "351": {
        "profile": "351", "phases": 3, "wiring": "4w", "accuracy_class": "C",
        "un": 230.0, "fn": 50, "iref": 5.0, "itr": 0.25, "imin": 0.05, "ist": 0.005,
        "imax": 6.0,
        "led_imp_kwh": 10000, "led_imp_kvarh": 10000, "led_idle_on": False,
        "s0_imp_kwh": 5000, "s0_primary": False, "pulse_ms": 30,
        "ct": (5, 5), "vt": (1, 1),
        "cycles": 50, "creep_current": None, "creep_power": None,
        "display": "7.1",
        "display_auto": ["1.8.0", "2.8.0", "3.8.0", "4.8.0", "1.7.0", "0.9.1"],
        "display_manual": ["1.8.0", "2.8.0", "3.8.0", "4.8.0", "1.8.1", "1.8.2", "3.8.1",
                           "3.8.2", "1.5.0", "1.6.0", "3.6.0", "1.2.0", "1.7.0", "3.7.0",
                           "32.7.0", "52.7.0", "72.7.0", "31.7.0", "51.7.0", "71.7.0",
                           "14.7.0", "13.7.0", "0.4.2", "0.4.5", "C.8.0", "0.1.0", "0.9.2",
                           "0.9.1", "C.1.0", "F.F.0", "1.8.0*01", "2.8.0*01", "3.8.0*01",
                           "4.8.0*01", "1.6.0*01"],
    },
}

# legal (sealed, metrological) settings: changed only with the verification seal open;
# the rest are settings the utility may change through the optical port
LEGAL = ("profile", "phases", "wiring", "accuracy_class", "un", "fn", "iref", "itr", "imin",
         "ist", "imax", "led_imp_kwh", "led_imp_kvarh", "led_idle_on", "ct", "vt", "cycles",
         "creep_current", "creep_power", "display", "verification", "serial", "calibration")
_DISPLAY = {"162": ("7.0", "6.1"), "351": ("7.0", "7.1")}

# clock, tariffs, demand and logs (datasheet codes in brackets); settings, not legal
COMMON = {
    "gmt": 1,                    # LL 00..23: GMT+0..+12, 13..23 = GMT-11..-1
    "dst": 1,                    # PPP 0 none, 1 EU summer time
    "period": 2,                 # E 1..4: integration period 5, 15, 30, 60 min
    "billing_day": 1,            # GG 00 external, 01..28 day of the month
    "billing_interval": 1,       # HH 00 external, 01..24 (time/schedule.py)
    "billing2": 1,               # U 1 daily, 2 weekly, 3 monthly values
    "tariff_control": "calendar",  # calendar | inputs (DD) | comms
    "dd": 0,                     # DD input/output configuration 00..23
    "tariff_table": None,        # calendar (energy/tariffs.py); None: T1 all the time
    "profile_channels": "A+A-R+R-",  # energy type of the load profile
    "profile_primary": True,     # QQ 01 primary, 02 secondary energy
    "threshold_kw": 0,           # power-threshold counter limit (0: off)
    "pulse_in_unit": 0,          # NN 00 none, 01 kWh, 02 m3, 03 L
    "pulse_in_per_unit": 1000,   # input pulses per unit
    "max_demand": 0,             # K (162): maximum demand 0 overall, 1 in tariff 1, 2 in T2
    "analysis": None,            # analysis logger (162K): {registers, interval_s} or None
    "verification": False,       # verification mode: energy shown with 2 more decimals
    "serial": 0,                 # meter number (C.1.0), 0..99999999; the optical address
    "calibration": None,         # per measuring system (metrology/calibration.py); None:
                                 # nominal. Legal: tools/calibrate.py writes it, seal open
    # optical port (IEC 62056-21, comms/iec62056.py)
    "optical_mode": "C",         # A (300 baud only), B, C (baud switch, programming, mode E)
    "optical_baud": 9600,        # the highest baud rate the meter proposes (modes B, C)
    "password": "00000000",      # programming mode (P1), 1..16 letters or digits
    "readout_list": ["0.9.1", "0.9.2", "C.1.0", "F.F.0", "1.8.0", "2.8.0", "3.8.0",
                     "4.8.0", "1.8.1", "1.8.2", "1.6.0", "1.6.1", "1.6.2", "C.8.0", "0.1.0"],
    "readout_history": 2,        # billing stops (*01..) added to the readout, 0..36
}
for _p in PROFILES.values():
    _p.update(COMMON)

_CHANNELS = {"162": ("A+", "A+A-", "A+A-R+R-"), "351": ("A+", "A+A-", "A+R+", "A+A-R+R-")}
_NUM = (int, float)


def _alnum(s):
    for c in s:
        if not ("0" <= c <= "9" or "A" <= c <= "Z" or "a" <= c <= "z"):
            return False
    return True


def _code(d, k, lo, hi):
    x = d[k]
    if not isinstance(x, int) or isinstance(x, bool) or not lo <= x <= hi:
        raise ValueError("config.%s: an integer code %d..%d, got %r" % (k, lo, hi, x))


def _ratio(name, x, lo, hi):
    if not (isinstance(x, (list, tuple)) and len(x) == 2
            and isinstance(x[0], int) and isinstance(x[1], int)):
        raise ValueError("%s: must be [primary, secondary] integers" % name)
    if not (x[1] > 0 and lo <= x[0] and x[0] <= hi * x[1]):
        raise ValueError("%s: %d/%d outside the allowed range" % (name, x[0], x[1]))
    return (x[0], x[1])


def systems(d):
    """Measuring systems of a configuration: 1 (1-phase), 2 (Aron 3-wire) or 3."""
    if d["phases"] == 1:
        return 1
    return 2 if d["wiring"] == "aron" else 3


class Config:
    """A profile plus overrides; every field is checked and a bad one is named."""

    def __init__(self, profile="162", overrides=None):
        if profile not in PROFILES:
            raise ValueError("profile: must be one of %s, got %r" % (sorted(PROFILES), profile))
        d = dict(PROFILES[profile])
        for k, v in (overrides or {}).items():
            if k not in d or k == "profile":
                raise ValueError("config.%s: unknown setting" % k)
            d[k] = v
        self._check(d)
        for k, v in d.items():
            setattr(self, k, v)
        if self.creep_current is None:
            self.creep_current = 0.5 * self.ist
        if self.creep_power is None:
            self.creep_power = 0.4 * self.un * self.ist
        self.data = d

    def split(self):
        """(legal, settings): the configuration as two dicts, as the store keeps it."""
        legal = {}
        settings = {}
        for k, v in self.data.items():
            if isinstance(v, tuple):
                v = list(v)
            (legal if k in LEGAL else settings)[k] = v
        return legal, settings

    @staticmethod
    def _check(d):
        for k in ("un", "iref", "itr", "imin", "ist", "imax"):
            if not isinstance(d[k], _NUM) or not d[k] > 0:
                raise ValueError("config.%s: must be a positive number" % k)
        if not d["ist"] < d["imin"] < d["itr"] < d["imax"]:
            raise ValueError("config: currents must satisfy ist < imin < itr < imax")
        if d["fn"] not in (50, 60):
            raise ValueError("config.fn: 50 or 60 Hz")
        if d["wiring"] not in ("4w", "aron"):
            raise ValueError("config.wiring: '4w' or 'aron'")
        if d["wiring"] == "aron" and d["phases"] != 3:
            raise ValueError("config.wiring: aron needs a 3-phase profile")
        for k in ("led_imp_kwh", "led_imp_kvarh", "s0_imp_kwh"):
            x = d[k]
            if not isinstance(x, int) or x < 0 or (x and 1000000 % x):
                raise ValueError("config.%s: imp/kWh must divide 1000000 (0 = off)" % k)
        if d["pulse_ms"] not in (30, 80):
            raise ValueError("config.pulse_ms: 30 or 80 ms (code I)")
        if not isinstance(d["cycles"], int) or not 1 <= d["cycles"] <= 100:
            raise ValueError("config.cycles: 1..100 mains cycles per measurement period")
        d["ct"] = _ratio("config.ct", d["ct"], 1, 600)
        d["vt"] = _ratio("config.vt", d["vt"], 1, 1000)
        if d["display"] not in _DISPLAY[d["profile"]]:
            raise ValueError("config.display: one of %s for profile %s (code A)"
                             % ("/".join(_DISPLAY[d["profile"]]), d["profile"]))
        for k, lo, hi in (("gmt", 0, 23), ("dst", 0, 1), ("period", 1, 4),
                          ("billing_day", 0, 28), ("billing_interval", 0, 24),
                          ("billing2", 1, 3), ("dd", 0, 23), ("pulse_in_unit", 0, 3),
                          ("max_demand", 0, 2)):
            _code(d, k, lo, hi)
        if d["max_demand"] and d["profile"] != "162":
            raise ValueError("config.max_demand (K): a 162 code; the 351B has 0 only")
        if d["tariff_control"] not in ("calendar", "inputs", "comms"):
            raise ValueError("config.tariff_control: calendar, inputs or comms")
        from .energy.tariffs import TariffControl

        TariffControl(d["tariff_control"], d["tariff_table"], d["dd"])   # names a bad field
        from .logs.analysis import check as check_analysis

        check_analysis(d["analysis"])
        if d["profile_channels"] not in _CHANNELS[d["profile"]]:
            raise ValueError("config.profile_channels: one of %s for profile %s"
                             % (", ".join(_CHANNELS[d["profile"]]), d["profile"]))
        if not isinstance(d["profile_primary"], bool):
            raise ValueError("config.profile_primary: true (QQ 01) or false (QQ 02)")
        if not isinstance(d["threshold_kw"], _NUM) or d["threshold_kw"] < 0:
            raise ValueError("config.threshold_kw: a number >= 0 (0: off)")
        if not isinstance(d["pulse_in_per_unit"], int) or d["pulse_in_per_unit"] <= 0:
            raise ValueError("config.pulse_in_per_unit: a positive integer")
        if not isinstance(d["verification"], bool):
            raise ValueError("config.verification: true or false")
        x = d["serial"]
        if not isinstance(x, int) or isinstance(x, bool) or not 0 <= x <= 99999999:
            raise ValueError("config.serial: the meter number, an integer 0..99999999")
        if d["optical_mode"] not in ("A", "B", "C"):
            raise ValueError("config.optical_mode: A, B or C")
        if d["optical_baud"] not in (300, 600, 1200, 2400, 4800, 9600, 19200):
            raise ValueError("config.optical_baud: 300, 600, 1200, 2400, 4800, 9600 or 19200")
        if d["optical_mode"] == "B" and d["optical_baud"] == 300:
            raise ValueError("config.optical_baud: mode B switches to 600..19200 baud")
        pw = d["password"]
        if not isinstance(pw, str) or not 1 <= len(pw) <= 16 or not _alnum(pw):
            raise ValueError("config.password: 1..16 letters or digits")
        from .comms.obis import DEPTH, parse

        rl = d["readout_list"]
        if not isinstance(rl, (list, tuple)) or not 1 <= len(rl) <= 64:
            raise ValueError("config.readout_list: a list of 1..64 OBIS codes")
        for k, code in enumerate(rl):
            try:
                parse(code)
            except ValueError as e:
                raise ValueError("config.readout_list[%d]: %s" % (k, e))
        x = d["readout_history"]
        if not isinstance(x, int) or isinstance(x, bool) or not 0 <= x <= DEPTH:
            raise ValueError("config.readout_history: 0..%d billing stops" % DEPTH)
        from .display.lists import check as check_lists

        check_lists(d["display_auto"], d["display_manual"], d["phases"])
        for k in ("creep_current", "creep_power"):
            if d[k] is not None and (not isinstance(d[k], _NUM) or d[k] < 0):
                raise ValueError("config.%s: must be a number >= 0" % k)
        if d["calibration"] is not None:
            from .metrology.calcheck import parse as parse_cal

            parse_cal(d["calibration"], systems(d))

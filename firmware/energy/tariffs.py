"""Tariffs: the tariff calendar, tariff control (calendar, DD inputs, comms), tariff registers.

Up to 8 tariffs (T1..T8). The active tariff picks the A+ and R+ tariff registers
(OBIS 1.8.1..1.8.8, 3.8.1..3.8.8), the LCD tariff indicator and the per-tariff maxima.

Calendar (config["tariff_table"], JSON-able; TariffTable)
    {"days": {"work": [["00:00", 1], ["07:00", 2], ["22:00", 1]],
              "weekend": [["00:00", 1]]},
     "seasons": [{"from": "01-01", "weekday": "work", "saturday": "weekend",
                  "sunday": "weekend"},
                 {"from": "04-01", "weekday": "work", "saturday": "work",
                  "sunday": "weekend", "holiday": "weekend"}],
     "holidays": ["01-01", "12-25", "2026-04-03"]}
    days      day types (1..16 of them, any names): switch points [time, tariff],
              time "HH:MM" local wall clock (00:00..23:59), strictly ascending, the
              first at "00:00"; tariff 1..8, in force from its time until the next
              point (the last one until 24:00). At most 48 points per day.
    seasons   1..12 seasons, "from" "MM-DD" strictly ascending, the first "01-01"; a
              season lasts until the next one starts (the last until 31 Dec). Each
              names the day type of "weekday" (Mon..Fri), "saturday" and "sunday", and
              optionally of "holiday" (default: its "sunday" day type).
    holidays  optional, at most 100: "MM-DD" every year ("02-29" only in leap years) or
              "YYYY-MM-DD" once. A holiday takes the season's holiday day type.
    Unknown keys are refused. Errors are ValueError naming the field, e.g.
    "config.tariff_table.days.work[2]: ...".

    All times are local wall-clock seconds (since 1970-01-01 00:00 local, as
    time/zone.Zone.local gives them): summer time is not the table's business. A
    switch point in the hour skipped in spring takes effect at 03:00 (the wall clock
    never shows it); in the repeated autumn hour the wall clock, and so the tariff,
    goes back and the switch happens twice.

    tariff_at(local)   the tariff in force at local second `local`.
    next_switch(local) the local second of the first tariff change strictly after
                       `local`; if the tariff does not change within HORIZON_DAYS
                       local days, a local midnight at most that far ahead at which
                       nothing changes (ask again from there). Never skips a change.
                       When local time goes back (autumn, clock set), ask again.
    Both do integer arithmetic and set/tuple look-ups only; the profile of the
    current day and the last next_switch answer are cached, so calls within one
    day (one tariff span) allocate nothing beyond the ints themselves.

Tariff control (TariffControl), config "tariff_control" and "dd"
    "calendar"  the TariffTable above (table None: T1 all the time).
    "inputs"    the module inputs I/O1 and I/O2, as the 351B's DD code says (table
                DD_INPUTS below, "Konfigurering 1"). An input is active when it is
                energised (1); the inverted codes count an input active when it is
                not (0). 4-tariff codes: T1 neither active, T2 I/O1, T3 I/O2, T4 both.
                2-tariff codes: T1 input inactive, T2 active; codes 07..10 use I/O1
                (I/O2 is then an alarm input, not a tariff matter), 11/12 I/O1 (I/O2
                is an A+ output), 13/14 I/O2 (I/O1 is the pulse input).
    "comms"     set by communication (set(t)); T1 until the first set().
    The datasheet's "Tariffkontroll" column reads "Modul" for 01, 06 and 07..14 and
    "Kommunikation" for the rest. 06 (R+ out / A+ out) has no input, so no tariff
    input; 02 reads "Kommunikation" but is named "4-tariff inverterad" with both I/O
    as inputs: taken here as the inverted 4-tariff input code.
    A DD code with tariff inputs needs mode "inputs", and mode "inputs" needs such a
    code: anything else is a contradiction and is refused. The 162 datasheet lists
    no DD codes ("Kontakt Kamstrup") but the same modules (008 2-tariff, 018 4-tariff
    230 V); the 351B table is used for both profiles. Its code K (maximum demand per
    tariff) belongs to logs/demand.py.

Tariff registers (TariffRegisters)
    A+ and R+ per tariff in whole mWh (primary), fed with the increments of the total
    registers (EnergyRegisters.inc_primary[A_PLUS], [R_PLUS]) and the active tariff,
    so the tariff registers always sum to what the totals received.
"""

from ..time import civil

MAX_TARIFFS = 8
MAX_DAY_TYPES = 16
MAX_POINTS = 48
MAX_SEASONS = 12
MAX_HOLIDAYS = 100
HORIZON_DAYS = 32

MODES = ("calendar", "inputs", "comms")

# DD code -> (which inputs, inverted): 4 both I/O1 and I/O2 (4 tariffs), 1 I/O1 only,
# 2 I/O2 only (2 tariffs). Codes not listed drive no tariff (00, 03..06, 15..23).
DD_INPUTS = {
    1: (4, False), 2: (4, True),
    7: (1, False), 8: (1, True), 9: (1, False), 10: (1, True),
    11: (1, False), 12: (1, True),
    13: (2, False), 14: (2, True),
}

_SEASON_KEYS = ("from", "weekday", "saturday", "sunday", "holiday")
_TABLE_KEYS = ("days", "seasons", "holidays")
STATE_VERSION = 1


def _is_int(x):
    return isinstance(x, int) and not isinstance(x, bool)


def _digits(s, a, b):
    """int of s[a:b] if those are all ASCII digits, else -1."""
    n = 0
    for k in range(a, b):
        c = ord(s[k]) - 48
        if not 0 <= c <= 9:
            return -1
        n = n * 10 + c
    return n


def _hhmm(s):
    """Second of the day of "HH:MM", or -1."""
    if not isinstance(s, str) or len(s) != 5 or s[2] != ":":
        return -1
    h = _digits(s, 0, 2)
    m = _digits(s, 3, 5)
    if not (0 <= h <= 23 and 0 <= m <= 59):
        return -1
    return h * 3600 + m * 60


def _date(s):
    """(year or 0, month, day) of "MM-DD" or "YYYY-MM-DD", or None if not a real date
    ("MM-DD" may be 02-29; "YYYY-MM-DD" from 1970)."""
    if not isinstance(s, str):
        return None
    if len(s) == 5 and s[2] == "-":
        y = 0
        m = _digits(s, 0, 2)
        d = _digits(s, 3, 5)
    elif len(s) == 10 and s[4] == "-" and s[7] == "-":
        y = _digits(s, 0, 4)
        m = _digits(s, 5, 7)
        d = _digits(s, 8, 10)
        if y < 1970:
            return None
    else:
        return None
    if not 1 <= m <= 12 or not 1 <= d <= civil.days_in_month(y or 2000, m):
        return None
    return y, m, d


class TariffTable:
    """The internal tariff calendar: day types, seasons, holidays (format above)."""

    def __init__(self, cfg, where="config.tariff_table"):
        if not isinstance(cfg, dict):
            raise ValueError("%s: must be an object with days, seasons, holidays" % where)
        for k in cfg:
            if k not in _TABLE_KEYS:
                raise ValueError("%s.%s: unknown key (days, seasons, holidays)" % (where, k))
        names, self._times, self._tariffs = self._parse_days(cfg.get("days"), where + ".days")
        self.day_types = names
        self.max_tariff = max(max(t) for t in self._tariffs)
        self._keys, self._types = self._parse_seasons(cfg.get("seasons"), names,
                                                      where + ".seasons")
        hol = cfg.get("holidays")
        self._fixed, self._once = self._parse_holidays([] if hol is None else hol,
                                                       where + ".holidays")
        self._cday = None      # day of the cached profile
        self._cprof = 0
        self._nfrom = 0        # last next_switch: asked at _nfrom, answered _nto
        self._nto = None

    @staticmethod
    def _parse_days(days, where):
        if not isinstance(days, dict) or not days:
            raise ValueError("%s: must be an object of day types (at least one)" % where)
        if len(days) > MAX_DAY_TYPES:
            raise ValueError("%s: at most %d day types, got %d"
                             % (where, MAX_DAY_TYPES, len(days)))
        for name in days:
            if not isinstance(name, str) or not name:
                raise ValueError("%s: a day type needs a non-empty name, got %r" % (where, name))
        names = sorted(days)
        times = []
        tariffs = []
        for name in names:
            w = "%s.%s" % (where, name)
            pts = days[name]
            if not isinstance(pts, (list, tuple)) or not pts:
                raise ValueError("%s: must be a list of [\"HH:MM\", tariff] switch points"
                                 % w)
            if len(pts) > MAX_POINTS:
                raise ValueError("%s: at most %d switch points, got %d"
                                 % (w, MAX_POINTS, len(pts)))
            ts = []
            tt = []
            for i, p in enumerate(pts):
                wi = "%s[%d]" % (w, i)
                if not isinstance(p, (list, tuple)) or len(p) != 2:
                    raise ValueError("%s: must be [\"HH:MM\", tariff], got %r" % (wi, p))
                s = _hhmm(p[0])
                if s < 0:
                    raise ValueError("%s: time must be \"HH:MM\" 00:00..23:59, got %r"
                                     % (wi, p[0]))
                if i == 0 and s != 0:
                    raise ValueError("%s: the first switch point must be at \"00:00\", "
                                     "got %r" % (wi, p[0]))
                if i and s <= ts[-1]:
                    raise ValueError("%s: switch points must ascend, %r is not after %r"
                                     % (wi, p[0], pts[i - 1][0]))
                t = p[1]
                if not _is_int(t) or not 1 <= t <= MAX_TARIFFS:
                    raise ValueError("%s: tariff must be 1..%d, got %r"
                                     % (wi, MAX_TARIFFS, t))
                ts.append(s)
                tt.append(t)
            times.append(tuple(ts))
            tariffs.append(tuple(tt))
        return tuple(names), tuple(times), tuple(tariffs)

    @staticmethod
    def _parse_seasons(seasons, names, where):
        if not isinstance(seasons, (list, tuple)) or not seasons:
            raise ValueError("%s: must be a list of seasons (at least one)" % where)
        if len(seasons) > MAX_SEASONS:
            raise ValueError("%s: at most %d seasons, got %d"
                             % (where, MAX_SEASONS, len(seasons)))
        keys = []
        types = []
        for i, se in enumerate(seasons):
            w = "%s[%d]" % (where, i)
            if not isinstance(se, dict):
                raise ValueError("%s: must be an object {from, weekday, saturday, sunday}"
                                 % w)
            for k in se:
                if k not in _SEASON_KEYS:
                    raise ValueError("%s.%s: unknown key (from, weekday, saturday, sunday, "
                                     "holiday)" % (w, k))
            d = _date(se.get("from"))
            if d is None or d[0] or (d[1] == 2 and d[2] == 29):
                raise ValueError("%s.from: must be \"MM-DD\" (not 02-29), got %r"
                                 % (w, se.get("from")))
            key = d[1] * 32 + d[2]
            if i == 0 and key != 33:
                raise ValueError("%s.from: the first season must start at \"01-01\", got %r"
                                 % (w, se["from"]))
            if i and key <= keys[-1]:
                raise ValueError("%s.from: seasons must ascend, %r is not after %r"
                                 % (w, se["from"], seasons[i - 1]["from"]))
            ix = []
            for k in ("weekday", "saturday", "sunday", "holiday"):
                if k not in se:
                    if k == "holiday":
                        ix.append(ix[2])
                        continue
                    raise ValueError("%s.%s: missing (a day type name)" % (w, k))
                n = se[k]
                if n not in names:
                    raise ValueError("%s.%s: unknown day type %r (have %s)"
                                     % (w, k, n, ", ".join(names)))
                ix.append(names.index(n))
            keys.append(key)
            types.append(tuple(ix))
        return tuple(keys), tuple(types)

    @staticmethod
    def _parse_holidays(hol, where):
        if not isinstance(hol, (list, tuple)):
            raise ValueError("%s: must be a list of \"MM-DD\" / \"YYYY-MM-DD\"" % where)
        if len(hol) > MAX_HOLIDAYS:
            raise ValueError("%s: at most %d holidays, got %d" % (where, MAX_HOLIDAYS, len(hol)))
        fixed = set()
        once = set()
        for i, h in enumerate(hol):
            d = _date(h)
            if d is None:
                raise ValueError("%s[%d]: must be a date \"MM-DD\" (every year) or "
                                 "\"YYYY-MM-DD\" (once, from 1970), got %r" % (where, i, h))
            if d[0]:
                once.add(civil.days_from_civil(d[0], d[1], d[2]))
            else:
                fixed.add(d[1] * 32 + d[2])
        return fixed, once

    def _profile(self, days):
        """Index of the day type in force on local day `days` (since 1970-01-01)."""
        m, d = civil.civil_from_days(days)[1:]
        key = m * 32 + d
        keys = self._keys
        i = len(keys) - 1
        while keys[i] > key:
            i -= 1
        types = self._types[i]
        if key in self._fixed or days in self._once:
            return types[3]
        wd = civil.weekday(days)
        return types[0] if wd <= 5 else types[wd - 5]

    def day_type(self, local):
        """Name of the day type in force at local second `local`."""
        return self.day_types[self._profile(local // 86400)]

    def tariff_at(self, local):
        """Tariff 1..8 in force at local wall-clock second `local`."""
        days = local // 86400
        if days != self._cday:
            self._cprof = self._profile(days)
            self._cday = days
        sec = local - days * 86400
        times = self._times[self._cprof]
        j = len(times) - 1
        while times[j] > sec:
            j -= 1
        return self._tariffs[self._cprof][j]

    def next_switch(self, local):
        """Local second of the first tariff change strictly after `local` (or, with no
        change within HORIZON_DAYS days, the local midnight ending the look-ahead)."""
        if self._nto is not None and self._nfrom <= local < self._nto:
            return self._nto
        cur = self.tariff_at(local)
        days = local // 86400
        sec = local - days * 86400
        p = self._cprof
        nxt = None
        for k in range(HORIZON_DAYS + 1):
            if k:
                p = self._profile(days + k)
            times = self._times[p]
            tariffs = self._tariffs[p]
            for j in range(len(times)):
                if tariffs[j] != cur and (k or times[j] > sec):
                    nxt = (days + k) * 86400 + times[j]
                    break
            if nxt is not None:
                break
        if nxt is None:
            nxt = (days + HORIZON_DAYS + 1) * 86400
        self._nfrom = local
        self._nto = nxt
        return nxt


class TariffControl:
    """Which tariff is active: calendar, tariff inputs (DD code) or communication."""

    def __init__(self, mode, table=None, dd=0, n_tariffs=8):
        if not _is_int(n_tariffs) or not 1 <= n_tariffs <= MAX_TARIFFS:
            raise ValueError("config.n_tariffs: 1..%d, got %r" % (MAX_TARIFFS, n_tariffs))
        if mode not in MODES:
            raise ValueError("config.tariff_control: calendar, inputs or comms, got %r"
                             % (mode,))
        if not _is_int(dd) or not 0 <= dd <= 23:
            raise ValueError("config.dd (DD): an integer code 00..23, got %r" % (dd,))
        inp = DD_INPUTS.get(dd)
        if mode == "inputs" and inp is None:
            raise ValueError("config.dd (DD): code %02d has no tariff inputs (its tariff "
                             "comes from communication); tariff_control 'inputs' needs DD "
                             "01, 02 or 07..14" % dd)
        if mode != "inputs" and inp is not None:
            raise ValueError("config.dd (DD): code %02d wires the tariff to the inputs, but "
                             "tariff_control is %r (use 'inputs')" % (dd, mode))
        if inp is not None and (4 if inp[0] == 4 else 2) > n_tariffs:
            raise ValueError("config.dd (DD): code %02d switches %d tariffs, the meter has "
                             "%d" % (dd, 4 if inp[0] == 4 else 2, n_tariffs))
        if mode == "calendar" and table is not None:
            if isinstance(table, dict):
                table = TariffTable(table)
            elif not isinstance(table, TariffTable):
                raise ValueError("config.tariff_table: a tariff table object or null")
            if table.max_tariff > n_tariffs:
                raise ValueError("config.tariff_table: uses tariff %d, the meter has %d"
                                 % (table.max_tariff, n_tariffs))
        self.mode = mode
        self.table = table if mode == "calendar" else None
        self.dd = dd
        self.n = n_tariffs
        self._which = inp[0] if inp else 0
        self._inv = 1 if inp and inp[1] else 0
        self._comms = 1

    def set(self, t):
        """Tariff set by communication (mode "comms" only)."""
        if self.mode != "comms":
            raise ValueError("tariff: set by %s, not by communication" % self.mode)
        if not _is_int(t) or not 1 <= t <= self.n:
            raise ValueError("tariff: 1..%d, got %r" % (self.n, t))
        self._comms = t

    def active(self, local, inputs=(0, 0)):
        """Active tariff 1..n at local second `local` with input levels (I/O1, I/O2)
        (1 energised, 0 not; only read in mode "inputs")."""
        if self.mode == "calendar":
            return self.table.tariff_at(local) if self.table is not None else 1
        if self.mode == "comms":
            return self._comms
        a = (1 if inputs[0] else 0) ^ self._inv
        b = (1 if inputs[1] else 0) ^ self._inv
        w = self._which
        if w == 4:
            return 1 + a + 2 * b
        return 1 + (a if w == 1 else b)

    def next_switch(self, local):
        """Local second of the next calendar tariff change (see TariffTable), or None
        when the tariff is not driven by the calendar (inputs, comms, no table)."""
        if self.table is None:
            return None
        return self.table.next_switch(local)


class TariffRegisters:
    """A+ and R+ per tariff, whole mWh (primary): a_plus[t - 1], r_plus[t - 1]."""

    def __init__(self, n=8):
        if not _is_int(n) or not 1 <= n <= MAX_TARIFFS:
            raise ValueError("tariff registers: 1..%d tariffs, got %r" % (MAX_TARIFFS, n))
        self.n = n
        self.a_plus = [0] * n
        self.r_plus = [0] * n

    def add(self, tariff, inc_a_plus_mwh, inc_r_plus_mwh):
        """Add one measurement period's whole-mWh increments to the registers of
        `tariff` (1..n)."""
        if not 1 <= tariff <= self.n:
            raise ValueError("tariff registers: tariff 1..%d, got %r" % (self.n, tariff))
        if inc_a_plus_mwh < 0 or inc_r_plus_mwh < 0:
            raise ValueError("tariff registers: increments must be >= 0, got %r, %r"
                             % (inc_a_plus_mwh, inc_r_plus_mwh))
        self.a_plus[tariff - 1] += inc_a_plus_mwh
        self.r_plus[tariff - 1] += inc_r_plus_mwh

    def state(self):
        """(version, n, A+ T1..Tn, R+ T1..Tn) as ints >= 0."""
        return (STATE_VERSION, self.n) + tuple(self.a_plus) + tuple(self.r_plus)

    def restore(self, st):
        """Resume from state(); if invalid: ValueError naming the field, nothing changed."""
        try:
            k = len(st)
        except TypeError:
            raise ValueError("tariff registers state: must be a sequence of ints") from None
        n = self.n
        if k != 2 + 2 * n:
            raise ValueError("tariff registers state: %d fields, expected %d for %d tariffs"
                             % (k, 2 + 2 * n, n))
        for i in range(k):
            v = st[i]
            if not _is_int(v) or v < 0:
                if i < 2:
                    f = ("version", "tariffs")[i]
                else:
                    f = "%s T%d" % ("A+" if i < 2 + n else "R+", (i - 2) % n + 1)
                raise ValueError("tariff registers state[%d] (%s): an int >= 0, got %r"
                                 % (i, f, v))
        if st[0] != STATE_VERSION:
            raise ValueError("tariff registers state[0] (version): %d, expected %d"
                             % (st[0], STATE_VERSION))
        if st[1] != n:
            raise ValueError("tariff registers state[1] (tariffs): %d, this meter has %d"
                             % (st[1], n))
        self.a_plus[:] = st[2:2 + n]
        self.r_plus[:] = st[2 + n:2 + 2 * n]

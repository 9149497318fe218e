"""Billing loggers on the record store: the values frozen at each billing stop; logger 2 (code U).

Billing logger (debiteringslogger, area "billing"): one snapshot per billing
stop (schedule GG/HH, the external input or a command), the newest DEPTH = 36
readable (IEC 62056-21 readout suffix *01..*36: get(1) is the last stop).
Billing logger 2 (area "billing2") is the same class; the meter freezes it at
00:00 local of every day, ISO week (Monday) or month, per code U (u_period, due).

FIELDS: the 351B datasheet list in its order, then flags. Energies are primary
whole Wh, powers whole W (mean over an integration period), times UTC seconds
(0: no maximum yet), ct_primary/ct_secondary the CT ratio in force at the stop.

Snapshot = ONE record of kind 1, payload = unsigned varints (storage/codec.py):
    VERSION, flags, then FIELDS[:-1] in order (33 numbers)
Worst case (energies and pulse register 10**11, powers 10**10, accumulated maxima
10**11, times 2**32-1, counters and CT ratio 10**6): 172 bytes <= 246 (the
256-byte slot); see WORST and host_tests/test_logs.py.
"""

from ..storage.codec import pack_uints, unpack_uints
from ..time import civil

VERSION = 1
KIND = 1
DEPTH = 36

# flags
LATE = 1        # done late, at power-up: a power failure spanned the stop time
EXTERNAL = 2    # stop by the external input or a command (not the schedule)
FLAGS_ALL = 3

FIELDS = (
    "time",             # date and time of the stop
    "hours",            # hour counter (h)
    "stops",            # billing-stop counter
    "threshold_count",  # power-threshold counter
    "pulse_input",      # pulse-input register
    "ct_primary", "ct_secondary",
    "a_plus", "a_minus", "r_plus", "r_minus",
    "a_plus_t1", "a_plus_t2", "a_plus_t3", "a_plus_t4",
    "r_plus_t1", "r_plus_t2", "r_plus_t3", "r_plus_t4",
    "pmax", "pmax_time", "qmax", "qmax_time",
    "pmax_t1", "pmax_t1_time", "pmax_t2", "pmax_t2_time",
    "qmax_t1", "qmax_t1_time", "qmax_t2", "qmax_t2_time",
    "pmax_acc", "qmax_acc",
    "flags",
)

_U32 = 0xFFFFFFFF

U_PERIODS = {1: "day", 2: "week", 3: "month"}


def _check(name, v):
    if not isinstance(v, int) or v < 0:
        raise ValueError("billing %s: an int >= 0, got %r" % (name, v))
    if name == "flags":
        if v & ~FLAGS_ALL:
            raise ValueError("billing flags: bits of %d, got %r" % (FLAGS_ALL, v))
    elif (name == "time" or name.endswith("_time")) and v > _U32:
        raise ValueError("billing %s: UTC seconds 0..2**32-1, got %r" % (name, v))


def encode(values):
    """Payload of one snapshot from a dict with every field of FIELDS (flags may be
    left out: 0); ValueError names a missing, unknown or bad field."""
    for k in values:
        if k not in FIELDS:
            raise ValueError("billing: unknown field %r" % (k,))
    out = [VERSION, values.get("flags", 0)]
    for name in FIELDS:
        if name == "flags":
            v = out[1]
        else:
            try:
                v = values[name]
            except KeyError:
                raise ValueError("billing %s: missing" % name) from None
            out.append(v)
        _check(name, v)
    return pack_uints(out)


def decode(payload):
    """Dict of the fields of a snapshot payload; ValueError if malformed."""
    v = unpack_uints(payload)
    if not v or v[0] != VERSION:
        raise ValueError("billing snapshot: format version %r, expected %d"
                         % (v[0] if v else None, VERSION))
    if len(v) != len(FIELDS) + 1:
        raise ValueError("billing snapshot: %d values, expected %d" % (len(v), len(FIELDS) + 1))
    d = {"flags": v[1]}
    for i in range(len(FIELDS) - 1):
        d[FIELDS[i]] = v[i + 2]
    return d


def worst():
    """The largest snapshot the meter can make (see the module doc)."""
    d = {}
    for name in FIELDS:
        if name == "flags":
            d[name] = FLAGS_ALL
        elif name == "time" or name.endswith("_time"):
            d[name] = _U32
        elif name in ("hours", "stops", "threshold_count", "ct_primary", "ct_secondary"):
            d[name] = 10 ** 6
        elif name.startswith("pmax") or name.startswith("qmax"):
            d[name] = 10 ** 11 if name.endswith("_acc") else 10 ** 10
        else:
            d[name] = 10 ** 11
    return d


def from_demand(stop, utc_of=None):
    """The maxima fields (and threshold_count) of Demand.billing_stop()'s tuple: mW to
    whole W, local end times to UTC through utc_of(local) (None: kept as given)."""
    pmax, pt, qmax, qt, tmax, pacc, qacc, over = stop

    def t(x):
        return x if utc_of is None or x == 0 else utc_of(x)

    d = {"pmax": pmax // 1000, "pmax_time": t(pt), "qmax": qmax // 1000, "qmax_time": t(qt),
         "pmax_acc": pacc // 1000, "qmax_acc": qacc // 1000, "threshold_count": over}
    for i in (1, 2):
        m = tmax[i - 1] if i <= len(tmax) else (0, 0, 0, 0)
        s = "_t%d" % i
        d["pmax" + s] = m[0] // 1000
        d["pmax" + s + "_time"] = t(m[1])
        d["qmax" + s] = m[2] // 1000
        d["qmax" + s + "_time"] = t(m[3])
    return d


class BillingLogger:
    def __init__(self, store, area="billing", depth=DEPTH):
        self.area = store.area(area)
        self.name = area
        if not isinstance(depth, int) or depth < 1:
            raise ValueError("billing depth: an int >= 1, got %r" % (depth,))
        if self.area.depth() < depth:
            raise ValueError("billing: area %s holds %d snapshots, need %d"
                             % (area, self.area.depth(), depth))
        self.depth = depth

    def freeze(self, values):
        """Store one snapshot (dict of FIELDS); returns its sequence number (durable
        when it returns). ValueError names a missing or bad field."""
        p = encode(values)
        if len(p) > self.area.capacity:
            raise ValueError("billing: snapshot of %d bytes > %d" % (len(p), self.area.capacity))
        return self.area.append(KIND, p)

    def _newest(self):
        t = self.area.top.get(KIND)
        return 0 if t is None else t[0]

    def _after(self):
        n = self._newest()
        return n - self.depth if n > self.depth else 0

    def snapshots(self):
        """The readable snapshots (the newest `depth`) as dicts, oldest first (a
        generator: one dict at a time)."""
        for _q, p in self.area.iter(KIND, self._after()):
            yield decode(p)

    @property
    def count(self):
        """Snapshots readable now (0..depth)."""
        n = 0
        for _x in self.area.iter(KIND, self._after()):
            n += 1
        return n

    def get(self, n):
        """The snapshot of the n-th newest stop (1: the last) as a dict; None when that
        stop is not held (fewer stops so far, or its record was lost)."""
        if not isinstance(n, int) or not 1 <= n <= self.depth:
            raise ValueError("billing n: 1..%d, got %r" % (self.depth, n))
        want = self._newest() - (n - 1)
        if want < 1:
            return None
        for q, p in self.area.iter(KIND, want - 1):
            if q == want:
                return decode(p)
            break
        return None


def u_period(u):
    """"day", "week" or "month" of config code U (billing logger 2) 1..3."""
    if not isinstance(u, int) or u not in U_PERIODS:
        raise ValueError("config.billing2 (U): 1 day, 2 week, 3 month, got %r" % (u,))
    return U_PERIODS[u]


def _index(local, period):
    """Number of the day, ISO week or month containing local second `local` (it changes
    exactly at 00:00 local of a day, a Monday, the 1st of a month)."""
    d = local // 86400
    if period == "day":
        return d
    if period == "week":
        return (d + 3) // 7       # 1970-01-01 was a Thursday: +3 puts Mondays on multiples
    y, m, _ = civil.civil_from_days(d)
    return y * 12 + m


def due(prev_local, local, u):
    """True when 00:00 local of a new day / ISO week / month (code U) lies in
    (prev_local, local]: the billing logger 2 snapshot is due. False when the clock
    went back or did not move."""
    period = u_period(u)
    for name, v in (("prev_local", prev_local), ("local", local)):
        if not isinstance(v, int) or v < 0:
            raise ValueError("billing2 %s: local seconds >= 0, got %r" % (name, v))
    if local <= prev_local:
        return False
    return _index(local, period) != _index(prev_local, period)

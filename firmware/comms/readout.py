"""IEC 62056-21 data sets from the catalogue: readout lines, R1 answers, the load profile.

Every line is built from comms/obis.py (the same table as the display), by the same
value-field rule (display/field.py), without the display's width limit:
    1.8.0(0012345.6*kWh)          energy (A code decimals, register digits)
    1.6.0(0003.456*kW)(2611261215) a maximum with its time stamp (local YYMMDDhhmm)
    0.9.1(121314) 0.9.2(261126)   local time hhmmss and date YYMMDD
    1.8.0*01(0012000.0*kWh)       the value at the last billing stop (*01..*36)
    F.F.0(00000000)               status register
Values never hold ( ) / ! (the standard's reserved characters).

The load profile ("P.01", answered to R5/R6 with a time range) is one header line per
run of entries with the same status and back-to-back times, then one line of values
per entry:
    P.01(2611260015)(00)(15)(2)(1.29.0)(kWh)(2.29.0)(kWh)
    (0.123)(0.000)
header: local time of the END of the first interval of the run, status (hex, bits of
logs/profile.py), interval in minutes, channel count, then code and unit per channel
(x.29.0: energy of the interval, kWh with 3 decimals = whole Wh).
All functions are generators of text lines (without CR LF) so a long answer streams.
"""

from ..display import field
from ..display.field import two
from ..time import civil
from . import obis

_PROFILE_CODES = {"A+": "1.29.0", "A-": "2.29.0", "R+": "3.29.0", "R-": "4.29.0",
                  "R1": "5.29.0"}
_PROFILE_UNITS = {"A+": "kWh", "A-": "kWh", "R+": "kvarh", "R-": "kvarh", "R1": "kvarh"}


def stamp(local):
    """YYMMDDhhmm of a local epoch second."""
    y, mo, d, hh, mi, _s = civil.split(local)
    return two(y % 100) + two(mo) + two(d) + two(hh) + two(mi)


def parse_stamp(text):
    """Local epoch seconds of YYMMDDhhmm (or YYMMDDhhmmss); ValueError if malformed."""
    if len(text) not in (10, 12) or not text.isdigit():
        raise ValueError("time stamp: YYMMDDhhmm, got %r" % (text,))
    y, mo, d, hh, mi = (int(text[k:k + 2]) for k in range(0, 10, 2))
    ss = int(text[10:12]) if len(text) == 12 else 0
    if not (1 <= mo <= 12 and 1 <= d <= civil.days_in_month(2000 + y, mo) and hh < 24
            and mi < 60 and ss < 60):
        raise ValueError("time stamp: no such date or time %r" % (text,))
    return civil.seconds(2000 + y, mo, d, hh, mi, ss)


def value_text(r):
    """'0012345.6*kWh' for a Reading (obis.Reading); None value -> ''."""
    if r.value is None:
        return ""
    if r.kind == obis.DATE or r.kind == obis.TIME:
        y, mo, d, hh, mi, ss = civil.split(r.value)
        if r.kind == obis.DATE:
            return two(y % 100) + two(mo) + two(d)
        return two(hh) + two(mi) + two(ss)
    t = field.plain(r.value, r.scale, r.decimals, 24, r.wrap, r.pad)
    return t + "*" + r.unit if r.unit else t


def data_set(cat, code, zone, snapshot=None):
    """One readout line for `code` (may raise ValueError for an unknown code)."""
    r = cat.read(code, snapshot)
    line = "%s(%s)" % (code, value_text(r))
    if r.when is not None:
        line += "(%s)" % (stamp(zone.local(r.when)) if r.when else "0000000000")
    return line


def readout(meter, codes, history):
    """The data readout lines: each code of the readout list, then for each code that
    has historical values, the last `history` billing stops held (*01 newest first)."""
    cat = meter.display.cat
    zone = meter.logbook.zone
    for code in codes:
        try:
            yield data_set(cat, code, zone)
        except ValueError:
            continue            # a code this meter does not have (checked in config)
    bl = meter.logbook.billing
    if bl is None or not history:
        return
    for n in range(1, history + 1):
        snap = bl.get(n)
        if snap is None:
            break
        for code in codes:
            if "*" in code:
                continue
            row, _n = obis.parse(code)
            if row[7] is None:
                continue
            yield data_set(cat, "%s*%s" % (code, two(n)), zone, snap)


def profile(meter, local_from=None, local_to=None):
    """The load-profile lines (see the module doc) for entries whose interval end in
    local time lies in [local_from, local_to] (None: open)."""
    lp = meter.logbook.profile
    if lp is None:
        return
    zone = meter.logbook.zone
    names = lp.names()
    head_tail = "(%d)(%d)" % (lp.period // 60, len(names))
    for nm in names:
        head_tail += "(%s)(%s)" % (_PROFILE_CODES[nm], _PROFILE_UNITS[nm])
    prev_t = None
    prev_s = None
    for utc_end, status, values in lp.entries():
        loc = zone.local(utc_end)
        if (local_from is not None and loc < local_from) or \
                (local_to is not None and loc > local_to):
            continue
        if prev_t is None or utc_end != prev_t + lp.period or status != prev_s:
            yield "P.01(%s)(%s)%s" % (stamp(loc), ("0" + "%X" % status)[-2:], head_tail)
        prev_t = utc_end
        prev_s = status
        line = ""
        for v in values:
            line += "(%d.%s)" % (v // 1000, ("00" + str(v % 1000))[-3:])
        yield line

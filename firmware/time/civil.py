"""Civil calendar in integers: UTC seconds <-> date and time, weekday (proleptic Gregorian).

No floats and no `time` module: the same answers on the RP2040, the unix port
and CPython, for any date from 1970 on. Days are counted from 1970-01-01.
"""


def days_from_civil(y, m, d):
    """Days since 1970-01-01 of the date y-m-d."""
    if m <= 2:
        y -= 1
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    mp = (m + 9) % 12
    doy = (153 * mp + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def civil_from_days(z):
    """(year, month, day) of day z since 1970-01-01."""
    z += 719468
    era = (z if z >= 0 else z - 146096) // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return (y + 1 if m <= 2 else y), m, d


def is_leap(y):
    return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)


def days_in_month(y, m):
    if m == 2:
        return 29 if is_leap(y) else 28
    return 30 if m in (4, 6, 9, 11) else 31


def weekday(days):
    """ISO weekday of day `days` since 1970-01-01: 1 Monday .. 7 Sunday (1970-01-01 is a
    Thursday)."""
    return (days + 3) % 7 + 1


def seconds(y, m, d, hh=0, mm=0, ss=0):
    """Seconds since 1970-01-01 00:00 of the given date and time (any zone's wall clock)."""
    return days_from_civil(y, m, d) * 86400 + hh * 3600 + mm * 60 + ss


def split(t):
    """(year, month, day, hour, minute, second) of seconds t since 1970-01-01 00:00."""
    days, s = divmod(t, 86400)
    y, m, d = civil_from_days(days)
    return y, m, d, s // 3600, s // 60 % 60, s % 60


def last_sunday(y, m):
    """Day of month of the last Sunday of month m of year y."""
    n = days_in_month(y, m)
    return n - weekday(days_from_civil(y, m, n)) % 7

"""Clock schedules from the configuration codes: integration period (E), billing stops (GG, HH).

E   1..4: integration (demand and load-profile) period 5, 15, 30, 60 min, aligned to
    the clock (periods end at whole multiples of the period in local time).
GG  00: billing stop external (input or command); 01..28: day of the month, at 00:00
    local time.
HH  00: none (external); 01 every month; 02/03 every 2nd month from January/February;
    04..06 every 3rd month from January..March; 07..12 every half year from
    January..June; 13..24 every year in January..December.
All times here are local wall-clock seconds (zone.Zone.local gives them).
"""

from . import civil

E_PERIODS = {1: 300, 2: 900, 3: 1800, 4: 3600}


def period_s(e):
    try:
        return E_PERIODS[e]
    except (KeyError, TypeError):
        raise ValueError("config.period (E): 1..4 (5, 15, 30, 60 min), got %r" % (e,)) from None


def hh_rule(hh):
    """(months between stops, first month) of HH code 01..24; None for 00 (external)."""
    if not isinstance(hh, int) or not 0 <= hh <= 24:
        raise ValueError("config.billing_interval (HH): 00..24, got %r" % (hh,))
    if hh == 0:
        return None
    if hh == 1:
        return 1, 1
    if hh <= 3:
        return 2, hh - 1
    if hh <= 6:
        return 3, hh - 3
    if hh <= 12:
        return 6, hh - 6
    return 12, hh - 12


def check_gg(gg):
    if not isinstance(gg, int) or not 0 <= gg <= 28:
        raise ValueError("config.billing_day (GG): 00 (external) or 01..28, got %r" % (gg,))
    return gg


def is_stop_month(hh, m):
    rule = hh_rule(hh)
    return rule is not None and (m - rule[1]) % rule[0] == 0


def next_stop(local, gg, hh):
    """Local seconds of the first billing stop strictly after `local`, or None when
    stops are external (GG 00 or HH 00)."""
    check_gg(gg)
    if gg == 0 or hh_rule(hh) is None:
        return None
    y, m = civil.split(local)[:2]
    for _ in range(14):
        if is_stop_month(hh, m):
            t = civil.seconds(y, m, gg)
            if t > local:
                return t
        m += 1
        if m > 12:
            m = 1
            y += 1
    raise ValueError("billing schedule: no stop within a year")  # pragma: no cover


def period_end(local, period):
    """Local seconds of the end of the integration period that contains `local` (a
    period is (end - period, end])."""
    return local - local % period + (period if local % period else 0)

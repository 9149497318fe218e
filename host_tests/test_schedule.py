"""Billing stops (GG, HH) and integration periods (E) against a brute-force walk of the
calendar with Python's datetime."""

import datetime

import pytest

from mpmeter.time import civil, schedule

HH_MONTHS = {1: range(1, 13), 2: (1, 3, 5, 7, 9, 11), 3: (2, 4, 6, 8, 10, 12),
             4: (1, 4, 7, 10), 5: (2, 5, 8, 11), 6: (3, 6, 9, 12)}
for _k in range(7, 13):
    HH_MONTHS[_k] = (_k - 6, _k)
for _k in range(13, 25):
    HH_MONTHS[_k] = (_k - 12,)


def brute_next(local, gg, hh):
    """Walk day by day from `local` (datetime, naive local) to the next stop."""
    d = local.date()
    for _ in range(800):
        if d.day == gg and d.month in HH_MONTHS[hh]:
            t = datetime.datetime(d.year, d.month, d.day)
            if t > local:
                return t
        d += datetime.timedelta(days=1)
    raise AssertionError


def to_s(dt):
    return civil.seconds(dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second)


@pytest.mark.parametrize("hh", range(1, 25))
def test_every_hh_code_and_stop_day_against_the_calendar(hh):
    starts = [datetime.datetime(2023, 12, 31, 23, 59, 59), datetime.datetime(2024, 2, 28, 12),
              datetime.datetime(2024, 2, 29, 0, 0, 0), datetime.datetime(2025, 6, 30)]
    for gg in range(1, 29):                  # every stop day
        for s in starts:
            t = s
            for _ in range(6):            # six stops in a row from each start
                want = brute_next(t, gg, hh)
                got = schedule.next_stop(to_s(t), gg, hh)
                assert got == to_s(want), (hh, gg, t)
                t = want


def test_hh_table_matches_the_datasheet_wording():
    assert schedule.hh_rule(1) == (1, 1)
    assert schedule.hh_rule(3) == (2, 2)              # every 2nd month, February
    assert schedule.hh_rule(6) == (3, 3)              # every 3rd month, March
    assert schedule.hh_rule(12) == (6, 6)             # every half year, June
    assert schedule.hh_rule(24) == (12, 12)           # every year, December
    assert schedule.hh_rule(0) is None


def test_external_stops_and_bad_codes():
    assert schedule.next_stop(0, 0, 1) is None
    assert schedule.next_stop(0, 5, 0) is None
    for bad in (29, -1, "1"):
        with pytest.raises(ValueError, match="GG"):
            schedule.next_stop(0, bad, 1)
    with pytest.raises(ValueError, match="HH"):
        schedule.hh_rule(25)
    with pytest.raises(ValueError, match="E"):
        schedule.period_s(5)


def test_integration_periods_are_aligned_to_the_clock():
    assert [schedule.period_s(e) for e in (1, 2, 3, 4)] == [300, 900, 1800, 3600]
    t = civil.seconds(2026, 3, 1, 10, 7, 30)
    assert schedule.period_end(t, 900) == civil.seconds(2026, 3, 1, 10, 15)
    assert schedule.period_end(civil.seconds(2026, 3, 1, 10, 15), 900) == \
        civil.seconds(2026, 3, 1, 10, 15)              # (end - period, end]
    assert schedule.period_end(civil.seconds(2026, 12, 31, 23, 59, 1), 3600) == \
        civil.seconds(2027, 1, 1)

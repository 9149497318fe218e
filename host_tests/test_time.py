"""Meter time: the integer calendar and the LL/PPP zone against Python's datetime and the
IANA time zone database (zoneinfo), an implementation nobody here wrote."""

import datetime
import random
import zoneinfo

import pytest

from mpmeter.time import civil, zone

UTC = datetime.timezone.utc


def test_calendar_matches_datetime_every_day_1970_to_2200():
    d0 = datetime.date(1970, 1, 1)
    for n in range(0, 84000):
        d = d0 + datetime.timedelta(days=n)
        assert civil.civil_from_days(n) == (d.year, d.month, d.day)
        assert civil.days_from_civil(d.year, d.month, d.day) == n
        assert civil.weekday(n) == d.isoweekday()


def test_split_and_seconds_round_trip():
    rnd = random.Random(3)
    for _ in range(20000):
        t = rnd.randrange(0, 2 ** 32)
        dt = datetime.datetime.fromtimestamp(t, UTC)
        assert civil.split(t) == (dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second)
        assert civil.seconds(*civil.split(t)) == t


def test_month_lengths_and_leap_years():
    for y in (1900, 2000, 2024, 2025, 2100):
        for m in range(1, 13):
            nxt = datetime.date(y + (m == 12), m % 12 + 1, 1)
            assert civil.days_in_month(y, m) == (nxt - datetime.date(y, m, 1)).days
    assert civil.last_sunday(2026, 3) == 29 and civil.last_sunday(2026, 10) == 25


@pytest.mark.parametrize("ll,tz", [(0, "Europe/London"), (1, "Europe/Copenhagen"),
                                   (1, "Europe/Stockholm"), (2, "Europe/Helsinki")])
def test_eu_summer_time_matches_the_tz_database(ll, tz):
    z = zone.Zone(ll, zone.DST_EU)
    ref = zoneinfo.ZoneInfo(tz)
    for y in range(1997, 2038):
        for utc_change in zone.eu_changes(y):
            for t in range(utc_change - 7200, utc_change + 7200, 600):
                off = datetime.datetime.fromtimestamp(t, ref).utcoffset().total_seconds()
                assert z.offset(t) == off, (tz, t)
    rnd = random.Random(ll)
    for _ in range(5000):
        t = rnd.randrange(datetime.datetime(1997, 1, 1, tzinfo=UTC).timestamp().__int__(),
                          2 ** 31 - 1)
        off = datetime.datetime.fromtimestamp(t, ref).utcoffset().total_seconds()
        assert z.offset(t) == off, (tz, t)


def test_ll_codes_and_no_summer_time():
    assert [zone.ll_offset(c) // 3600 for c in range(24)] == list(range(13)) + list(
        range(-11, 0))
    z = zone.Zone(20, zone.DST_NONE)                  # GMT-4, no summer time
    t = civil.seconds(2026, 7, 1, 12)
    assert z.local(t) == t - 4 * 3600 and not z.summer(t)
    with pytest.raises(ValueError, match="LL"):
        zone.Zone(24)
    with pytest.raises(ValueError, match="PPP"):
        zone.Zone(1, 2)


def test_local_to_utc_in_the_changes():
    z = zone.Zone(1, zone.DST_EU)
    # spring 2026: 02:00 local -> 03:00 local at 01:00 UTC on 29 March
    assert z.utc(civil.seconds(2026, 3, 29, 1, 59, 59)) == civil.seconds(2026, 3, 29, 0, 59, 59)
    assert z.utc(civil.seconds(2026, 3, 29, 3)) == civil.seconds(2026, 3, 29, 1)
    assert z.utc(civil.seconds(2026, 3, 29, 2, 30)) == civil.seconds(2026, 3, 29, 1, 30)
    # autumn 2026: 02:00-03:00 local happens twice (25 October)
    t = civil.seconds(2026, 10, 25, 2, 30)
    assert z.utc(t) == civil.seconds(2026, 10, 25, 0, 30)
    assert z.utc(t, later=True) == civil.seconds(2026, 10, 25, 1, 30)
    repeated = 0
    for u in range(civil.seconds(2026, 1, 1), civil.seconds(2027, 1, 1), 600):
        first, second = z.utc(z.local(u)), z.utc(z.local(u), later=True)
        assert u in (first, second)
        repeated += first != second
    assert repeated == 12                 # the autumn hour, seen twice, in 10-min steps

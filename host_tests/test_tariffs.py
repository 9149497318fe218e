"""Tariffs: the calendar against a brute-force evaluation with Python's datetime, DD input
codes against the 351B datasheet's table, bad tables refused by field, tariff registers."""

import bisect
import copy
import datetime
import random
import zoneinfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mpmeter.energy import tariffs
from mpmeter.energy.registers import A_PLUS, R_PLUS, EnergyRegisters
from mpmeter.energy.tariffs import TariffControl, TariffRegisters, TariffTable
from mpmeter.time import zone

EPOCH = datetime.datetime(1970, 1, 1)
MINUTE = datetime.timedelta(minutes=1)

# three seasons (the second starts after 29 Feb), five day types, fixed and one-off
# holidays (29 Feb fixed: only in leap years), a redundant switch point and a change at 23:59
TABLE = {
    "days": {
        "winter_work": [["00:00", 1], ["06:00", 2], ["11:30", 3], ["13:00", 2], ["22:00", 1]],
        "summer_work": [["00:00", 1], ["07:00", 2], ["21:00", 1]],
        "sat": [["00:00", 1], ["09:00", 4], ["13:00", 1]],
        "rest": [["00:00", 5]],
        "odd": [["00:00", 1], ["08:00", 1], ["23:59", 2]],
    },
    "seasons": [
        {"from": "01-01", "weekday": "winter_work", "saturday": "sat", "sunday": "rest"},
        {"from": "03-01", "weekday": "summer_work", "saturday": "sat", "sunday": "rest",
         "holiday": "odd"},
        {"from": "10-27", "weekday": "winter_work", "saturday": "summer_work",
         "sunday": "rest"},
    ],
    "holidays": ["01-01", "02-29", "12-25", "12-26", "2024-05-09", "2023-05-18",
                 "2024-03-29", "2025-06-06"],
}


def local_of(dt):
    """Local wall-clock seconds of a naive datetime (independent of mpmeter.time.civil)."""
    return int((dt - EPOCH).total_seconds())


def ref_day(cfg, date):
    """Switch points of the day type in force on `date`, straight from the config."""
    md = date.strftime("%m-%d")
    season = [s for s in cfg["seasons"] if s["from"] <= md][-1]
    hol = cfg.get("holidays", [])
    if md in hol or date.strftime("%Y-%m-%d") in hol:
        name = season.get("holiday", season["sunday"])
    else:
        name = season[{6: "saturday", 7: "sunday"}.get(date.isoweekday(), "weekday")]
    return cfg["days"][name]


def ref_tariff(cfg, dt):
    hm = dt.strftime("%H:%M")
    return [t for s, t in ref_day(cfg, dt.date()) if s <= hm][-1]


def ref_minutes(cfg, year):
    """[(local second, tariff)] of every minute of `year`, plus the minute before it."""
    out = []
    dt = datetime.datetime(year, 1, 1) - MINUTE
    end = datetime.datetime(year + 1, 1, 1)
    while dt < end:
        pts = ref_day(cfg, dt.date())
        day0 = local_of(datetime.datetime(dt.year, dt.month, dt.day))
        for k in range(1440 - (dt.hour * 60 + dt.minute)):
            hm = "%02d:%02d" % divmod(k + dt.hour * 60 + dt.minute, 60)
            out.append((day0 + 60 * (k + dt.hour * 60 + dt.minute),
                        [t for s, t in pts if s <= hm][-1]))
        dt = datetime.datetime(dt.year, dt.month, dt.day) + datetime.timedelta(days=1)
    return out


@pytest.mark.parametrize("year", [2024, 2025])
def test_every_minute_of_a_year_and_every_switch(year):
    table = TariffTable(TABLE)
    ref = ref_minutes(TABLE, year)
    for t, want in ref:
        assert table.tariff_at(t) == want, (year, t)
        assert table.tariff_at(t + 59) == want, (year, t + 59)
    changes = [ref[k][0] for k in range(1, len(ref)) if ref[k][1] != ref[k - 1][1]]
    assert len(changes) > 800
    # the chain of next_switch answers lands on every change and skips none
    chain = []
    t = ref[0][0]
    while t < ref[-1][0]:
        t2 = table.next_switch(t)
        assert t2 > t
        chain.append(t2)
        t = t2
    assert [c for c in chain if c <= ref[-1][0]] == changes


FLAT_SUMMER = {
    "days": {"flat": [["00:00", 1]], "work": [["00:00", 1], ["08:00", 2], ["18:00", 1]]},
    "seasons": [{"from": "01-01", "weekday": "work", "saturday": "flat", "sunday": "flat"},
                {"from": "05-20", "weekday": "flat", "saturday": "flat", "sunday": "flat"},
                {"from": "09-10", "weekday": "work", "saturday": "flat", "sunday": "flat"}],
    "holidays": ["12-23", "12-24", "12-25", "12-26", "12-27", "12-30", "12-31"],
}


def test_next_switch_across_months_without_a_change():
    """A summer without tariff changes: next_switch answers midnights no further apart
    than the look-ahead, where nothing changes, and still lands on the first change."""
    table = TariffTable(FLAT_SUMMER)
    ref = ref_minutes(FLAT_SUMMER, 2024)
    changes = [ref[k][0] for k in range(1, len(ref)) if ref[k][1] != ref[k - 1][1]]
    chain = [ref[0][0]]
    while chain[-1] < ref[-1][0]:
        chain.append(table.next_switch(chain[-1]))
    real = [c for c in chain if table.tariff_at(c) != table.tariff_at(c - 1)]
    assert [c for c in real if c <= ref[-1][0]] == changes
    idle = [c for c in chain[1:] if c not in real]
    assert idle and all(c % 86400 == 0 for c in idle)
    gaps = [b - a for a, b in zip(chain, chain[1:])]
    assert max(gaps) <= (tariffs.HORIZON_DAYS + 1) * 86400


def test_next_switch_from_any_second_is_the_first_change_after_it():
    table = TariffTable(TABLE)
    ref = ref_minutes(TABLE, 2024)
    changes = [ref[k][0] for k in range(1, len(ref)) if ref[k][1] != ref[k - 1][1]]
    rnd = random.Random(4)
    lo, hi = ref[0][0], changes[-1] - 1
    for _ in range(20000):
        t = rnd.randrange(lo, hi)
        want = changes[bisect.bisect_right(changes, t)]
        assert table.next_switch(t) == want, t
        assert table.next_switch(t) == want  # cached answer
        t3 = rnd.randrange(t, want)
        assert table.next_switch(t3) == want


def test_the_leap_day_and_holidays():
    table = TariffTable(TABLE)
    noon = datetime.time(12, 0)

    def at(y, m, d, time=noon):
        return table.tariff_at(local_of(datetime.datetime.combine(datetime.date(y, m, d), time)))

    assert at(2024, 2, 29) == 5            # fixed holiday 02-29 (a Thursday)
    assert at(2024, 2, 28) == 3            # winter work day, 11:30..13:00
    assert at(2028, 2, 29) == 5            # next leap year too
    assert at(2024, 1, 1) == 5 and at(2025, 1, 1) == 5     # fixed, every year
    assert at(2024, 5, 9) == 1             # one-off 2024-05-09: holiday type "odd"
    assert at(2024, 5, 9, datetime.time(23, 59)) == 2
    assert at(2025, 5, 9) == 2             # not a holiday in 2025 (Friday: work)
    assert at(2023, 5, 18) == 1            # one-off 2023 holiday (Thursday): "odd"
    assert at(2024, 5, 16) == 2 and at(2023, 5, 25) == 2   # Thursdays that are not
    assert at(2024, 12, 25) == 5           # season 3 has no "holiday" key: its sunday
    assert at(2024, 5, 16) == 2            # a Thursday in season 2
    assert table.day_type(local_of(datetime.datetime(2024, 12, 25))) == "rest"
    assert table.day_type(local_of(datetime.datetime(2024, 3, 29))) == "odd"
    assert table.day_type(local_of(datetime.datetime(2024, 10, 26, 23, 59))) == "sat"
    assert table.day_type(local_of(datetime.datetime(2024, 10, 27))) == "rest"   # Sunday
    assert table.day_type(local_of(datetime.datetime(2024, 11, 2))) == "summer_work"  # Sat


def test_no_holidays_key_and_constant_table():
    cfg = {"days": {"d": [["00:00", 3]]},
           "seasons": [{"from": "01-01", "weekday": "d", "saturday": "d", "sunday": "d"}]}
    table = TariffTable(cfg)
    t0 = local_of(datetime.datetime(2026, 5, 5, 10, 17, 3))
    assert table.tariff_at(t0) == 3
    nxt = table.next_switch(t0)
    assert nxt % 86400 == 0 and t0 < nxt <= t0 + (tariffs.HORIZON_DAYS + 1) * 86400
    assert table.next_switch(nxt) > nxt
    assert table.max_tariff == 3 and table.day_types == ("d",)
    cfg["holidays"] = None
    assert TariffTable(cfg).tariff_at(t0) == 3


DST_TABLE = {
    "days": {"d": [["00:00", 1], ["02:00", 2], ["02:30", 3], ["03:00", 4], ["04:00", 1]]},
    "seasons": [{"from": "01-01", "weekday": "d", "saturday": "d", "sunday": "d"}],
}


def test_dst_the_tariff_follows_the_local_wall_clock():
    """Summer time is the zone's business: fed zone.local(utc), the table gives the tariff
    of the wall clock (checked against the IANA database), skipping the lost hour in
    spring and repeating the doubled one in autumn."""
    z = zone.Zone(1, zone.DST_EU)
    table = TariffTable(DST_TABLE)
    ref = zoneinfo.ZoneInfo("Europe/Stockholm")
    for y, m, d in ((2026, 3, 29), (2026, 10, 25)):
        u0 = int(datetime.datetime(y, m, d, tzinfo=datetime.timezone.utc).timestamp()) - 7200
        seq = []
        for utc in range(u0, u0 + 8 * 3600, 60):
            wall = datetime.datetime.fromtimestamp(utc, ref).replace(tzinfo=None)
            local = z.local(utc)
            assert local == local_of(wall)
            t = table.tariff_at(local)
            assert t == ref_tariff(DST_TABLE, wall), (utc, wall)
            if not seq or seq[-1] != t:
                seq.append(t)
        if m == 3:
            assert seq == [1, 4, 1]          # 02:00..03:00 never shows on the wall clock
        else:
            assert seq == [1, 2, 3, 2, 3, 4, 1]   # 02:00..03:00 twice (03:00 once)


# DD input codes, 351B datasheet "Konfigurering 1": inputs (I/O1, I/O2) -> tariff
_4T = {(0, 0): 1, (1, 0): 2, (0, 1): 3, (1, 1): 4}
_4T_INV = {(0, 0): 4, (1, 0): 3, (0, 1): 2, (1, 1): 1}
_IO1 = {(0, 0): 1, (1, 0): 2, (0, 1): 1, (1, 1): 2}
_IO1_INV = {(0, 0): 2, (1, 0): 1, (0, 1): 2, (1, 1): 1}
_IO2 = {(0, 0): 1, (1, 0): 1, (0, 1): 2, (1, 1): 2}
_IO2_INV = {(0, 0): 2, (1, 0): 2, (0, 1): 1, (1, 1): 1}
DD_TRUTH = {1: _4T, 2: _4T_INV, 7: _IO1, 8: _IO1_INV, 9: _IO1, 10: _IO1_INV, 11: _IO1,
            12: _IO1_INV, 13: _IO2, 14: _IO2_INV}
DD_NO_INPUTS = [0, 3, 4, 5, 6] + list(range(15, 24))


@pytest.mark.parametrize("dd", sorted(DD_TRUTH))
def test_dd_input_codes_truth_table(dd):
    tc = TariffControl("inputs", dd=dd, n_tariffs=8)
    for inp, want in DD_TRUTH[dd].items():
        assert tc.active(None, inp) == want, (dd, inp)
        assert tc.active(0, (bool(inp[0]), bool(inp[1]))) == want
    assert tc.next_switch(0) is None
    if len(set(DD_TRUTH[dd].values())) == 2:
        assert TariffControl("inputs", dd=dd, n_tariffs=2).active(0, (1, 1)) in (1, 2)


@pytest.mark.parametrize("dd", DD_NO_INPUTS)
def test_dd_codes_without_tariff_inputs(dd):
    with pytest.raises(ValueError, match=r"config\.dd \(DD\): code %02d has no tariff" % dd):
        TariffControl("inputs", dd=dd)
    assert TariffControl("calendar", dd=dd).active(0) == 1
    tc = TariffControl("comms", dd=dd, n_tariffs=4)
    assert tc.active(0, (1, 1)) == 1
    tc.set(3)
    assert tc.active(12345) == 3


def test_dd_and_mode_contradictions_and_ranges():
    for dd in DD_TRUTH:
        for mode in ("calendar", "comms"):
            with pytest.raises(ValueError, match=r"config\.dd \(DD\): code %02d wires" % dd):
                TariffControl(mode, dd=dd)
    for dd in (-1, 24, "01", True, 1.0, None):
        with pytest.raises(ValueError, match=r"config\.dd \(DD\)"):
            TariffControl("calendar", dd=dd)
    with pytest.raises(ValueError, match=r"config\.dd \(DD\): code 01 switches 4"):
        TariffControl("inputs", dd=1, n_tariffs=2)
    with pytest.raises(ValueError, match=r"config\.tariff_control"):
        TariffControl("rtc")
    for n in (0, 9, True, "8"):
        with pytest.raises(ValueError, match=r"config\.n_tariffs"):
            TariffControl("comms", n_tariffs=n)


def test_calendar_and_comms_control():
    tc = TariffControl("calendar", table=TABLE, n_tariffs=8)
    t = local_of(datetime.datetime(2024, 2, 28, 12, 0))
    assert tc.active(t, (1, 1)) == 3
    assert tc.next_switch(t) == local_of(datetime.datetime(2024, 2, 28, 13, 0))
    assert TariffControl("calendar", table=TariffTable(TABLE)).active(t) == 3
    assert TariffControl("calendar").active(t) == 1 and TariffControl("calendar").next_switch(
        t) is None
    with pytest.raises(ValueError, match=r"config\.tariff_table: uses tariff 5, the meter has 4"):
        TariffControl("calendar", table=TABLE, n_tariffs=4)
    with pytest.raises(ValueError, match=r"config\.tariff_table"):
        TariffControl("calendar", table=[1, 2])
    with pytest.raises(ValueError, match=r"config\.tariff_table\.days\.rest\[0\]"):
        bad = copy.deepcopy(TABLE)
        bad["days"]["rest"][0][1] = 0
        TariffControl("calendar", table=bad)
    tc = TariffControl("comms", n_tariffs=4)
    for t in (0, 5, True, None, 2.0):
        with pytest.raises(ValueError, match="tariff: 1..4"):
            tc.set(t)
    tc.set(4)
    assert tc.active(0) == 4 and tc.next_switch(0) is None
    with pytest.raises(ValueError, match="not by communication"):
        TariffControl("calendar").set(2)


def _set(cfg, keys, v):
    d = cfg
    for k in keys[:-1]:
        d = d[k]
    d[keys[-1]] = v


BAD = [
    # switch points
    (["days", "summer_work"], [["00:00", 1], ["21:00", 1], ["07:00", 2]],
     r"\.days\.summer_work\[2\]: switch points must ascend"),
    (["days", "summer_work"], [["00:00", 1], ["07:00", 2], ["07:00", 1]],
     r"\.days\.summer_work\[2\]: switch points must ascend"),
    (["days", "sat"], [["01:00", 1], ["09:00", 4]], r"\.days\.sat\[0\]: the first"),
    (["days", "sat"], [["00:00", 0]], r"\.days\.sat\[0\]: tariff must be 1..8, got 0"),
    (["days", "sat"], [["00:00", 1], ["09:00", 9]], r"\.days\.sat\[1\]: tariff must be 1..8"),
    (["days", "sat"], [["00:00", True]], r"\.days\.sat\[0\]: tariff"),
    (["days", "sat"], [["00:00", "2"]], r"\.days\.sat\[0\]: tariff"),
    (["days", "sat"], [["00:00", 1.0]], r"\.days\.sat\[0\]: tariff"),
    (["days", "sat"], [["00:00", 1], ["7:00", 2]], r"\.days\.sat\[1\]: time must be"),
    (["days", "sat"], [["00:00", 1], ["24:00", 2]], r"\.days\.sat\[1\]: time must be"),
    (["days", "sat"], [["00:00", 1], ["07:60", 2]], r"\.days\.sat\[1\]: time must be"),
    (["days", "sat"], [["00:00", 1], ["0700", 2]], r"\.days\.sat\[1\]: time must be"),
    (["days", "sat"], [["00:00", 1], [700, 2]], r"\.days\.sat\[1\]: time must be"),
    (["days", "sat"], [["00:00", 1], ["07:0a", 2]], r"\.days\.sat\[1\]: time must be"),
    (["days", "sat"], [["00:00", 1], ["07:00"]], r"\.days\.sat\[1\]: must be"),
    (["days", "sat"], [["00:00", 1, 2]], r"\.days\.sat\[0\]: must be"),
    (["days", "sat"], [], r"\.days\.sat: must be a list"),
    (["days", "sat"], "00:00", r"\.days\.sat: must be a list"),
    (["days", "sat"], [["00:00", 1]] + [["%02d:%02d" % divmod(k, 60), 2]
                                        for k in range(10, 490, 10)],
     r"\.days\.sat: at most 48"),
    (["days"], {}, r"\.days: must be an object"),
    (["days"], [["00:00", 1]], r"\.days: must be an object"),
    (["days"], {1: [["00:00", 1]]}, r"\.days: a day type needs a non-empty name"),
    (["days"], {"d%d" % k: [["00:00", 1]] for k in range(17)}, r"\.days: at most 16"),
    # seasons
    (["seasons", 0, "from"], "01-02", r"\.seasons\[0\]\.from: the first season"),
    (["seasons", 1, "from"], "01-01", r"\.seasons\[1\]\.from: seasons must ascend"),
    (["seasons", 2, "from"], "02-15", r"\.seasons\[2\]\.from: seasons must ascend"),
    (["seasons", 1, "from"], "02-29", r"\.seasons\[1\]\.from: must be"),
    (["seasons", 1, "from"], "02-30", r"\.seasons\[1\]\.from: must be"),
    (["seasons", 1, "from"], "13-01", r"\.seasons\[1\]\.from: must be"),
    (["seasons", 1, "from"], "4-1", r"\.seasons\[1\]\.from: must be"),
    (["seasons", 1, "from"], "2024-04-01", r"\.seasons\[1\]\.from: must be"),
    (["seasons", 1, "from"], 401, r"\.seasons\[1\]\.from: must be"),
    (["seasons", 1, "saturday"], "weekend", r"\.seasons\[1\]\.saturday: unknown day type"),
    (["seasons", 2, "holiday"], "Sun", r"\.seasons\[2\]\.holiday: unknown day type"),
    (["seasons", 0, "sundays"], "rest", r"\.seasons\[0\]\.sundays: unknown key"),
    (["seasons", 0], {"from": "01-01", "saturday": "sat", "sunday": "rest"},
     r"\.seasons\[0\]\.weekday: missing"),
    (["seasons", 0], ["01-01", "sat"], r"\.seasons\[0\]: must be an object"),
    (["seasons"], [], r"\.seasons: must be a list"),
    (["seasons"], {"from": "01-01"}, r"\.seasons: must be a list"),
    # holidays
    (["holidays", 2], "02-30", r"\.holidays\[2\]: must be a date"),
    (["holidays", 2], "2023-02-29", r"\.holidays\[2\]: must be a date"),
    (["holidays", 2], "12/25", r"\.holidays\[2\]: must be a date"),
    (["holidays", 2], "1969-12-25", r"\.holidays\[2\]: must be a date"),
    (["holidays", 2], "2024-13-01", r"\.holidays\[2\]: must be a date"),
    (["holidays", 2], "2024-1-01", r"\.holidays\[2\]: must be a date"),
    (["holidays", 2], 1225, r"\.holidays\[2\]: must be a date"),
    (["holidays"], "12-25", r"\.holidays: must be a list"),
    (["holidays"], ["01-01"] * 101, r"\.holidays: at most 100"),
    # the table itself
    (["holiday"], ["01-01"], r"config\.tariff_table\.holiday: unknown key"),
]


@pytest.mark.parametrize("keys,value,err", BAD)
def test_bad_tables_are_refused_with_the_field_named(keys, value, err):
    cfg = copy.deepcopy(TABLE)
    _set(cfg, keys, value)
    with pytest.raises(ValueError, match=r"^config\.tariff_table" + err
                       if not err.startswith("config") else err):
        TariffTable(cfg)


def test_bad_table_objects():
    for cfg in (None, [], "table"):
        with pytest.raises(ValueError, match=r"^config\.tariff_table: must be an object"):
            TariffTable(cfg)
    no_seasons = {"days": TABLE["days"]}
    with pytest.raises(ValueError, match=r"^config\.tariff_table\.seasons: must be a list"):
        TariffTable(no_seasons)
    with pytest.raises(ValueError, match=r"^x\.days"):
        TariffTable({"seasons": TABLE["seasons"]}, where="x")
    TariffTable(copy.deepcopy(TABLE))  # the good one


# tariff registers

_feed = st.lists(st.tuples(st.integers(1, 8), st.integers(0, 10 ** 12), st.integers(0, 10 ** 9)),
                 max_size=200)


@given(n=st.integers(1, 8), feed=_feed)
@settings(max_examples=300, deadline=None)
def test_tariff_registers_sum_to_the_totals(n, feed):
    reg = TariffRegisters(n)
    tot_a = tot_r = 0
    per = {}
    for t, a, r in feed:
        t = (t - 1) % n + 1
        reg.add(t, a, r)
        tot_a += a
        tot_r += r
        pa, pr = per.get(t, (0, 0))
        per[t] = (pa + a, pr + r)
    assert sum(reg.a_plus) == tot_a and sum(reg.r_plus) == tot_r
    for t in range(1, n + 1):
        assert (reg.a_plus[t - 1], reg.r_plus[t - 1]) == per.get(t, (0, 0))
    s = reg.state()
    assert len(s) == 2 + 2 * n and all(isinstance(v, int) and v >= 0 for v in s)
    back = TariffRegisters(n)
    back.restore(s)
    assert back.a_plus == reg.a_plus and back.r_plus == reg.r_plus and back.state() == s


@given(steps=st.lists(st.tuples(st.floats(-2e4, 2e4), st.floats(-2e4, 2e4),
                                st.integers(1, 8)), max_size=100))
@settings(max_examples=200, deadline=None)
def test_fed_from_the_energy_registers(steps):
    """Fed with inc_primary of the total registers, the tariff registers sum to them."""
    e = EnergyRegisters(1000, ct=(400, 5))
    reg = TariffRegisters(8)
    for p, q, t in steps:
        e.integrate(p, q, 1000)
        reg.add(t, e.inc_primary[A_PLUS], e.inc_primary[R_PLUS])
    assert sum(reg.a_plus) == e.primary[A_PLUS]
    assert sum(reg.r_plus) == e.primary[R_PLUS]


def test_tariff_registers_refuse_bad_input_and_bad_state():
    reg = TariffRegisters(4)
    reg.add(2, 5, 7)
    for t in (0, 5):
        with pytest.raises(ValueError, match="tariff 1..4"):
            reg.add(t, 1, 1)
    with pytest.raises(ValueError, match=">= 0"):
        reg.add(1, -1, 0)
    for n in (0, 9, True):
        with pytest.raises(ValueError, match="tariff registers"):
            TariffRegisters(n)
    good = reg.state()
    assert good == (1, 4, 0, 5, 0, 0, 0, 7, 0, 0)
    cases = [
        (good[:-1], "9 fields, expected 10"),
        (None, "sequence"),
        ((2,) + good[1:], r"state\[0\] \(version\): 2"),
        ((1, 3) + good[2:], r"state\[1\] \(tariffs\): 3"),
        (good[:3] + (-1,) + good[4:], r"state\[3\] \(A\+ T2\)"),
        (good[:8] + (1.5,) + good[9:], r"state\[8\] \(R\+ T3\)"),
        (good[:9] + (True,), r"state\[9\] \(R\+ T4\)"),
    ]
    other = TariffRegisters(4)
    other.add(4, 11, 13)
    before = other.state()
    for st_, msg in cases:
        with pytest.raises(ValueError, match=msg):
            other.restore(st_)
        assert other.state() == before
    other.restore(list(good))
    assert other.state() == good

"""Load profile and billing loggers on the record store: exact sums, depths, snapshots, calendars.
"""

import random
from datetime import date, datetime, time, timedelta

import pytest
from conftest import record_figure
from hypothesis import given, settings
from hypothesis import strategies as st

from mpmeter.logs import billing as bl
from mpmeter.logs import profile as lp
from mpmeter.logs.billing import FIELDS, BillingLogger, due, u_period
from mpmeter.logs.demand import Demand
from mpmeter.logs.profile import LoadProfile, depth_days
from mpmeter.storage import store as st_mod
from mpmeter.storage.ramflash import RamFlash
from mpmeter.storage.store import Store

SMALL = (("profile", 3, 32), ("billing", 4, 256), ("billing2", 4, 256))
T0 = 1_767_225_600          # 2026-01-01 00:00 UTC
U32 = 2 ** 32 - 1


def small_store():
    dev = RamFlash(st_mod.blocks(SMALL))
    s = Store(dev, SMALL)
    s.mount()
    return dev, s


def product_store():
    dev = RamFlash(st_mod.REGION_BLOCKS)
    s = Store(dev, st_mod.LAYOUT)
    s.mount()
    return dev, s


def remount(dev, layout):
    s = Store(dev, layout)
    s.mount()
    return s


# -- load profile --------------------------------------------------------------------------

REG_OF = {"A+": (0,), "A+A-": (0, 1), "A+R+": (0, 2), "A+A-R+R-": (0, 1, 2, 3), "A+R1": (0, 4)}


def run_profile(prof, rng, n, period, big=False):
    """n intervals of random load on 8 registers kept in mWh; returns the truth: per
    interval (utc_end, status, whole-Wh register tuple at its end) and the start tuple."""
    mwh = [rng.randrange(10 ** 9) for _ in range(8)]
    wh = tuple(x // 1000 for x in mwh)
    prof.start(wh)
    t = T0
    truth = []
    for _ in range(n):
        for i in range(8):
            r = rng.random()
            if r < 0.2:
                inc = 0
            elif r < 0.6:
                inc = rng.randrange(1000)                    # below one Wh
            elif r < 0.95 or not big:
                inc = rng.randrange(10 ** 7)
            else:
                inc = rng.randrange(4 * 10 ** 12)            # up to 4 GWh in one interval
            mwh[i] += inc
        t += period
        status = rng.choice((0, 0, 0, lp.DST, lp.POWER_FAIL | lp.SHORT, lp.CLOCK_SET))
        wh = tuple(x // 1000 for x in mwh)
        prof.close(t, wh, status)
        truth.append((t, status, wh))
    return truth


def expected(truth, start_wh, regs):
    out = []
    prev = start_wh
    for t, status, wh in truth:
        out.append((t, status, tuple(wh[i] - prev[i] for i in regs)))
        prev = wh
    return out


def test_long_run_sums_exactly_across_ring_wraps():
    """4000 intervals of random increments (some of GWh) on a 3-block profile area
    (384 slots, depth 256): the ring wraps 10 times; the newest depth() entries equal
    the independently computed differences and sum to the register differences."""
    rng = random.Random(4)
    dev, s = small_store()
    prof = LoadProfile(s, "A+A-R+R-", 900)
    assert prof.depth() == 256
    truth = run_profile(prof, rng, 4000, 900, big=True)
    for store in (s, remount(dev, SMALL)):
        got = list(LoadProfile(store, "A+A-R+R-", 900).entries())
        assert len(got) >= prof.depth()
        got = got[-prof.depth():]
        d = prof.depth()
        assert got == expected(truth[-d:], truth[-d - 1][2], (0, 1, 2, 3))
        first, last = truth[-prof.depth() - 1][2], truth[-1][2]
        for j in range(4):
            assert sum(e[2][j] for e in got) == last[j] - first[j]
    assert s.area("profile").erases > 20          # it did wrap


@pytest.mark.parametrize("channels", lp.ENERGY_TYPES)
def test_every_energy_type_round_trips_with_channel_values(channels):
    rng = random.Random(channels)
    dev, s = small_store()
    prof = LoadProfile(s, channels, 300)
    regs = REG_OF[channels]
    assert prof.names() == tuple(("A+", "A-", "R+", "R-", "R1")[i] for i in regs)
    # feed channel values only (len == channels), not the 8 registers
    mwh = [0] * 8
    prof.start(tuple(0 for _ in regs))
    truth = []
    t = T0
    for _ in range(700):
        for i in range(8):
            mwh[i] += rng.randrange(5 * 10 ** 6)
        t += 300
        wh = tuple(x // 1000 for x in mwh)
        prof.close(t, tuple(wh[i] for i in regs))
        truth.append((t, 0, wh))
    got = list(prof.entries())[-prof.depth():]
    assert got == expected(truth, (0,) * 8, regs)[-prof.depth():]
    # another energy type's entries are never read as this one
    other = [c for c in lp.ENERGY_TYPES if c != channels][0]
    assert list(LoadProfile(s, other, 300).entries()) == []


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.integers(0, 10 ** 10), min_size=8, max_size=8), min_size=1,
                max_size=600),
       st.lists(st.integers(0, 10 ** 12), min_size=8, max_size=8))
def test_held_entries_sum_to_the_register_difference(incs, start):
    dev, s = small_store()
    prof = LoadProfile(s, "A+A-R+R-", 3600)
    mwh = list(start)
    ends = [tuple(x // 1000 for x in mwh)]
    prof.start(ends[0])
    t = T0
    for inc in incs:
        mwh = [a + b for a, b in zip(mwh, inc)]
        t += 3600
        ends.append(tuple(x // 1000 for x in mwh))
        prof.close(t, ends[-1])
    got = list(prof.entries())
    k = len(got)
    assert k == len(incs) or k >= prof.depth()
    for j in range(4):
        assert sum(e[2][j] for e in got) == ends[-1][j] - ends[-1 - k][j]


def test_status_bits_kept():
    dev, s = small_store()
    prof = LoadProfile(s, "A+", 900)
    prof.start((0,))
    for st_ in range(32):
        prof.close(T0 + 900 * st_, (st_ * 7,), st_)
    got = list(remount_profile(dev, "A+", 900).entries())
    assert [e[1] for e in got] == list(range(32))
    assert [e[2] for e in got] == [(0,)] + [(7,)] * 31
    assert (lp.POWER_FAIL, lp.CLOCK_SET, lp.DST, lp.INVALID, lp.SHORT) == (1, 2, 4, 8, 16)


def remount_profile(dev, channels, period):
    return LoadProfile(remount(dev, SMALL), channels, period)


def test_entries_range_selection_inclusive_and_after_a_clock_set_back():
    dev, s = small_store()
    prof = LoadProfile(s, "A+R+", 900)
    prof.start((0, 0))
    ends = [T0 + 900 * k for k in range(1, 41)]
    ends += [T0 + 900 * k for k in range(20, 31)]          # clock set back 5 h
    for i, t in enumerate(ends):
        prof.close(t, (i, 2 * i))
    allv = list(prof.entries())
    assert [e[0] for e in allv] == ends
    for lo, hi in ((None, None), (T0 + 900 * 10, T0 + 900 * 25), (None, T0 + 900 * 3),
                   (T0 + 900 * 38, None), (T0 + 900 * 25, T0 + 900 * 25), (T0, T0 + 899),
                   (T0 + 900 * 30, T0 + 900 * 20)):
        want = [e for e in allv if (lo is None or e[0] >= lo) and (hi is None or e[0] <= hi)]
        assert list(prof.entries(lo, hi)) == want
    assert len(list(prof.entries(T0 + 900 * 25, T0 + 900 * 25))) == 2


def test_register_going_back_is_clamped_and_flagged_invalid():
    dev, s = small_store()
    prof = LoadProfile(s, "A+A-", 900)
    prof.start((100, 100))
    prof.close(T0 + 900, (90, 150), lp.DST)
    prof.close(T0 + 1800, (95, 150 + 2 ** 32))
    prof.close(T0 + 2700, (96, 151 + 2 ** 32))
    assert list(prof.entries()) == [
        (T0 + 900, lp.DST | lp.INVALID, (0, 50)),
        (T0 + 1800, lp.INVALID, (5, U32)),
        (T0 + 2700, 0, (1, 1)),
    ]


def test_state_restore_keeps_the_interval_start_over_a_restart():
    dev, s = small_store()
    prof = LoadProfile(s, "A+", 900)
    prof.start((1000,))
    prof.close(T0 + 900, (1500,))
    st_ = prof.state()
    again = remount_profile(dev, "A+", 900)
    again.restore(st_)
    again.close(T0 + 1800, (1700,), lp.POWER_FAIL)
    assert [e[2] for e in again.entries()] == [(500,), (200,)]


@pytest.mark.parametrize("args, field", [
    (("A+", 600), "period"), (("A-", 900), "channels"), (("A+", "900"), "period"),
])
def test_bad_profile_configuration_named(args, field):
    dev, s = small_store()
    with pytest.raises(ValueError, match=field):
        LoadProfile(s, *args)


def test_bad_profile_input_named():
    dev, s = small_store()
    prof = LoadProfile(s, "A+A-R+R-", 900)
    with pytest.raises(ValueError, match="before start"):
        prof.close(T0, (0, 0, 0, 0))
    with pytest.raises(ValueError, match="registers"):
        prof.start((0, 0, 0))
    with pytest.raises(ValueError, match="register R-"):
        prof.start((0, 0, 0, -1))
    with pytest.raises(ValueError, match="register A-"):
        prof.start((0, 1.5, 0, 0, 0, 0, 0, 0))
    prof.start((0,) * 8)
    with pytest.raises(ValueError, match="utc_end"):
        prof.close(2 ** 32, (0,) * 4)
    with pytest.raises(ValueError, match="status"):
        prof.close(T0, (0,) * 4, 32)
    with pytest.raises(ValueError, match="status"):
        prof.close(T0, (0,) * 4, -1)
    assert list(prof.entries()) == []
    with pytest.raises(ValueError, match="period"):
        depth_days(120, 1, 100)
    with pytest.raises(ValueError, match="channels"):
        depth_days(300, 5, 100)


def test_four_channels_fit_the_product_slot():
    dev, s = product_store()
    assert s.area("profile").capacity == 22
    assert lp.entry_size(4) == 21


# datasheet depths in days (5, 15, 30, 60 min)
SHEET_162J_351B = {1: (37, 110, 225, 450), 2: (26, 80, 160, 320), 4: (17, 50, 100, 200)}
SHEET_162K = {1: (119, 597, 1194, 2388), 2: (113, 341, 682, 1364), 4: (61, 183, 367, 734)}
MINUTES = (5, 15, 30, 60)


def test_depth_table_of_the_product_layout():
    dev, s = product_store()
    held = s.depth("profile")
    assert held == 86 * 4096 // 32 - 4096 // 32        # one block is always being erased
    lines = ["load profile depth (days) with the product layout: %d entries; "
             "ours / 162J+351B / 162K" % held]
    missing = []
    for nch in (1, 2, 4):
        row = []
        for k, m in enumerate(MINUTES):
            days = depth_days(m * 60, nch, held)
            assert days == held * m * 60 // 86400
            assert days >= SHEET_162J_351B[nch][k]
            if days < SHEET_162K[nch][k]:
                missing.append("%dch@%dmin %d<%d" % (nch, m, days, SHEET_162K[nch][k]))
            row.append("%d/%d/%d" % (days, SHEET_162J_351B[nch][k], SHEET_162K[nch][k]))
        lines.append("  %d channel(s) at 5/15/30/60 min: %s" % (nch, "  ".join(row)))
    lines.append("  162K depths not met: %s" % ", ".join(missing))
    text = "\n".join(lines)
    print(text)
    record_figure("profile_depth", text)
    # every 162K depth is beyond this flash region (2388 d at 60 min = 57,312 entries)
    assert len(missing) == 12


def test_product_profile_really_holds_37_days_at_5_min():
    """Fill the product area past a full turn of the ring: the entries held span at least
    37 days of 5-min intervals, consecutive, ending at the last close."""
    dev, s = product_store()
    prof = LoadProfile(s, "A+", 300)
    prof.start((0,))
    n = 86 * 128 + 300
    for k in range(1, n + 1):
        prof.close(T0 + 300 * k, (k,))
    got = list(prof.entries())
    assert len(got) >= 37 * 288
    assert [e[0] for e in got] == [T0 + 300 * k for k in range(n - len(got) + 1, n + 1)]
    assert all(e[2] == (1,) for e in got)
    assert (got[-1][0] - got[0][0] + 300) // 86400 >= 37


# -- billing loggers -----------------------------------------------------------------------

def snapshot(i):
    """A snapshot with a distinct value in every field (i: the stop number)."""
    d = {}
    for k, name in enumerate(FIELDS):
        if name == "flags":
            d[name] = i % 4
        elif name == "time" or name.endswith("_time"):
            d[name] = (T0 + 86400 * 30 * i + 60 * k) % (U32 + 1)
        else:
            d[name] = i * 1_000_003 + k * 97 + 1
    d["stops"] = i
    return d


def test_fields_follow_the_datasheet_list():
    assert FIELDS[:7] == ("time", "hours", "stops", "threshold_count", "pulse_input",
                          "ct_primary", "ct_secondary")
    assert FIELDS[7:11] == ("a_plus", "a_minus", "r_plus", "r_minus")
    assert FIELDS[11:19] == tuple("a_plus_t%d" % t for t in range(1, 5)) + tuple(
        "r_plus_t%d" % t for t in range(1, 5))
    assert FIELDS[-1] == "flags" and len(FIELDS) == len(set(FIELDS)) == 34
    for p in ("pmax", "qmax"):
        for name in (p, p + "_time", p + "_t1", p + "_t1_time", p + "_t2", p + "_t2_time",
                     p + "_acc"):
            assert name in FIELDS


def test_snapshot_round_trip_every_field():
    dev, s = product_store()
    b = BillingLogger(s)
    d = snapshot(7)
    b.freeze(d)
    assert b.get(1) == d
    assert BillingLogger(remount(dev, st_mod.LAYOUT)).get(1) == d
    d0 = dict(snapshot(3))
    del d0["flags"]                                        # flags may be left out: 0
    b.freeze(d0)
    assert b.get(1) == dict(d0, flags=0)


def test_worst_case_snapshot_fits_one_record():
    """Energies 10^11 Wh, powers 10^10 W (accumulated maxima 10^11), times 2^32-1,
    counters (and CT ratio) 10^6: built here, independently of billing.worst()."""
    w = {}
    for name in FIELDS:
        if name == "flags":
            w[name] = 3
        elif name == "time" or name.endswith("_time"):
            w[name] = U32
        elif name in ("hours", "stops", "threshold_count", "ct_primary", "ct_secondary"):
            w[name] = 10 ** 6
        elif name.endswith("_acc"):
            w[name] = 10 ** 11
        elif name.startswith(("pmax", "qmax")):
            w[name] = 10 ** 10
        else:
            w[name] = 10 ** 11
    size = len(bl.encode(w))
    # varint bytes: 10^11 -> 6, 10^10 -> 5, 2^32-1 -> 5, 10^6 -> 3, version/flags -> 1
    assert size == 2 + 7 * 5 + 6 * 5 + 15 * 6 + 5 * 3 == 172
    assert bl.encode(bl.worst()) == bl.encode(w)
    dev, s = product_store()
    assert s.area("billing").capacity == 246 >= size
    b = BillingLogger(s)
    b.freeze(w)
    assert b.get(1) == w
    print("billing snapshot: worst case %d of 246 bytes" % size)


def test_fifty_stops_the_36_newest_are_readable():
    dev, s = product_store()
    b = BillingLogger(s)
    assert b.count == 0 and b.get(1) is None
    for i in range(1, 51):
        b.freeze(snapshot(i))
    for logger in (b, BillingLogger(remount(dev, st_mod.LAYOUT))):
        assert logger.count == 36
        for n in range(1, 37):
            assert logger.get(n) == snapshot(51 - n)
        assert [x["stops"] for x in logger.snapshots()] == list(range(15, 51))
        for n in (0, 37, "1"):
            with pytest.raises(ValueError, match="billing n"):
                logger.get(n)


def test_billing2_wraps_its_ring_and_keeps_the_newest():
    dev, s = product_store()
    b = BillingLogger(s, "billing2")
    for i in range(1, 201):                               # 3 turns of the 64-slot ring
        b.freeze(snapshot(i))
    assert b.count == 36
    assert [b.get(n)["stops"] for n in range(1, 37)] == list(range(200, 164, -1))
    assert BillingLogger(s, "billing").count == 0         # the other logger is untouched


def test_fewer_stops_than_depth():
    dev, s = small_store()
    b = BillingLogger(s, "billing2", depth=10)
    for i in range(1, 4):
        b.freeze(snapshot(i))
    assert b.count == 3
    assert [b.get(n)["stops"] for n in (1, 2, 3)] == [3, 2, 1]
    assert b.get(4) is None and b.get(10) is None


def test_area_too_small_for_the_depth():
    dev = RamFlash(4)
    s = Store(dev, (("billing", 2, 256), ("profile", 2, 32)))
    s.mount()
    with pytest.raises(ValueError, match="billing"):
        BillingLogger(s)                                  # 16 < 36


@pytest.mark.parametrize("name", [f for f in FIELDS if f != "flags"])
def test_missing_field_named(name):
    dev, s = small_store()
    d = snapshot(1)
    del d[name]
    with pytest.raises(ValueError, match=r"billing %s: missing" % name):
        BillingLogger(s).freeze(d)


@pytest.mark.parametrize("name, value", [
    ("a_plus", -1), ("hours", 1.0), ("time", 2 ** 32), ("pmax_t2_time", -5), ("flags", 4),
    ("stops", None), ("qmax_time", 2 ** 40),
])
def test_bad_field_named(name, value):
    dev, s = small_store()
    b = BillingLogger(s)
    d = snapshot(1)
    d[name] = value
    with pytest.raises(ValueError, match="billing %s" % name):
        b.freeze(d)
    assert b.count == 0


def test_unknown_field_and_oversize_named():
    dev, s = small_store()
    b = BillingLogger(s)
    with pytest.raises(ValueError, match="a_plus_t5"):
        b.freeze(dict(snapshot(1), a_plus_t5=1))
    with pytest.raises(ValueError, match="bytes"):
        b.freeze(dict(snapshot(1), a_plus=10 ** 3000))


def test_maxima_from_demand():
    d = Demand(900, tariffs=2)
    local0 = T0 + 3600
    for k in range(1, 1801):                               # 30 min at 3.6 kW, tariff 1
        d.add(local0 + k, 1000, 500, 1)
    for k in range(1801, 2701):                            # 15 min at 7.2 kW, tariff 2
        d.add(local0 + k, 2000, 0, 2)
    d.tick(local0 + 2700)
    m = bl.from_demand(d.billing_stop(), lambda x: x - 3600)
    assert m["pmax"] == 7200 and m["pmax_time"] == T0 + 2700
    assert m["qmax"] == 1800 and m["qmax_time"] == T0 + 900
    assert (m["pmax_t1"], m["pmax_t1_time"]) == (3600, T0 + 900)
    assert (m["pmax_t2"], m["pmax_t2_time"], m["qmax_t2_time"]) == (7200, T0 + 2700, 0)
    assert m["pmax_acc"] == 7200 and m["threshold_count"] == 0
    dev, s = small_store()
    b = BillingLogger(s)
    full = dict(snapshot(1), **m)
    b.freeze(full)
    assert b.get(1) == full


# -- billing logger 2 calendar -------------------------------------------------------------

EPOCH = datetime(1970, 1, 1)


def secs(*a):
    return int((datetime(*a) - EPOCH).total_seconds())


def truth_due(prev, local, period):
    """Walk the midnights after prev with datetime: one in (prev, local] that starts a
    day / an ISO week (Monday) / a month."""
    if local <= prev:
        return False
    p = EPOCH + timedelta(seconds=prev)
    lt = EPOCH + timedelta(seconds=local)
    d = p.date() + timedelta(days=1)
    while datetime.combine(d, time()) <= lt:
        if (period == "day" or (period == "week" and d.isoweekday() == 1)
                or (period == "month" and d.day == 1)):
            return True
        d += timedelta(days=1)
    return False


def test_u_period():
    assert [u_period(u) for u in (1, 2, 3)] == ["day", "week", "month"]
    for bad in (0, 4, "1", None, 1.0):
        with pytest.raises(ValueError, match=r"\(U\)"):
            u_period(bad)
    with pytest.raises(ValueError, match="prev_local"):
        due(-1, 5, 1)
    with pytest.raises(ValueError, match=r"\(U\)"):
        due(0, 5, 9)


CASES = [
    # (prev, local), expected (day, week, month)
    ((secs(2024, 2, 28, 23, 59, 59), secs(2024, 2, 29)), (True, False, False)),   # leap day
    ((secs(2024, 2, 29, 12), secs(2024, 3, 1)), (True, False, True)),
    ((secs(2023, 2, 28, 23), secs(2023, 3, 1, 0, 0, 1)), (True, False, True)),
    ((secs(2026, 12, 31, 23), secs(2027, 1, 1)), (True, False, True)),          # Friday
    ((secs(2020, 12, 31, 8), secs(2021, 1, 4)), (True, True, True)),            # W53 -> W1
    ((secs(2026, 3, 29), secs(2026, 3, 30)), (True, True, False)),              # Sunday -> Monday
    ((secs(2026, 3, 30), secs(2026, 3, 30, 23, 59, 59)), (False, False, False)),  # on it
    ((secs(2026, 4, 30, 23, 59, 59), secs(2026, 4, 30, 23, 59, 59)), (False, False, False)),
    ((secs(2026, 5, 2), secs(2026, 4, 30)), (False, False, False)),            # clock back
    ((secs(2026, 1, 1), secs(2026, 3, 15)), (True, True, True)),               # meter off
    ((secs(2000, 2, 28, 23), secs(2000, 2, 29, 0, 30)), (True, False, False)),  # 400-year leap
    ((secs(2100, 2, 28, 23), secs(2100, 3, 1)), (True, True, True)),    # no leap day; Monday
]


@pytest.mark.parametrize("pair, want", CASES)
def test_due_cases(pair, want):
    prev, local = pair
    for u, period, w in zip((1, 2, 3), ("day", "week", "month"), want):
        assert truth_due(prev, local, period) == w, "the table itself is wrong"
        assert due(prev, local, u) == w


@settings(max_examples=600, deadline=None)
@given(st.integers(secs(2019, 1, 1), secs(2031, 12, 31)),
       st.one_of(st.integers(-86400 * 3, 86400 * 70), st.sampled_from((0, 1, 86399, 86400))),
       st.sampled_from((1, 2, 3)))
def test_due_against_datetime(prev, delta, u):
    local = prev + delta
    period = ("day", "week", "month")[u - 1]
    assert due(prev, local, u) == truth_due(prev, local, period)
    if local > prev:
        # the same by the calendar: date, ISO (year, week), (year, month) changed
        a = date(1970, 1, 1) + timedelta(days=prev // 86400)
        b = date(1970, 1, 1) + timedelta(days=local // 86400)
        key = {1: lambda x: x, 2: lambda x: x.isocalendar()[:2], 3: lambda x: (x.year, x.month)}
        assert due(prev, local, u) == (key[u](a) != key[u](b))

"""Host tests of the energy layer: exact 4-quadrant registers, CT/VT ratios, and pulse outputs.

Truth is computed here independently: fractions.Fraction for energy (the exact
value of each float times its duration), hand-computed register values, and pulse
trains checked edge by edge from the levels a fake pin saw.
"""

import math
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mpmeter.energy import pulses as P
from mpmeter.energy import registers as R

NAMES = ("a_plus", "a_minus", "r_plus", "r_minus", "r1", "r2", "r3", "r4")
MS30 = 1 << 30


# ---------------------------------------------------------------- truth model


def nearest(v):
    """Nearest integer to a Fraction, ties away from zero."""
    a = abs(v)
    n = math.floor(a + Fraction(1, 2))
    return n if v >= 0 else -n


class Truth:
    """Independent exact model: Fraction mWh per register, secondary and primary."""

    def __init__(self, tick_hz, ct=(1, 1), vt=(1, 1)):
        self.tick_hz = tick_hz
        self.k = Fraction(ct[0] * vt[0], ct[1] * vt[1])
        self.sec = dict.fromkeys(NAMES, Fraction(0))
        self.pri = dict.fromkeys(NAMES, Fraction(0))

    def ratio(self, ct, vt=(1, 1)):
        self.k = Fraction(ct[0] * vt[0], ct[1] * vt[1])

    def add(self, p, q, ticks):
        # W * ticks / tick_hz = W*s; mWh = W*s * 1000 / 3600; rounded first in mW*tick
        dp = Fraction(nearest(Fraction(p) * 1000 * ticks), 3600 * self.tick_hz)
        dq = Fraction(nearest(Fraction(q) * 1000 * ticks), 3600 * self.tick_hz)
        imp = not (p < 0)
        up = not (q < 0)
        got = dict.fromkeys(NAMES, Fraction(0))
        if imp:
            got["a_plus"] = dp
        else:
            got["a_minus"] = -dp
        if up:
            got["r_plus"] = dq
        else:
            got["r_minus"] = -dq
        quad = (1 if up else 4) if imp else (2 if up else 3)
        got["r%d" % quad] = abs(dq)
        for n in NAMES:
            self.sec[n] += got[n]
            self.pri[n] += got[n] * self.k
        return 0 if (p == 0 and q == 0) else quad


def assert_matches(reg, truth):
    for n in NAMES:
        num, den = reg.exact(n, primary=False)
        assert Fraction(num, den) == truth.sec[n], n
        assert reg.mwh(n, primary=False) == math.floor(truth.sec[n]), n
        num, den = reg.exact(n, primary=True)
        assert Fraction(num, den) == truth.pri[n], n
        assert reg.mwh(n) == math.floor(truth.pri[n]), n


def regs(reg, primary=False):
    return {n: reg.mwh(n, primary) for n in NAMES}


def only(**kw):
    d = dict.fromkeys(NAMES, 0)
    d.update(kw)
    return d


# ---------------------------------------------------------------- registers: hand values


def test_names_and_obis():
    assert R.NAMES == NAMES
    assert R.OBIS == {"a_plus": "1.8.0", "a_minus": "2.8.0", "r_plus": "3.8.0",
                      "r_minus": "4.8.0", "r1": "5.8.0", "r2": "6.8.0", "r3": "7.8.0",
                      "r4": "8.8.0"}
    for i, n in enumerate(NAMES):
        assert getattr(R, n.upper()) == i


def test_one_kw_for_one_hour_is_one_kwh():
    e = R.EnergyRegisters(1)
    e.integrate(1000.0, 0.0, 3600)
    assert regs(e) == only(a_plus=1_000_000)
    assert regs(e, True) == only(a_plus=1_000_000)
    assert e.quadrant == 1
    assert e.inc_secondary[R.A_PLUS] == 1_000_000


@pytest.mark.parametrize("p,q,quad,expect", [
    (1000, 500, 1, only(a_plus=1_000_000, r_plus=500_000, r1=500_000)),
    (-1000, 500, 2, only(a_minus=1_000_000, r_plus=500_000, r2=500_000)),
    (-1000, -500, 3, only(a_minus=1_000_000, r_minus=500_000, r3=500_000)),
    (1000, -500, 4, only(a_plus=1_000_000, r_minus=500_000, r4=500_000)),
    (0, 300, 1, only(r_plus=300_000, r1=300_000)),     # pure reactive, inductive
    (0, -300, 4, only(r_minus=300_000, r4=300_000)),   # pure reactive, capacitive
    (-2500, 0, 2, only(a_minus=2_500_000)),             # pure export
    (0, 0, 0, only()),
])
def test_quadrants_one_hour(p, q, quad, expect):
    e = R.EnergyRegisters(1)
    for _ in range(60):            # one hour in 60 one-minute periods
        e.integrate(p, q, 60)
    assert regs(e) == expect
    assert regs(e, True) == expect
    assert e.quadrant == quad


def test_waveform_rate_one_hour():
    # 230 V * 5 A at tick_hz = 8000: 180000 periods of 160 samples (20 ms) = 1 h = 1150 Wh
    e = R.EnergyRegisters(8000)
    for _ in range(180000):
        e.integrate(1150.0, -0.1, 160)
    assert regs(e) == only(a_plus=1_150_000, r_minus=100, r4=100)


def test_sub_mwh_increments_accumulate_exactly():
    # 0.5 W for 1 s is 500/3600 mWh: nothing registered until residues add up
    e = R.EnergyRegisters(1, ct=(3000, 5), vt=(20000, 100))
    e.integrate(0.5, 0.0, 1)
    assert e.mwh("a_plus", False) == 0
    assert e.exact("a_plus", False) == (500, 3600)
    for _ in range(7199):
        e.integrate(0.5, 0.0, 1)
    assert e.mwh("a_plus", False) == 1000           # 1 Wh
    assert e.mwh("a_plus") == 1000 * 600 * 200      # CT 600x, VT 200x
    assert e.exact("a_plus", False)[0] % 3600 == 0


def test_ct_ratio_3000_5_is_exactly_600x():
    e = R.EnergyRegisters(1, ct=(3000, 5))
    for p, q in ((4140.0, 1234.5), (-17.3, 0.7), (0.001, -0.001), (3999.999, -2.5)):
        for _ in range(50):
            e.integrate(p, q, 1)
    for n in NAMES:
        s_num, s_den = e.exact(n, False)
        p_num, p_den = e.exact(n, True)
        assert Fraction(p_num, p_den) == 600 * Fraction(s_num, s_den)
        assert e.mwh(n) == math.floor(600 * Fraction(s_num, s_den))


def test_non_integer_ratio_keeps_fraction():
    e = R.EnergyRegisters(1, ct=(7, 3))
    e.integrate(1.0, 0.0, 3600)  # 1000 mWh secondary, 7000/3 primary
    assert e.mwh("a_plus", False) == 1000
    assert e.mwh("a_plus") == 2333
    assert e.inc_primary[R.A_PLUS] == 2333
    e.integrate(1.0, 0.0, 3600)
    assert e.mwh("a_plus") == 4666
    assert e.inc_primary[R.A_PLUS] == 2333
    e.integrate(1.0, 0.0, 3600)
    assert e.mwh("a_plus") == 7000  # the thirds add up exactly
    assert e.inc_primary[R.A_PLUS] == 2334


def test_ratio_change_does_not_rescale_registered_energy():
    e = R.EnergyRegisters(1, ct=(3000, 5))
    e.integrate(1000.0, 0.0, 1800)
    assert e.mwh("a_plus") == 300_000_000
    e.set_ratio((1500, 5))
    assert e.mwh("a_plus") == 300_000_000  # unchanged by the new ratio
    e.integrate(1000.0, 0.0, 1800)
    assert e.mwh("a_plus") == 300_000_000 + 150_000_000
    assert e.mwh("a_plus", False) == 1_000_000
    assert e.ct == (1500, 5) and e.vt == (1, 1)


def test_ratio_change_keeps_residues_exact():
    t = Truth(8000, ct=(7, 3))
    e = R.EnergyRegisters(8000, ct=(7, 3))
    for ct, vt in (((7, 3), (1, 1)), ((11, 5), (3, 7)), ((3000, 5), (20000, 100)),
                   ((1, 13), (1, 1))):
        e.set_ratio(ct, vt)
        t.ratio(ct, vt)
        for _ in range(37):
            t.add(123.456, -7.89, 161)
            e.integrate(123.456, -7.89, 161)
        assert_matches(e, t)


def test_increments_equal_register_deltas():
    e = R.EnergyRegisters(50, ct=(200, 5))
    before = regs(e), regs(e, True)
    for i in range(2000):
        e.integrate(900.0 * math.sin(i / 50), 400.0 * math.cos(i / 70), 50)
        after = regs(e), regs(e, True)
        for k, n in enumerate(NAMES):
            assert after[0][n] - before[0][n] == e.inc_secondary[k]
            assert after[1][n] - before[1][n] == e.inc_primary[k]
        before = after


# ---------------------------------------------------------------- registers: no drift


def test_ten_years_of_one_second_periods_no_drift():
    # 10 years minus one day restored in closed form, then the last day really integrated.
    p, q = 4140.123456789, -1234.987654321
    dp = nearest(Fraction(p) * 1000)   # mW*s per one-second period
    dq = nearest(Fraction(q) * 1000)
    years = 10 * 365 * 86400
    before = years - 86400
    e = R.EnergyRegisters(1, ct=(3000, 5))
    st_ = list(e.state())
    sec = [before * dp, 0, 0, before * -dq, 0, 0, 0, before * -dq]
    for i, v in enumerate(sec):
        st_[7 + i] = v // 3600
        st_[15 + i] = v % 3600
        st_[23 + i] = v * 600 // 3600
        st_[31 + i] = v * 600 % 3600
    e.restore(tuple(st_))
    for _ in range(86400):
        e.integrate(p, q, 1)
    assert e.mwh("a_plus", False) == years * dp // 3600
    assert e.mwh("a_plus") == years * dp * 600 // 3600
    assert e.mwh("r_minus", False) == years * -dq // 3600
    assert e.mwh("r4") == years * -dq * 600 // 3600
    assert e.exact("a_plus", False) == (years * dp, 3600)


def test_ten_years_in_daily_chunks_at_sample_rate():
    t = Truth(8000, ct=(3000, 5))
    e = R.EnergyRegisters(8000, ct=(3000, 5))
    day = 86400 * 8000
    for d in range(3650):
        p = 4140.0 - (d % 17) * 0.0123456 * (1 if d % 3 else -300)
        q = ((d * 7919) % 2001 - 1000) * 0.987654321
        t.add(p, q, day)
        e.integrate(p, q, day)
    assert_matches(e, t)
    assert e.mwh("a_plus", False) > 300_000_000_000  # ~10 years of 4 kW, well past 2**32


# ---------------------------------------------------------------- registers: hypothesis

powers = st.one_of(
    st.floats(min_value=-20000, max_value=20000, allow_nan=False),
    st.floats(min_value=-1e-3, max_value=1e-3, allow_nan=False),
    st.integers(min_value=-5000, max_value=5000),
    st.sampled_from([0.0, -0.0, 0.5, -0.5, 1e-300, -1e-300, 1e9, 0.0005, 0.00025]),
)
ratios = st.tuples(st.integers(1, 3000), st.integers(1, 100))
ops = st.lists(st.one_of(
    st.tuples(st.just("i"), powers, powers, st.integers(0, 10**6)),
    st.tuples(st.just("r"), ratios, ratios, st.just(0)),
), min_size=1, max_size=40)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tick_hz=st.sampled_from([1, 7, 50, 4000, 8000]), ct=ratios, vt=ratios, seq=ops)
def test_property_exact_and_monotonic(tick_hz, ct, vt, seq):
    e = R.EnergyRegisters(tick_hz, ct, vt)
    t = Truth(tick_hz, ct, vt)
    prev = regs(e), regs(e, True)
    for op, a, b, ticks in seq:
        if op == "r":
            e.set_ratio(a, b)
            t.ratio(a, b)
        else:
            quad = t.add(a, b, ticks)
            e.integrate(a, b, ticks)
            assert e.quadrant == quad
        assert_matches(e, t)
        now = regs(e), regs(e, True)
        for n in NAMES:
            assert now[0][n] >= prev[0][n] and now[1][n] >= prev[1][n]
        prev = now


@settings(max_examples=100, deadline=None)
@given(seq=st.lists(st.tuples(powers, powers, st.integers(0, 5000)), max_size=20),
       cut=st.integers(0, 20))
def test_property_restore_resumes_exactly(seq, cut):
    a = R.EnergyRegisters(8000, ct=(11, 5))
    for p, q, n in seq[:cut]:
        a.integrate(p, q, n)
    b = R.EnergyRegisters(8000)
    b.restore(a.state())
    assert b.state() == a.state()
    for p, q, n in seq[cut:]:
        a.integrate(p, q, n)
        b.integrate(p, q, n)
    assert b.state() == a.state()


# ---------------------------------------------------------------- registers: bad input


@pytest.mark.parametrize("p,q,ticks", [
    (float("nan"), 0.0, 1), (0.0, float("nan"), 1), (float("inf"), 1.0, 1),
    (1.0, float("-inf"), 1), (100.0, 0.0, -1), (100.0, 0.0, 1.0), (100.0, 0.0, True),
    ("100", 0.0, 1), (None, 0.0, 1),
])
def test_bad_input_rejected_and_nothing_registered(p, q, ticks):
    e = R.EnergyRegisters(1, ct=(3000, 5))
    e.integrate(123.4, -5.6, 77)
    before = e.state()
    with pytest.raises(ValueError):
        e.integrate(p, q, ticks)
    assert e.state() == before


def test_constructor_and_ratio_validation():
    for bad in (0, -1, 1.0, True):
        with pytest.raises(ValueError, match="tick_hz"):
            R.EnergyRegisters(bad)
    for bad in ((0, 5), (3000,), (3000.0, 5), (3000, -5), 5, None):
        with pytest.raises(ValueError, match="ct"):
            R.EnergyRegisters(1, ct=bad)
    e = R.EnergyRegisters(1)
    with pytest.raises(ValueError, match="vt"):
        e.set_ratio((5, 5), (100, 0))
    with pytest.raises(ValueError, match="unknown register"):
        e.mwh("a+")


def test_restore_round_trip_and_validation():
    e = R.EnergyRegisters(8000, ct=(3000, 5), vt=(20000, 100))
    for i in range(100):
        e.integrate(1000.0 + i * 0.37, -50.0 + i, 160)
    s = e.state()
    assert all(type(x) is int for x in s) and len(s) == R.ST_LEN
    f = R.EnergyRegisters(8000)
    f.restore(s)
    assert f.state() == s
    assert regs(f, True) == regs(e, True) and f.ct == (3000, 5) and f.vt == (20000, 100)

    good = f.state()

    def bad(i, v, match):
        x = list(s)
        x[i] = v
        with pytest.raises(ValueError, match=match):
            f.restore(tuple(x))
        assert f.state() == good

    bad(0, 99, "version")
    bad(1, 1, "tick_hz")
    bad(2, 0, "ct")
    bad(6, 12345, "pden")
    bad(7, -1, "a_plus secondary register")
    bad(7 + 8 + 2, 3600 * 8000, "r_plus secondary residue")
    bad(7 + 24 + 7, -1, "r4 primary residue")
    bad(7 + 16, 1.5, "a_plus primary register")
    bad(7 + 16, True, "not an int")
    with pytest.raises(ValueError, match="39"):
        f.restore(s[:-1])
    with pytest.raises(ValueError):
        f.restore(None)
    assert f.state() == good


# ---------------------------------------------------------------- pulses


class FakePin:
    """Records (time, level) on every level change; the driver sets .now before tick()."""

    def __init__(self):
        self.now = None
        self.level = None
        self.log = []

    def value(self, x):
        if x != self.level:
            self.log.append((self.now, x))
            self.level = x


def trains(pin, active=1):
    """(rise times, high durations, low gaps between pulses) from the pin's log."""
    rises, highs, gaps = [], [], []
    last_fall = None
    for i, (t, lvl) in enumerate(pin.log):
        if lvl == active and t is not None:
            rises.append(t)
            if last_fall is not None:
                gaps.append(t - last_fall)
        elif lvl != active and i > 0:
            last_fall = t
            highs.append(t - rises[-1])
    return rises, highs, gaps


def run(out, pin, t0, t1, step=1, check=None):
    t = t0
    while t < t1:
        pin.now = t
        out.tick(t & (MS30 - 1))
        if check is not None:
            check()
        t += step
    return t


def drain(out, pin, t, step=1, limit=10**7):
    end = t + limit
    while out.owed() and t < end:
        pin.now = t
        out.tick(t & (MS30 - 1))
        t += step
    assert not out.owed()
    return t


def test_quantum_and_constant_validation():
    pin = FakePin()
    assert P.PulseOutput(pin, 1000).quantum == 1000
    assert P.PulseOutput(pin, 10000).quantum == 100
    assert P.PulseOutput(pin, 5000).quantum == 200
    assert P.PulseOutput(pin, 1).quantum == 1_000_000
    for bad in (3, 7, 0, -1000, 1000.0, 3000000):
        with pytest.raises(ValueError, match="imp_per_kwh"):
            P.PulseOutput(pin, bad)
    for bad in (0, -30, 30.0):
        with pytest.raises(ValueError, match="width_ms"):
            P.PulseOutput(pin, 1000, width_ms=bad)
    out = P.PulseOutput(pin, 1000)
    with pytest.raises(ValueError):
        out.feed(-1, 1000)
    with pytest.raises(ValueError, match="period_ms"):
        out.feed(1, -1)


def test_a_period_of_0_ms_is_a_normal_case():
    """A period of a few frames is 0 whole ms (the first one after boot, a power-down):
    its pulse starts at the next tick, it is no overrun, and what is owed after it is
    spread over the next period."""
    pin = FakePin()
    out = P.PulseOutput(pin, 1000)
    out.feed(999, 1000)
    run(out, pin, 0, 1000)
    assert out.emitted == 0 and out.residue == 999
    out.feed(1, 0)                        # one frame's mWh completes a pulse
    assert out.pending == 1 and out.overrun == 0
    run(out, pin, 1000, 1001)
    assert out.active and trains(pin)[0] == [1000]
    out.feed(3000, 0)                     # three more in 0 ms: queued at the max rate
    assert out.overrun == 1 and out.owed() == 4
    t = drain(out, pin, 1001)
    rises, highs, gaps = trains(pin)
    assert rises == [1000, 1060, 1120, 1180] and set(highs) == {30}
    assert out.emitted == 4 and t < 1300


def test_diff_wraps_like_ticks_diff():
    assert P._diff(5, MS30 - 5) == 10
    assert P._diff(MS30 - 5, 5) == -10
    assert P._diff(3 * MS30 + 7, 2) == 5
    assert P._diff(100, 40) == 60


def test_three_pulses_spread_over_the_period():
    pin = FakePin()
    out = P.PulseOutput(pin, 1000)
    assert pin.log == [(None, 0)]
    out.feed(3500, 1000)                 # 3 pulses, 500 mWh residue
    assert out.pending == 3 and out.residue == 500
    run(out, pin, 0, 2000)
    rises, highs, gaps = trains(pin)
    assert rises == [0, 333, 666]
    assert highs == [30, 30, 30]
    assert out.emitted == 3 and out.pending == 0 and not out.active
    out.feed(500, 1000)                  # residue completes the 4th pulse
    run(out, pin, 2000, 2100)
    assert trains(pin)[0] == [0, 333, 666, 2000]
    assert out.residue == 0 and out.emitted == 4


@pytest.mark.parametrize("n,period", [(7, 1000), (16, 1000), (2, 1000), (13, 997), (1, 50)])
def test_spacing_even_within_1ms(n, period):
    pin = FakePin()
    out = P.PulseOutput(pin, 10000, width_ms=20)
    out.feed(100 * n, period)
    run(out, pin, 0, period + 100)
    rises = trains(pin)[0]
    assert len(rises) == n and rises[0] == 0
    steps = [b - a for a, b in zip(rises, rises[1:], strict=False)]
    assert all(period // n <= s <= period // n + 1 for s in steps), steps
    assert rises == [k * period // n for k in range(n)]   # the ideal even spread, floored
    assert out.overrun == 0


def test_steady_rate_across_periods():
    pin = FakePin()
    out = P.PulseOutput(pin, 1000)
    t = 0
    for _ in range(10):
        out.feed(2000, 1000)
        t = run(out, pin, t, t + 1000)
    rises = trains(pin)[0]
    assert rises == list(range(0, 10000, 500))


def test_invariant_widths_and_gaps_with_late_ticks():
    pin = FakePin()
    out = P.PulseOutput(pin, 10000, width_ms=30)
    fed = 0

    def check():
        assert out.emitted + out.owed() == fed // 100

    t = 0
    for k in range(40):
        mwh = (k * 7919) % 2500
        out.feed(mwh, 1000)
        fed += mwh
        t = run(out, pin, t, t + 1000, step=7, check=check)
    t = drain(out, pin, t, step=7)
    rises, highs, gaps = trains(pin)
    assert len(rises) == out.emitted == fed // 100
    assert min(highs) >= 30 and min(gaps) >= 30


def test_overrun_351_s0_on_primary_at_full_load_queues_everything():
    # 351B: CT 3000/5, 3 x 230 V x 6 A = 4140 W secondary -> 2.484 MW primary;
    # S0 5000 imp/kWh -> 3450 pulses/s, but 30 ms pulses allow at most 16.7/s.
    e = R.EnergyRegisters(1, ct=(3000, 5))
    pin = FakePin()
    s0 = P.PulseOutput(pin, 5000, width_ms=30)
    t = 0
    for _ in range(2):
        e.integrate(4140.0, 0.0, 1)
        assert e.inc_primary[R.A_PLUS] == 690_000
        s0.feed(e.inc_primary[R.A_PLUS], 1000)
        t = run(s0, pin, t, t + 1000)
    assert s0.overrun == 2
    assert s0.emitted + s0.owed() == 2 * 3450
    assert s0.pending > 6000                      # queued, not dropped
    t = drain(s0, pin, t)
    rises, highs, gaps = trains(pin)
    assert len(rises) == s0.emitted == e.mwh("a_plus") // 200 == 6900
    assert set(highs) == {30} and set(gaps) == {30}   # back to back at the maximum rate


def test_idle_on_inverts_the_output():
    pin = FakePin()
    out = P.PulseOutput(pin, 1000, width_ms=80, idle_on=True)
    assert pin.log == [(None, 1)]           # lit without consumption
    out.feed(2000, 1000)
    run(out, pin, 0, 1000)
    assert pin.log[1:] == [(0, 0), (80, 1), (500, 0), (580, 1)]
    assert out.emitted == 2


@pytest.mark.parametrize("start", [MS30 - 700, 5 * MS30 + 7])
def test_wraparound_of_the_ms_counter(start):
    pin = FakePin()
    out = P.PulseOutput(pin, 1000)
    out.feed(4000, 1000)
    run(out, pin, start, start + 1000)
    rises, highs, gaps = trains(pin)
    assert [r - start for r in rises] == [0, 250, 500, 750]
    assert highs == [30] * 4


def test_registers_feed_pulses_no_pulse_lost_or_invented():
    e = R.EnergyRegisters(8000, ct=(3000, 5))
    pin_led, pin_s0 = FakePin(), FakePin()
    led = P.PulseOutput(pin_led, 10000, width_ms=5)    # LED on secondary energy
    s0 = P.PulseOutput(pin_s0, 1, width_ms=30)         # S0 1 imp/kWh on primary energy
    t = 0
    for k in range(300):
        e.integrate(3000.0 + 1000 * math.sin(k / 9), 10.0, 8000)   # 1 s periods
        led.feed(e.inc_secondary[R.A_PLUS], 1000)
        s0.feed(e.inc_primary[R.A_PLUS], 1000)
        t0 = t
        t = run(led, pin_led, t0, t0 + 1000)
        run(s0, pin_s0, t0, t0 + 1000)
    drain(led, pin_led, t)
    drain(s0, pin_s0, t)
    assert len(trains(pin_led)[0]) == e.mwh("a_plus", False) // 100
    assert len(trains(pin_s0)[0]) == e.mwh("a_plus") // 1_000_000
    assert led.overrun == 0 and s0.overrun == 0


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(imp=st.sampled_from([1, 800, 1000, 2000, 5000, 10000, 100000]),
       width=st.integers(1, 80),
       idle_on=st.booleans(),
       start=st.integers(0, MS30 - 1),
       feeds=st.lists(st.tuples(st.integers(0, 3000), st.integers(1, 1500),
                                st.integers(1, 9)), min_size=1, max_size=12))
def test_property_pulses_exact_and_well_formed(imp, width, idle_on, start, feeds):
    pin = FakePin()
    out = P.PulseOutput(pin, imp, width_ms=width, idle_on=idle_on)
    q = 1_000_000 // imp
    fed = 0

    def check():
        assert out.emitted + out.pending + (1 if out.active else 0) == fed // q
        assert 0 <= out.residue < q

    t = start
    for mwh, period, step in feeds:
        out.feed(mwh, period)
        fed += mwh
        check()
        t = run(out, pin, t, t + period, step=step, check=check)
    drain(out, pin, t, step=feeds[-1][2])
    rises, highs, gaps = trains(pin, active=0 if idle_on else 1)
    assert len(rises) == out.emitted == fed // q
    assert all(h >= width for h in highs)
    assert all(g >= width for g in gaps)
    assert pin.level == (1 if idle_on else 0)


@pytest.mark.parametrize("feeds", [[(2500, 1000), (0, 1000), (4000, 1000)],
                                   [(999, 1000), (1, 0), (3000, 0), (500, 1000)],
                                   [(10000, 1000), (10000, 1000), (0, 1000)]])
def test_ticks_only_when_wait_ms_says_give_the_same_pulses(feeds):
    """The Pico loop sleeps wait_ms() between ticks (Meter.idle_ms): an output ticked
    only then emits exactly the pulse train of one ticked every millisecond."""
    trains_ = []
    for sleepy in (False, True):
        pin = FakePin()
        out = P.PulseOutput(pin, 1000)
        t = 0
        ticks = 0
        for mwh, ms in feeds:
            out.feed(mwh, ms)
            end = t + 1000
            while t < end:
                pin.now = t
                out.tick(t & (MS30 - 1))
                ticks += 1
                # the loop also wakes for the next block (the next feed): end - t
                t += max(1, out.wait_ms(t & (MS30 - 1), min(20, end - t))) if sleepy else 1
        trains_.append((trains(pin), out.emitted, ticks))
    (every, n1, t1), (sleepy, n2, t2) = trains_
    assert sleepy == every and n1 == n2
    assert t2 < t1 / 5                    # and far fewer ticks
    out = P.PulseOutput(FakePin(), 1000)
    assert out.wait_ms(0, 17) == 17       # nothing owed: the caller's limit

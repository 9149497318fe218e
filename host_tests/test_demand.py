"""Demand maxima over clock-aligned periods against hand-computed means."""

import pytest

from mpmeter.logs.demand import Demand
from mpmeter.time import civil

T0 = civil.seconds(2026, 3, 2, 0, 0, 0)


def feed(d, start, seconds, p_w, q_w=0, tariff=1):
    """Constant P, Q (W chosen so that a second is whole mWh: W / 3.6 mWh) for `seconds`
    1-s measurement periods from local `start`."""
    assert p_w * 10 % 36 == 0 and q_w * 10 % 36 == 0
    for s in range(1, seconds + 1):
        d.add(start + s, p_w * 10 // 36, q_w * 10 // 36, tariff)
    return start + seconds


def test_constant_load_and_one_high_period():
    d = Demand(900, threshold_mw=5_000_000)
    t = feed(d, T0, 3600, 3600, 1800)                    # 1 h at 3.6 kW, 1.8 kvar
    t = feed(d, t, 900, 7200)                           # 01:00-01:15 at 7.2 kW
    t = feed(d, t, 900, 1080)
    d.tick(t)
    assert d.closed == 6
    assert d.pmax == [7_200_000, T0 + 4500]               # mean of (01:00, 01:15]
    assert d.qmax == [1_800_000, T0 + 900]                # the first period to reach it
    assert d.last_p == 1_080_000
    assert d.over == 1                                    # one period above 5 kW


def test_maxima_per_tariff_and_accumulated_at_billing_stops():
    d = Demand(300, tariffs=2)
    t = feed(d, T0, 600, 2160, tariff=1)
    t = feed(d, t, 600, 5040, tariff=2)
    t = feed(d, t, 300, 3240, tariff=1)
    d.tick(t)
    assert d.tmax[0][:2] == [3_240_000, T0 + 1500]
    assert d.tmax[1][:2] == [5_040_000, T0 + 900]
    frozen = d.billing_stop()
    assert frozen[0] == 5_040_000 and frozen[5] == 5_040_000    # P+max, P+max acc
    assert d.pmax == [0, 0] and d.tmax[1] == [0, 0, 0, 0]
    t = feed(d, t, 300, 4320)
    d.tick(t)
    assert d.billing_stop()[5] == 9_360_000                     # 5.04 + 4.32 kW


def test_periods_without_data_set_nothing_and_state_round_trips():
    d = Demand(1800)
    t = feed(d, T0, 1800, 1080)
    feed(d, t + 7200, 1800, 2160)                   # two hours off, then on
    assert d.closed == 1                              # the open period is still open
    st = d.state()
    e = Demand(1800)
    e.restore(st)
    assert e.state() == st
    with pytest.raises(ValueError, match="demand period"):
        Demand(600)
    with pytest.raises(ValueError, match="fields"):
        Demand(900, tariffs=1).restore(st)


def test_k_code_accumulates_the_maximum_of_its_tariff():
    d = Demand(300, tariffs=2, acc_tariff=2)
    t = feed(d, T0, 600, 5040, tariff=1)
    t = feed(d, t, 600, 2160, tariff=2)
    d.tick(t)
    assert d.billing_stop()[5] == 2_160_000 and d.pmax_acc == 2_160_000

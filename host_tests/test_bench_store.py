"""tools/bench_store.py: the endurance arithmetic against a hand computation (short runs)."""

import math
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))

import bench_store  # noqa: E402

HOURS_PER_YEAR = 365 * 24


def test_endurance_162_85A_pf1_matches_hand_computation():
    hours = 12
    r = bench_store.endurance("162", None, 85.0, 0.0, hours=hours)
    # 230 V x 85 A = 19.55 kW, shown in 0.1 kWh (100 Wh) steps: a save in every second
    # where the shown A+ or the hour counter changes (A+ is exact: 19,550,000 mWh/h)
    saves = 0
    for t in range(1, hours * 3600 + 1):
        if 19550000 * t // 360000000 != 19550000 * (t - 1) // 360000000 or t % 3600 == 0:
            saves += 1
    assert saves == 2346 + 6 and r["saves"] == saves    # 6 odd hours fall between changes
    assert r["sim_s"] == hours * 3600
    assert r["saves_h"] == pytest.approx(saves / hours, rel=1e-12)
    # the registers area (128 blocks x 16 slots) was pre-aged with one full pass; a save
    # is two records (registers, logbook), so record j goes to slot j % 2048 and the
    # ring erases a block whenever it enters one
    area = r["area"]
    counts = r["dev"].erase_counts
    regs = counts[area.first:area.first + area.nblocks]
    assert area.nblocks == 128 and area.per_block == 16
    assert sum(counts) == sum(regs)                   # no other area erased anything
    assert sum(regs) == math.ceil(2 * saves / 16)     # one erase per block entered
    max_erase = max(regs)
    assert max_erase == math.ceil(2 * saves / 2048) == 3  # blocks 0..37 entered 3 times
    assert r["worst"] == max_erase
    years = hours / HOURS_PER_YEAR
    assert r["per_year"] == pytest.approx(max_erase / years, rel=1e-12)
    assert r["years"] == pytest.approx(100000 / (max_erase / years), rel=1e-12)


def test_no_erase_means_no_figure_and_a_failing_exit():
    r = bench_store.endurance("162", None, 0.0, 0.0, hours=0.01)
    assert r["saves"] == 0 and r["worst"] == 0 and r["years"] is None
    # zero rounds of the area: every case stops before any erase; the tool fails
    assert bench_store.main(["bench_store.py", "endurance", "0"]) == 1

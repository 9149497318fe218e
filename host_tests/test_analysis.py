"""Analysis logger (162K): configuration, entries at the chosen interval, depth in days."""

import pytest

from boards.sim import scenario as scn
from boards.sim.board import make_board
from mpmeter.config import Config
from mpmeter.logs import analysis as an
from mpmeter.meter import Meter
from mpmeter.storage.ramflash import RamFlash
from mpmeter.storage.store import REGION_BLOCKS, Store

T0 = 1773136800            # 2026-03-10T10:00:00Z


def test_entries_hold_the_registers_at_each_interval_end():
    regs = ["a_plus", "r_plus", "a_plus_t1", "hours", "demand", "stops"]
    sc = scn.validate({"start": "2026-03-10T10:00:00Z", "profile": "162", "segments": [
        {"duration_s": 3 * 3600, "phases": [{"v_rms": 230.0, "i_rms": 10.0,
                                              "phi_deg": 90.0}]},
        {"duration_s": 3 * 3600, "phases": [{"v_rms": 230.0, "i_rms": 10.0,
                                              "phi_deg": 0.0}]}]})
    cfg = Config("162", {"analysis": {"registers": regs, "interval_s": 1800}})
    m = Meter(make_board(cfg, sc, "phasor"), cfg, None, Store(RamFlash(REGION_BLOCKS)))
    m.coarse = True
    while m.step():
        pass
    ent = list(m.logbook.analysis.entries())
    assert [e[0] for e in ent] == [T0 + 1800 * k for k in range(1, 13)]   # from 10:30
    for t, v in ent:
        s = t - T0
        q = min(s, 10800) * 2300 // 3600                  # 3 h of 2.3 kvar
        p = max(0, s - 10800) * 2300 // 3600              # then 2.3 kW
        assert v[0] == p and v[2] == p and v[1] == q
        assert v[3] == s // 3600
        assert v[4] == (2300 if s > 10800 else 0)
        assert v[5] == 0


def test_depth_meets_the_datasheet_range():
    st = Store(RamFlash(REGION_BLOCKS))
    depth = st.area("analysis").depth()
    assert an.depth_days(depth, 300) >= 2.5            # 16 registers at 5 min
    assert an.depth_days(depth, 86400) >= 520          # daily values
    a = an.AnalysisLogger(st, {"registers": list(an.CHOICES[:16]), "interval_s": 300})
    assert a.days() >= 2.5


@pytest.mark.parametrize("bad,field", [
    ({"registers": [], "interval_s": 900}, "registers"),
    ({"registers": ["a_plus"] * 17, "interval_s": 900}, "registers"),
    ({"registers": ["watts"], "interval_s": 900}, "registers[0]"),
    ({"registers": ["a_plus"], "interval_s": 7000}, "interval_s"),
    ({"registers": ["a_plus"], "interval_s": 90}, "interval_s"),
    ({"registers": ["a_plus"], "interval_s": 900, "x": 1}, "x: unknown"),
])
def test_bad_analysis_settings_are_named(bad, field):
    with pytest.raises(ValueError, match="config.analysis.*" + field.replace("[", r"\[")
                       .replace("]", r"\]")):
        Config("162", {"analysis": bad})

"""The frozen Pico image on the emulated RP2040 (tools/rp2emu): boot, one point, a readout.

The short part of the emulator suite that `make test` runs (about 30 s once the image is
built); `make rp2test` runs the rest (test_rp2_*.py). Skipped, with what to install,
where Node, the harness's packages, the bootrom or the ARM toolchain are missing.
"""

import pytest
import rp2_support as rs
from accuracy import record
from test_accuracy import B_REACT, pico_active_limit


@pytest.fixture(scope="module")
def uf2():
    return rs.image("pico")


def test_the_image_boots_and_its_frozen_viper_constants_load_right(uf2):
    with rs.chip(uf2) as c:
        out = c.exec("import sys, gc, array\n"
                     "from boards.pico.sampler import _stamp\n"
                     "a = array.array('I', [0x12345678, 0xFFFFFFFF, 1032234])\n"
                     "gc.collect()\n"
                     "print(sys.implementation._machine, _stamp(a, 0), _stamp(a, 1), "
                     "_stamp(a, 2), gc.mem_free())\n")
        st = c.status()
    machine, s0, s1, s2, free = out.rsplit(None, 4)
    assert "RP2040" in machine
    # a frozen viper function with a 32-bit literal (x & 0x3FFFFFFF): MicroPython 1.28
    # froze ARMV6M code 2-byte aligned and the literal loaded 2 bytes early
    # (tools/firmware.py ALIGN_NEW); x & 0xFFFFE001 was returned then
    assert (int(s0), int(s1), int(s2)) == (0x12345678 & 0x3FFFFFFF, 0x3FFFFFFF, 1032234)
    assert int(free) > 150000
    assert st["clk_peri"] == 48_000_000 and st["clk_sys"] == 125_000_000
    assert st["flash"]["erase"] >= 1          # littlefs formatted through the bootrom hooks


def test_one_accuracy_point_at_iref_pf_half_lagging(uf2):
    act, rea, res = rs.accuracy_point(uf2, 5.0, 60.0, window_s=4.0)
    print("emulated RP2040, 230 V 5 A PF 0.5L: active %+.4f %%, reactive %+.4f %%, "
          "%d periods, heap free %d" % (act, rea, res["periods"], res["mem_free"]))
    record("rp2_smoke_Iref_PF0.5L", "162 half class B, frozen image on the emulated RP2040",
           "Iref PF0.5L (smoke)", act, pico_active_limit(5.0, 0.5), rea, B_REACT)
    assert res["faults"] == 0 and res["errors"] == 0 and res["errors_ui"] == 0
    assert res["a"]["overruns"] == res["b"]["overruns"] == 0
    assert res["periods"] >= 3
    # the blocks the meter took cover the window's time (20 ms each)
    assert abs(res["blocks"] * 20000 - res["us"]) <= 40000, (res["blocks"], res["us"])
    assert abs(act) <= pico_active_limit(5.0, 0.5), act
    assert abs(rea) <= B_REACT, rea


def test_one_optical_readout_by_the_iec62056_21_client(uf2):
    with rs.chip(uf2) as c:
        c.analog(**rs.rp2emu.pico_analog(230.0, 40.0, 0.0))
        c.start(rs.METER_LOOP)
        c.run(ms=2000)
        sets = rs.readout(c)
        rs.stop_loop(c)
        mwh = c.exec_json("import json\n"
                          "print(json.dumps([meter.registers.mwh(n) for n in "
                          "('a_plus', 'a_minus', 'r_plus')]))")
        st = c.status()
    assert st["uart_baud"] in (300, 9600) or st["uart_baud"]
    for (code, unit), v in zip((("1.8.0", "kWh"), ("2.8.0", "kWh"), ("3.8.0", "kvarh")), mwh):
        assert sets[code].unit == unit, code
        whole, _, frac = sets[code].value.partition(".")
        assert len(frac) == 1
        # the readout was taken before the loop stopped: at most the energy since then
        assert int(whole) * 10 + int(frac) <= v // 100000
    assert mwh[0] > 0

"""Accuracy of the frozen Pico image on the emulated RP2040 at the 162's test points (rp2test).

The image boots on rp2040js (tools/rp2emu); boards/pico/main.py's boot() and run() meter
an analytic waveform fed to the ADC pins through the Pico front end (pico_analog: the
AC-AC adapter divider and the CT burden of boards/pico/board.py's FRONT_END), with the
RP2040-E11 wide codes and 1.2 LSB rms of noise in the converter (tools/rp2emu/adc.mjs,
written from the erratum, not from the firmware's correction). Truth: V I cos(phi) (and
sin) over the whole measuring periods the window held. Bars: those of the board models
(test_board_accuracy.py, half of class B); points of the Kamstrup 162's Itr 0.5 A, Iref
5 A and Imax 85 A, PF 1 and 0.5 L, export, capacitive, 49 Hz and a harmonic load.
"""

import pytest
import rp2_support as rs
from accuracy import P162, record
from test_accuracy import B_REACT, PHI, _pf, pico_active_limit

pytestmark = rs.full

POINTS = [("I=0.5A PF1", 0.5, "PF1", 50.0, (), 10.0),
          ("I=5A PF1", 5.0, "PF1", 50.0, (), 5.0),
          ("I=85A PF1", 85.0, "PF1", 50.0, (), 5.0),
          ("I=0.5A PF0.5L", 0.5, "0.5L", 50.0, (), 10.0),
          ("I=5A PF0.5L", 5.0, "0.5L", 50.0, (), 5.0),
          ("I=85A PF0.5L", 85.0, "0.5L", 50.0, (), 5.0),
          ("I=85A PF0.8C", 85.0, "0.8C", 50.0, (), 5.0),
          ("Iref export", 5.0, "exp", 50.0, (), 5.0),
          ("Iref PF0.5L 49Hz", 5.0, "0.5L", 49.0, (), 5.0),
          ("0.5Imax PF1 5th harm 10%U 40%I", 42.5, "PF1", 50.0, ((5, 0.10, 0.40, 0.0),), 5.0)]


@pytest.fixture(scope="module")
def uf2():
    return rs.image("pico")


@pytest.mark.parametrize("desc,i,key,f,harm,window", POINTS, ids=[p[0] for p in POINTS])
def test_point(uf2, desc, i, key, f, harm, window):
    phi = PHI[key]
    act, rea, res = rs.accuracy_point(uf2, i, phi, f=f, harmonics=harm, window_s=window,
                                      phase0=37.0)
    lim_a = pico_active_limit(i, _pf(phi))
    lim_r = B_REACT if rea is not None and i >= P162["itr"] else None
    print("emulated RP2040 %s: active %+.4f %% (limit %.2f), reactive %s, %d periods"
          % (desc, act, lim_a, "-" if rea is None else "%+.4f %%" % rea, res["periods"]))
    record("rp2_" + desc.replace(" ", "_"), "162 half class B, frozen image on the emulated "
           "RP2040", desc, act, lim_a, rea, lim_r)
    assert res["faults"] == 0 and res["errors"] == 0
    assert res["b"]["overruns"] == 0 and res["b"]["resyncs"] == 0
    assert abs(act) <= lim_a, act
    if lim_r is not None:
        assert abs(rea) <= lim_r, rea

"""Accuracy through the boards' own drivers: boards/pico/sampler.py on the RP2040 ADC/DMA
model and boards/pico_ads131m08 on the PIO/DMA/ADS131M08 models, inside the simulator
(`tools/sim.py --board`), against the analytic truth of truth.py, with the bars of the
metrology issue (test_accuracy.py): half of class B for the Pico's 12-bit ADC, five
times inside class C for the 24-bit AFE. A subset of test_accuracy.py's points (the
models run every conversion: 10 s each on the Pico, 3 s on the ADS131M08, whose model
runs at about half real time).
"""


import pytest
from accuracy import P162, P351, errors, phases, record, run_board, scenario
from test_accuracy import B_REACT, C_REACT, PHI, _pf, afe_active_limit, pico_active_limit

SECONDS = 10



def check(prefix, group, desc, act, lim_a, rea, lim_r):
    """Record the point in the accuracy table, then hold it to its limits."""
    record(prefix + desc.replace(" ", "_"), group, desc, act, lim_a, rea, lim_r)
    if lim_a is not None:
        assert abs(act) <= lim_a, "active error %.4f %%" % act
    if lim_r is not None:
        assert abs(rea) <= lim_r, "reactive error %.4f %%" % rea


PICO = [("I=0.25A PF1", 0.25, "PF1", 50.0, {}), ("I=0.5A PF1", 0.5, "PF1", 50.0, {}),
        ("I=5A PF1", 5.0, "PF1", 50.0, {}), ("I=85A PF1", 85.0, "PF1", 50.0, {}),
        ("I=0.5A PF0.5L", 0.5, "0.5L", 50.0, {}), ("I=5A PF0.5L", 5.0, "0.5L", 50.0, {}),
        ("I=85A PF0.8C", 85.0, "0.8C", 50.0, {}), ("Iref exp", 5.0, "exp", 50.0, {}),
        ("Iref Q3", 5.0, "Q3", 50.0, {}), ("Iref sin1L", 5.0, "sin1L", 50.0, {}),
        ("Iref PF0.5L 49Hz", 5.0, "0.5L", 49.0, {}),
        ("0.5Imax PF1 5th harm 10%U 40%I", 42.5, "PF1", 50.0,
         {"harmonics": [[5, 0.10, 0.40, 0.0]]})]


@pytest.mark.parametrize("desc,i,phi_key,f,opt", PICO, ids=[g[0] for g in PICO])
def test_pico_board(desc, i, phi_key, f, opt, tmp_path):
    phi = PHI[phi_key]
    sc = scenario("162", phases(1, i, phi, harmonics=opt.get("harmonics")), SECONDS, f)
    rep = run_board(sc, "pico", tmp_path)
    assert rep["sampler"]["overruns"] == 0 and rep["sampler"]["resyncs"] == 0
    act, rea, _t = errors(rep, sc)
    lim_a = pico_active_limit(i, _pf(phi)) if act is not None else None
    lim_r = B_REACT if rea is not None and i >= P162["itr"] else None
    check("board_pico_", "162 half class B, boards/pico on the RP2040 model", desc, act,
          lim_a, rea, lim_r)


# -- the 3-phase board: boards/pico_ads131m08 on the PIO, DMA and ADS131M08 models --------
ADS_SECONDS = 3
ADS = [("I=0.05A PF1", 0.05, "PF1", 50.0, {}),
       ("I=5A PF1", 5.0, "PF1", 50.0, {}), ("I=6A PF0.5L", 6.0, "0.5L", 50.0, {}),
       ("I=1A PF0.8C", 1.0, "0.8C", 50.0, {}), ("In sin1L", 5.0, "sin1L", 50.0, {}),
       ("In PF0.5L 51Hz reversed sequence", 5.0, "0.5L", 51.0, {"reverse": True}),
       ("In PF0.5L Aron 3-wire", 5.0, "0.5L", 50.0, {"wiring": "aron"}),
       ("0.5Imax PF1 5th harm 10%U 40%I", 3.0, "PF1", 50.0,
        {"harmonics": [[5, 0.10, 0.40, 0.0]]})]


@pytest.mark.parametrize("desc,i,phi_key,f,opt", ADS, ids=[g[0] for g in ADS])
def test_ads131m08_board(desc, i, phi_key, f, opt, tmp_path):
    phi = PHI[phi_key]
    wiring = opt.get("wiring", "4w")
    ph = phases(3, i, phi, harmonics=opt.get("harmonics"), reverse=opt.get("reverse", False))
    sc = scenario("351", ph, ADS_SECONDS, f, wiring)
    rep = run_board(sc, "pico_ads131m08", tmp_path)
    smp = rep["sampler"]
    assert smp["overruns"] == 0 and smp["crc_errors"] == 0 and smp["status_errors"] == 0
    act, rea, _t = errors(rep, sc)
    lim_a = afe_active_limit(i, _pf(phi), P351) if act is not None else None
    lim_r = C_REACT if rea is not None and i >= P351["itr"] else None
    check("board_ads_", "351 class C bar, boards/pico_ads131m08 on the ADS131M08 model",
          desc, act, lim_a, rea, lim_r)

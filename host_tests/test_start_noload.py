"""Starting current and no-load (creep) tests, EN 50470-3 / IEC 62053-21, through the real
firmware on MicroPython at waveform fidelity, with converter noise on."""

import pytest
from accuracy import P162, P351, errors, no_load_minutes, phases, record, run_sim, scenario

# (profile, adc, phases, Imax, LED imp/kWh)
METERS = [("351", "ads131m08", 3, P351, 10000), ("162", "ads131m08", 1, P162, 1000),
          ("162", "rp2040", 1, P162, 1000)]


@pytest.mark.parametrize("profile,adc,n,prof,k", METERS, ids=[m[0] + "-" + m[1] for m in METERS])
def test_no_load_at_115_un(profile, adc, n, prof, k, tmp_path):
    """1.15 Un, current circuits open, for the standard's duration: at most one LED pulse."""
    minutes = no_load_minutes(k, n, prof["un"], prof["imax"])
    sc = scenario(profile, phases(n, 0.0, 0.0, v=1.15 * prof["un"]), int(minutes * 60) + 1)
    rep = run_sim(sc, adc, tmp_path)
    p = rep["pulses"]
    assert p["led_active"]["emitted"] + p["led_active"]["pending"] <= 1
    assert p["led_reactive"]["emitted"] + p["led_reactive"]["pending"] <= 1
    reg = rep["registers"]
    creep = max(reg[x]["secondary_wh"] for x in ("a_plus", "a_minus", "r_plus", "r_minus"))
    record("noload_%s_%s" % (profile, adc), "no-load 1.15 Un", "%s %s, %.1f min" % (
        profile, adc, minutes), None, None, None, None,
        "LED pulses %d, largest register %.4f Wh (one pulse = %.1f Wh)"
        % (p["led_active"]["emitted"], creep, 1000.0 / k))
    assert creep < 1000.0 / k


@pytest.mark.parametrize("direction", ["import", "export"])
@pytest.mark.parametrize("profile,adc,n,prof,k", METERS, ids=[m[0] + "-" + m[1] for m in METERS])
def test_starting_current(profile, adc, n, prof, k, direction, tmp_path):
    """At Ist (PF 1, balanced) the meter starts and keeps registering, in both directions:
    at least two LED pulses in 1.5x the time two ideal pulses take, energy within 5 %."""
    i = prof["ist"]
    phi = 0.0 if direction == "import" else 180.0
    power = n * prof["un"] * i
    t_pulse = 3600.0 * 1000.0 / (k * power)
    seconds = int(1.5 * 2 * t_pulse) + 1
    sc = scenario(profile, phases(n, i, phi), seconds)
    rep = run_sim(sc, adc, tmp_path)
    act, _rea, _t = errors(rep, sc)
    led = rep["pulses"]["led_active"]
    record("start_%s_%s_%s" % (profile, adc, direction), "starting current Ist",
           "%s %s %s Ist=%g A, %d s" % (profile, adc, direction, i, seconds), act, 5.0,
           None, None, "LED pulses %d" % led["emitted"])
    assert led["emitted"] >= 2
    assert abs(act) < 5.0

"""tools/sim.py end to end: scenario errors, report contents, runtimes, fidelities, state."""

import json
import os
import subprocess
import sys

import pytest
import truth

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIM = [sys.executable, os.path.join(ROOT, "tools", "sim.py")]


def write(tmp, sc, name="sc.json"):
    p = os.path.join(str(tmp), name)
    with open(p, "w") as f:
        json.dump(sc, f)
    return p


def sim(*args):
    return subprocess.run(SIM + list(args), cwd=ROOT, capture_output=True, text=True,
                          timeout=600)


def seg(seconds, i, phi, v=230.0, f=50.0):
    return {"duration_s": seconds, "frequency_hz": f,
            "phases": [{"v_rms": v, "i_rms": i, "phi_deg": phi}]}


SC = {"start": "2026-03-01T12:00:00Z", "profile": "162",
      "segments": [seg(20, 10.0, 30.0), seg(10, 3.0, 200.0), seg(10, 0.0, 0.0)]}


def test_bad_scenario_names_the_field(tmp_path):
    bad = json.loads(json.dumps(SC))
    bad["segments"][1]["phases"][0]["i_rms"] = -3
    r = sim("--scenario", write(tmp_path, bad), "--quiet")
    assert r.returncode == 2
    assert "segments[1].phases[0].i_rms" in r.stderr + r.stdout
    r = sim("--scenario", write(tmp_path, "not a scenario"), "--quiet")
    assert r.returncode == 2


def test_report_registers_and_pulses(tmp_path):
    rep = os.path.join(str(tmp_path), "r.json")
    r = sim("--scenario", write(tmp_path, SC), "--quiet", "--report", rep)
    assert r.returncode == 0, r.stdout + r.stderr
    got = json.load(open(rep))
    t = truth.energies(SC)["total"]
    reg = got["registers"]
    assert reg["a_plus"]["obis"] == "1.8.0" and reg["r4"]["obis"] == "8.8.0"
    for key, name in (("A+", "a_plus"), ("A-", "a_minus"), ("R+", "r_plus"), ("R-", "r_minus"),
                      ("R1", "r1"), ("R3", "r3")):
        assert abs(reg[name]["wh"] - t[key]) <= 0.005 * t[key] + 0.002, (name, reg[name], t[key])
    # the LED gives exactly the whole pulses of the energy it was fed (1000 imp/kWh = 1 Wh)
    led = got["pulses"]["led_active"]
    fed = reg["a_plus"]["secondary_mwh"] + reg["a_minus"]["secondary_mwh"]
    assert led["emitted"] + led["pending"] == fed // 1000
    assert led["pin_rises"] == led["emitted"]
    assert got["sim_seconds"] == 40.0


def test_cpython_runtime_matches_micropython(tmp_path):
    short = {"start": "2026-03-01T12:00:00Z", "profile": "162",
             "segments": [seg(2, 10.0, 45.0)]}
    p = write(tmp_path, short)
    out = []
    for rt in ("micropython", "cpython"):
        rep = os.path.join(str(tmp_path), rt + ".json")
        r = sim("--scenario", p, "--quiet", "--report", rep, "--runtime", rt)
        assert r.returncode == 0, r.stdout + r.stderr
        out.append(json.load(open(rep)))
    assert out[0]["runtime"] == "micropython" and out[1]["runtime"] == "cpython"
    for name in ("a_plus", "r_plus"):
        a, b = out[0]["registers"][name]["wh"], out[1]["registers"][name]["wh"]
        assert abs(a - b) <= 1e-9 * abs(a) + 1e-9, (name, a, b)


def test_phasor_fidelity_runs_the_household_day(tmp_path):
    rep = os.path.join(str(tmp_path), "r.json")
    path = os.path.join(ROOT, "boards", "sim", "scenarios", "household_day.json")
    r = sim("--scenario", path, "--quiet", "--report", rep, "--fidelity", "phasor")
    assert r.returncode == 0, r.stdout + r.stderr
    got = json.load(open(rep))
    sc = json.load(open(path))
    t = truth.energies(sc)["total"]
    assert got["sim_seconds"] == t["duration_s"] == 86400
    for key, name in (("A+", "a_plus"), ("A-", "a_minus"), ("R+", "r_plus"),
                      ("R-", "r_minus")):
        assert abs(got["registers"][name]["wh"] - t[key]) <= 1e-6 * t[key] + 1e-3, name


def test_state_dir_keeps_registers_between_runs(tmp_path):
    p = write(tmp_path, {"start": "2026-03-01T12:00:00Z", "profile": "162",
                         "segments": [seg(5, 20.0, 0.0)]})
    state = os.path.join(str(tmp_path), "state")
    vals = []
    for k in range(2):
        rep = os.path.join(str(tmp_path), "r%d.json" % k)
        r = sim("--scenario", p, "--quiet", "--report", rep, "--state", state)
        assert r.returncode == 0, r.stdout + r.stderr
        vals.append(json.load(open(rep))["registers"]["a_plus"]["wh"])
    assert abs(vals[1] - 2 * vals[0]) < 1e-6 * vals[0]
    assert abs(vals[0] - 230 * 20 * 5 / 3600) < 0.005 * vals[0]


def test_plain_terminal_output(tmp_path):
    p = write(tmp_path, {"start": "2026-03-01T12:00:00Z", "profile": "351",
                         "segments": [{"duration_s": 3, "phases": [
                             {"v_rms": 230, "i_rms": 5, "phi_deg": 0}] * 3}]})
    r = sim("--scenario", p, "--no-ansi")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "\x1b[" not in r.stdout
    assert "1.8.0" in r.stdout and "L3" in r.stdout and "(end)" in r.stdout


def test_351_ct_ratio_primary_energy_and_s0(tmp_path):
    """CT 3000/5: primary registers are 600x the secondary; S0 on primary energy at full
    load cannot keep up (600 x 4.1 kW at 5000 imp/kWh) and reports its overrun."""
    sc = {"start": "2026-03-01T12:00:00Z", "profile": "351",
          "segments": [{"duration_s": 10, "phases": [
              {"v_rms": 230, "i_rms": 6, "phi_deg": 0}] * 3}]}
    cfg = os.path.join(str(tmp_path), "cfg.json")
    with open(cfg, "w") as f:
        json.dump({"ct": [3000, 5], "s0_primary": True, "pulse_ms": 80}, f)
    rep = os.path.join(str(tmp_path), "r.json")
    r = sim("--scenario", write(tmp_path, sc), "--quiet", "--report", rep, "--config", cfg)
    assert r.returncode == 0, r.stdout + r.stderr
    got = json.load(open(rep))
    a = got["registers"]["a_plus"]
    assert abs(a["secondary_wh"] - 3 * 230 * 6 * 10 / 3600) < 0.001 * a["secondary_wh"]
    assert abs(a["wh"] - 600 * a["secondary_wh"]) < 1e-6 * a["wh"]
    s0 = got["pulses"]["s0"]
    assert s0["overrun"] > 0
    # nothing lost: emitted + queued = whole pulses of the primary energy (200 mWh each)
    assert s0["emitted"] + s0["active"] + s0["pending"] == a["mwh"] // 200


@pytest.mark.parametrize("op", [97, 98])
def test_state_survives_a_power_cut_in_the_middle_of_a_register_save(tmp_path, op):
    """162 at 85 A, PF 1: 19.55 kW, a save at every 0.1 kWh (every 18.4 s), each save
    two records (registers, then tariff registers/counters/demand). Run 1 is cut (the
    plug pulled) at byte 100 of flash operation 97 or 98: ops 0-2 are the first boot's
    configuration and power-up records, ops 3-96 the saves at 0.1 .. 4.7 kWh, ops 97
    and 98 the two records of the save at 4.8 kWh. Run 2 must resume from 4.7 kWh (plus
    the < 5.43 Wh of the second that crossed it), log the torn write, and not raise the
    data-lost flag."""
    p = write(tmp_path, {"start": "2026-03-01T12:00:00Z", "profile": "162",
                         "segments": [seg(1800, 85.0, 0.0)]})
    state = os.path.join(str(tmp_path), "state")
    r = sim("--scenario", p, "--quiet", "--fidelity", "phasor", "--state", state,
            "--cut", "%d:100" % op)
    assert r.returncode == 3, r.stdout + r.stderr
    assert "power cut" in r.stdout
    rep = os.path.join(str(tmp_path), "r.json")
    r = sim("--scenario", p, "--quiet", "--fidelity", "phasor", "--state", state,
            "--report", rep)
    assert r.returncode == 0, r.stdout + r.stderr
    got = json.load(open(rep))
    one_run = 230 * 85 * 1800 / 3600
    resumed = got["registers"]["a_plus"]["wh"] - one_run
    assert 4700 <= resumed < 4700 + 230 * 85 / 3600 + 1e-6, resumed
    st = got["store"]
    assert st["boot"]["registers"] == [1, 0]          # one torn write, nothing corrupt
    codes = [e[1] for e in st["events"]]
    assert codes == [1, 3, 1, 2]     # power up, (cut), torn write, power up, power down
    assert not st["data_lost"]
    # a third run: everything kept, nothing torn any more
    r = sim("--scenario", p, "--quiet", "--fidelity", "phasor", "--state", state,
            "--report", rep)
    got = json.load(open(rep))
    assert abs(got["registers"]["a_plus"]["wh"] - resumed - 2 * one_run) < 1e-6
    assert got["store"]["boot"]["registers"] == [0, 0]


def test_state_refuses_a_changed_legal_setting(tmp_path):
    p = write(tmp_path, {"start": "2026-03-01T12:00:00Z", "profile": "351",
                         "segments": [{"duration_s": 2, "phases": [
                             {"v_rms": 230, "i_rms": 5, "phi_deg": 0}] * 3}]})
    state = os.path.join(str(tmp_path), "state")
    r = sim("--scenario", p, "--quiet", "--fidelity", "phasor", "--state", state)
    assert r.returncode == 0, r.stdout + r.stderr
    cfg = os.path.join(str(tmp_path), "cfg.json")
    with open(cfg, "w") as f:
        json.dump({"display": "7.0"}, f)
    r = sim("--scenario", p, "--quiet", "--fidelity", "phasor", "--state", state,
            "--config", cfg)
    assert r.returncode == 2
    assert "legal setting display" in r.stdout + r.stderr


def lcd_screens(text):
    """The LCD pictures in --no-ansi output, as (top line, digit rows, ident line)."""
    lines = text.splitlines()
    out = []
    for k, ln in enumerate(lines):
        if ln.startswith("+---") and k + 6 < len(lines) and lines[k + 6].startswith("+---"):
            out.append(lines[k + 1:k + 6])
    return out


def test_terminal_lcd_scrolls_and_answers_the_button(tmp_path):
    """make sim's picture: the configured automatic list in order, 10 s each, the manual
    list after a press (MAN), indicators live (Q1, T2 in the day tariff, L1), plain
    lines with --no-ansi and in-place redraw (ANSI) without it."""
    sc = {"start": "2026-03-02T10:00:00Z", "profile": "162",
          "button": [[31.0, 0.2], [33.0, 0.2]],
          "segments": [seg(40, 10.0, 30.0)]}
    p = write(tmp_path, sc)
    cfg = os.path.join(ROOT, "boards", "sim", "configs", "day_night.json")
    r = sim("--scenario", p, "--no-ansi", "--refresh-ms", "0", "--config", cfg)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "\x1b[" not in r.stdout
    screens = lcd_screens(r.stdout)
    idents = []
    for s in screens:
        ident = s[4].strip("| ").split()[0]
        if not idents or idents[-1][0] != ident or idents[-1][1] != ("MAN" in s[0]):
            idents.append((ident, "MAN" in s[0]))
    # 0, 10, 20, 30 s: the first four of the automatic list; 31.2 s and 33.2 s: releases
    assert idents == [("1.8.0", False), ("2.8.0", False), ("1.8.1", False), ("1.8.2", False),
                      ("1.8.0", True), ("2.8.0", True)], idents
    top = screens[-1][0].split()
    assert top[1:4] == ["Q1", "T2", "L1"], top      # 11:00 CET: the day tariff T2
    # the unit field of the energy entries
    assert screens[-1][3].split()[-2] == "kWh"
    r = sim("--scenario", p, "--refresh-ms", "0", "--config", cfg)
    assert r.returncode == 0 and "\x1b[" in r.stdout and r.stdout.count("+---") > 4


@pytest.mark.parametrize("name", sorted(os.listdir(os.path.join(ROOT, "boards", "sim",
                                                                "scenarios"))))
def test_every_shipped_scenario_is_valid(name):
    from boards.sim import scenario

    sc = scenario.load(os.path.join(ROOT, "boards", "sim", "scenarios", name))
    assert sc["duration_s"] > 0


def test_board_option_errors_name_the_problem(tmp_path):
    sc = os.path.join(ROOT, "boards", "sim", "scenarios", "three_phase_day.json")
    r = sim("--board", "pico", "--scenario", sc, "--quiet")
    assert r.returncode == 2 and "--board pico: a 1-phase board" in r.stdout + r.stderr
    bad = tmp_path / "errors.json"
    bad.write_text(json.dumps({"1": {"gain_points": [[5, 1.0], [1, 1.0]]}}))
    r = sim("--board", "pico", "--errors", str(bad), "--quiet", "--scenario",
            os.path.join(ROOT, "boards", "sim", "scenarios", "board_minute.json"))
    assert r.returncode == 2 and "gain_points[1]" in r.stdout + r.stderr
    r = sim("--errors", str(bad), "--quiet")
    assert r.returncode == 2 and "need --board" in r.stderr

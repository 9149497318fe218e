"""Accuracy harness: one test point = one scenario run through the real firmware on the
MicroPython unix port (waveform fidelity), compared with the analytic truth of truth.py.

Results are written to build/accuracy/<id>.json; conftest.py prints them as the
accuracy table at the end of the pytest run (also across xdist workers).
"""

import json
import math
import os
import subprocess
import sys

import truth

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "build", "accuracy")
MPY = os.path.join(os.path.dirname(sys.executable), "micropython")

# The two meters of the issue (currents in A, secondary for the 351).
P351 = {"un": 230.0, "in": 5.0, "itr": 0.25, "imin": 0.05, "ist": 0.005, "imax": 6.0}
P162 = {"un": 230.0, "iref": 5.0, "itr": 0.5, "imin": 0.25, "ist": 0.02, "imax": 85.0}


def phases(n, i, phi, v=230.0, harmonics=None, reverse=False, loaded=None):
    """Phase list for a scenario: balanced unless `loaded` names the one loaded phase."""
    out = []
    angles = (0.0, 120.0, -120.0) if reverse else (0.0, -120.0, 120.0)
    for k in range(n):
        ph = {"v_rms": v, "i_rms": i if loaded is None or loaded == k else 0.0,
              "phi_deg": phi % 360, "v_angle_deg": angles[k]}
        if harmonics:
            ph["harmonics"] = harmonics
        out.append(ph)
    return out


def scenario(profile, ph, seconds, f=50.0, wiring="4w", noise=True):
    sc = {"start": "2026-01-01T00:00:00Z", "profile": profile,
          "segments": [{"duration_s": seconds, "frequency_hz": f, "phases": ph}]}
    if wiring != "4w":
        sc["wiring"] = wiring
    if not noise:
        sc["segments"][0]["noise"] = False
    return sc


def run_sim(sc, adc, tmp, seed=1, extra=()):
    """Run the firmware on the sim board under MicroPython; return its --report dict."""
    path = os.path.join(str(tmp), "scenario.json")
    rep = os.path.join(str(tmp), "report.json")
    with open(path, "w") as f:
        json.dump(sc, f)
    env = dict(os.environ, MICROPYPATH=".frozen:.")
    cmd = [MPY, "-X", "heapsize=2m", "boards/sim/main.py", "--scenario", path, "--quiet",
           "--report", rep, "--adc", adc, "--seed", str(seed)] + list(extra)
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr
    with open(rep) as f:
        return json.load(f)


def run_board(sc, board, tmp, seed=1, extra=()):
    """Run the firmware with a real board's sampler on the hardware models (CPython,
    tools/sim.py --board); return its --report dict."""
    path = os.path.join(str(tmp), "scenario.json")
    rep = os.path.join(str(tmp), "report.json")
    with open(path, "w") as f:
        json.dump(sc, f)
    cmd = [sys.executable, "tools/sim.py", "--board", board, "--scenario", path, "--quiet",
           "--report", rep, "--seed", str(seed)] + list(extra)
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr
    with open(rep) as f:
        return json.load(f)


def errors(rep, sc):
    """(active error %, reactive error %, truth dict): net registers against truth."""
    t = truth.energies(sc)["total"]
    reg = rep["registers"]
    ea = reg["a_plus"]["secondary_wh"] - reg["a_minus"]["secondary_wh"]
    er = reg["r_plus"]["secondary_wh"] - reg["r_minus"]["secondary_wh"]
    ta = t["A+"] - t["A-"]
    tr = t["R+"] - t["R-"]
    act = (ea - ta) / abs(ta) * 100 if abs(ta) > 1e-9 else None
    rea = (er - tr) / abs(tr) * 100 if abs(tr) > 1e-9 else None
    return act, rea, t


def record(pid, group, desc, act, lim_a, rea, lim_r, note=""):
    os.makedirs(OUT, exist_ok=True)
    row = {"id": pid, "group": group, "point": desc, "active": act, "limit_active": lim_a,
           "reactive": rea, "limit_reactive": lim_r, "note": note}
    with open(os.path.join(OUT, pid + ".json"), "w") as f:
        json.dump(row, f)


def fmt(x):
    return "-" if x is None else ("%+.4f" % x)


def table_lines():
    """The accuracy table from build/accuracy (printed by conftest at the end of the run)."""
    if not os.path.isdir(OUT):
        return []
    rows = []
    for name in sorted(os.listdir(OUT)):
        if name.endswith(".json"):
            with open(os.path.join(OUT, name)) as f:
                rows.append(json.load(f))
    if not rows:
        return []
    lines = ["| group | test point | active err % | limit % | reactive err % | limit % | note |",
             "|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: (r["group"], r["id"])):
        lines.append("| %s | %s | %s | %s | %s | %s | %s |" % (
            r["group"], r["point"], fmt(r["active"]),
            "-" if r["limit_active"] is None else "%.2f" % r["limit_active"],
            fmt(r["reactive"]),
            "-" if r["limit_reactive"] is None else "%.2f" % r["limit_reactive"], r["note"]))
    return lines


def pulse_period_s(power_w, imp_per_kwh):
    return 3600.0 * 1000.0 / (imp_per_kwh * power_w)


def no_load_minutes(k, m, un, imax, class_factor=600e6):
    """IEC 62053-21 no-load test duration: 600e6 / (k m Un Imax) minutes (class 2 form;
    480e6 for class 1). We run the longer 600e6 form for both meters."""
    return class_factor / (k * m * un * imax)


def deg(x):
    return math.degrees(x)

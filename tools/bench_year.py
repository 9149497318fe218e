"""`make bench`: simulated days per second for a year at phasor fidelity with coarse steps.

A household year (four load segments a day, PF 0.9, the evening peak growing
through the year) runs through tools/sim.py --coarse under CPython and under the
MicroPython unix port, with the product's record store on a file (--state): the
meter does everything it does on a board: tariffs, demand, load profile, billing
stops, saves. Figures only.
"""

import json
import math
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PHI = math.degrees(math.acos(0.9))


def scenario():
    segs = []
    for d in range(365):
        for hours, watts in ((7, 1500), (11, 4000), (1, 9000 + d), (5, 4000)):
            segs.append({"duration_s": hours * 3600, "phases": [
                {"v_rms": 230.0, "i_rms": watts / 230.0 / 0.9, "phi_deg": PHI}]})
    return {"start": "2025-12-31T23:00:00Z", "profile": "162", "segments": segs}


def main():
    with tempfile.TemporaryDirectory() as tmp:
        sc = os.path.join(tmp, "year.json")
        with open(sc, "w") as f:
            json.dump(scenario(), f)
        print("| runtime | simulated days | wall s | days/s | billing stops | profile entries |")
        print("|---|---:|---:|---:|---:|---:|")
        for rt in ("cpython", "micropython"):
            rep = os.path.join(tmp, rt + ".json")
            cmd = [sys.executable, "tools/sim.py", "--runtime", rt, "--heap", "8m",
                   "--scenario", sc, "--fidelity", "phasor", "--coarse", "--quiet",
                   "--state", os.path.join(tmp, rt), "--report", rep]
            subprocess.run(cmd, cwd=ROOT, check=True)
            with open(rep) as f:
                r = json.load(f)
            days = r["sim_seconds"] / 86400
            lb = r["logbook"]
            print("| %s | %.0f | %.1f | %.0f | %d | %d |"
                  % (rt, days, r["wall_seconds"], days / r["wall_seconds"],
                     lb["billing_stops"], len(lb["profile"]["entries"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())

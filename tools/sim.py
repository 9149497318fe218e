"""Run the mpmeter firmware on the simulator board (`make sim` calls this).

    python tools/sim.py [--scenario FILE] [--runtime micropython|cpython] [--speed N|max]
                        [--fidelity waveform|phasor] [--adc rp2040|ads131m08]
                        [--state DIR] [--report FILE.json] [--no-ansi] [--quiet]

The default runtime is the MicroPython unix port (the embedded default); the
scenario is checked here first so a bad file gets a clear error either way.
"""

import argparse
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIM_HEAP = "2m"  # the sim board's own waveform tables; the firmware itself fits 192k


def micropython_exe():
    here = os.path.join(os.path.dirname(sys.executable), "micropython")
    if os.path.exists(here):
        return here
    return os.path.join(ROOT, ".venv", "bin", "micropython")


def build_parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--scenario", default="boards/sim/scenarios/household_day.json",
                   help="scenario JSON (default: a day in a household, profile 162)")
    p.add_argument("--runtime", choices=("micropython", "cpython"), default="micropython")
    p.add_argument("--speed", default="max", help="simulated seconds per real second, or max")
    p.add_argument("--fidelity", choices=("waveform", "phasor"), default="waveform")
    p.add_argument("--adc", choices=("rp2040", "ads131m08"), default=None,
                   help="converter model (default: rp2040 for 162, ads131m08 for 351)")
    p.add_argument("--state", default=None,
                   help="directory keeping the meter's flash (DIR/flash.bin: registers, logs)")
    p.add_argument("--coarse", action="store_true",
                   help="phasor only: step straight to the next clock event (period end, "
                   "tariff switch, billing stop): a year in seconds; LED/S0 not simulated")
    p.add_argument("--cut", default=None, help="test aid with --state: N:K cuts the power at "
                   "byte K of flash operation N of this run (exit code 3)")
    p.add_argument("--report", default=None, help="write every register here as JSON")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--no-noise", action="store_true", help="converter noise off")
    p.add_argument("--no-ansi", action="store_true", help="plain lines, no escape codes")
    p.add_argument("--quiet", action="store_true", help="no terminal display")
    p.add_argument("--config", default=None, help="JSON of config overrides")
    p.add_argument("--cal", default=None, help="JSON list of calibrations per system")
    p.add_argument("--refresh-ms", type=int, default=250, help="display refresh, real ms")
    p.add_argument("--heap", default=SIM_HEAP, help="MicroPython heap (default %s)" % SIM_HEAP)
    return p


def forward(a):
    out = ["--scenario", a.scenario, "--speed", str(a.speed), "--fidelity", a.fidelity,
           "--seed", str(a.seed), "--refresh-ms", str(a.refresh_ms)]
    for flag, val in (("--adc", a.adc), ("--state", a.state), ("--report", a.report),
                      ("--config", a.config), ("--cal", a.cal), ("--cut", a.cut)):
        if val:
            out += [flag, os.path.abspath(val) if flag not in ("--adc", "--cut") else val]
    for flag, on in (("--no-noise", a.no_noise), ("--no-ansi", a.no_ansi),
                     ("--quiet", a.quiet), ("--coarse", a.coarse)):
        if on:
            out.append(flag)
    return out


def main(argv=None):
    a = build_parser().parse_args(argv)
    a.scenario = os.path.abspath(a.scenario)
    sys.path.insert(0, ROOT)
    from boards.sim import scenario

    try:
        scenario.load(a.scenario)
    except ValueError as e:
        print("mpmeter sim: error: %s" % e, file=sys.stderr)
        return 2
    if a.speed != "max":
        try:
            if float(a.speed) <= 0:
                raise ValueError
        except ValueError:
            print("mpmeter sim: error: --speed: a number > 0 or 'max'", file=sys.stderr)
            return 2
    args = forward(a)
    if a.runtime == "micropython":
        env = dict(os.environ, MICROPYPATH=".frozen:.")
        cmd = [micropython_exe(), "-X", "heapsize=" + a.heap, "boards/sim/main.py"] + args
        return subprocess.call(cmd, cwd=ROOT, env=env)
    os.chdir(ROOT)
    sys.path.insert(0, os.path.join(ROOT, "host_tests", "compat"))
    import micropython  # noqa: F401  (compat shim: viper annotations under CPython)
    from boards.sim import main as simmain

    return simmain.main(args)


if __name__ == "__main__":
    sys.exit(main())

"""Run the mpmeter firmware on the simulator board (`make sim` calls this).

    python tools/sim.py [--scenario FILE] [--runtime micropython|cpython] [--speed N|max]
                        [--fidelity waveform|phasor] [--adc rp2040|ads131m08]
                        [--state DIR] [--report FILE.json] [--no-ansi] [--quiet]
                        [--optical tcp:127.0.0.1:PORT] [--hold] [--seal open|closed]
                        [--board pico|pico_ads131m08 [--errors FILE] [--bench tcp:...]]

The default runtime is the MicroPython unix port (the embedded default); the
scenario is checked here first so a bad file gets a clear error either way.

This process is the meter: the MicroPython child dies with it (Linux: the kernel kills
the child when this process ends, however it ends; elsewhere this process becomes the
unix port), so a SIGKILL stops every write at once. SIGTERM or SIGINT sent here reaches
the child as one SIGINT (the unix port has no SIGTERM handler): the orderly end, the
registers saved (exit 130 mid-scenario, 0 with --hold after it).

A --state directory belongs to one running meter (boards/sim/statelock.py): a second
simulator on it is refused with an error naming the directory and the process that
holds it; a lock left by a killed meter does not block a restart.
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
    p.add_argument("--optical", default=None, help="tcp:127.0.0.1:PORT: the optical port "
                   "(IEC 62056-21) on a loopback TCP port")
    p.add_argument("--hold", action="store_true", help="after the scenario, keep serving "
                   "the optical port until SIGTERM/SIGINT (then exit 0)")
    p.add_argument("--board", choices=("pico", "pico_ads131m08"), default=None,
                   help="run that board's own sampler on the register-level hardware "
                   "models of host_tests (implies --runtime cpython)")
    p.add_argument("--errors", default=None, help="with --board: JSON of the front end's "
                   "analog errors (a mis-calibrated board, boards/sim/models.py)")
    p.add_argument("--bench", default=None, help="with --board: tcp:127.0.0.1:PORT, the "
                   "calibration bench's load control; runs until SIGTERM/SIGINT")
    p.add_argument("--seal", choices=("open", "closed"), default="closed",
                   help="the verification seal (open: calibration and legal settings "
                   "writable over the optical port)")
    p.add_argument("--heap", default=SIM_HEAP, help="MicroPython heap (default %s)" % SIM_HEAP)
    return p


def forward(a):
    out = ["--scenario", a.scenario, "--speed", str(a.speed), "--fidelity", a.fidelity,
           "--seed", str(a.seed), "--refresh-ms", str(a.refresh_ms)]
    for flag, val in (("--adc", a.adc), ("--state", a.state), ("--report", a.report),
                      ("--config", a.config), ("--cal", a.cal), ("--cut", a.cut),
                      ("--optical", a.optical), ("--board", a.board), ("--errors", a.errors),
                      ("--bench", a.bench), ("--seal", a.seal)):
        if val:
            path = flag not in ("--adc", "--cut", "--optical", "--board", "--bench", "--seal")
            out += [flag, os.path.abspath(val) if path else val]
    for flag, on in (("--no-noise", a.no_noise), ("--no-ansi", a.no_ansi),
                     ("--quiet", a.quiet), ("--coarse", a.coarse), ("--hold", a.hold)):
        if on:
            out.append(flag)
    return out


def _die_with_parent():
    """The child's pre-exec step on Linux: the kernel sends it SIGKILL when the process
    that started it ends (prctl PR_SET_PDEATHSIG); if that already happened, it ends."""
    import ctypes
    import signal

    parent = os.getpid()
    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def arm():
        if prctl(1, signal.SIGKILL, 0, 0, 0) != 0 or os.getppid() != parent:
            os._exit(70)

    return arm


def run_child(cmd, env, lock=None):
    """Run the MicroPython simulator. SIGTERM here becomes a SIGINT there (its
    KeyboardInterrupt: the orderly end); a SIGINT here (Ctrl-C reaches the child itself
    through the terminal) is passed on only if the child still runs a second later.
    lock: the state directory's lock (statelock.Lock), inherited by the child, which is
    noted in it. Returns the child's exit code. Off Linux this process execs the unix
    port in its place (then SIGTERM ends it at once, like a power cut)."""
    import signal
    import time

    keep = (lock.fd,) if lock is not None else ()
    if not sys.platform.startswith("linux"):
        for fd in keep:
            os.set_inheritable(fd, True)
        os.chdir(ROOT)
        os.execve(cmd[0], cmd, env)
    child = subprocess.Popen(cmd, cwd=ROOT, env=env, pass_fds=keep,
                             preexec_fn=_die_with_parent())
    if lock is not None:
        lock.note(child.pid)
    got = {}                            # signal -> when it arrived here

    def note(signum, frame):
        got.setdefault(signum, time.monotonic())

    old = [(s, signal.signal(s, note)) for s in (signal.SIGTERM, signal.SIGINT)]
    sent = None
    try:
        while True:
            try:
                return child.wait(timeout=0.05 if got and sent is None else 0.5)
            except subprocess.TimeoutExpired:
                pass
            now = time.monotonic()
            if sent is None and (signal.SIGTERM in got or
                                 now - got.get(signal.SIGINT, now) > 1.0):
                sent = now
                try:
                    child.send_signal(signal.SIGINT)
                except OSError:
                    pass                # it has just ended
            elif sent is not None and now - sent > 10:
                child.kill()            # did not stop on SIGINT: stop it for good
                return child.wait()
    finally:
        for s, h in old:
            signal.signal(s, h)
        if child.poll() is None:
            child.kill()
            child.wait()


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
    if a.board:
        a.runtime = "cpython"       # the hardware models are CPython test code
    elif a.errors or a.bench:
        print("mpmeter sim: error: --errors and --bench need --board", file=sys.stderr)
        return 2
    lock = None
    if a.state:
        from boards.sim import statelock

        try:
            lock = statelock.acquire(os.path.abspath(a.state))
        except ValueError as e:
            print("mpmeter sim: error: %s" % e, file=sys.stderr)
            return 2
    if a.runtime == "micropython":
        env = dict(os.environ, MICROPYPATH=".frozen:.")
        cmd = [micropython_exe(), "-X", "heapsize=" + a.heap, "boards/sim/main.py"] + args
        return run_child(cmd, env, lock)
    os.chdir(ROOT)
    import signal

    signal.signal(signal.SIGTERM, signal.default_int_handler)   # as the child: SIGINT
    sys.path.insert(0, os.path.join(ROOT, "host_tests", "compat"))
    import micropython  # noqa: F401  (compat shim: viper annotations under CPython)
    from boards.sim import main as simmain

    return simmain.main(args)


if __name__ == "__main__":
    sys.exit(main())

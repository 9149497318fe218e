"""Killing the simulator: SIGKILL at random moments, restart on the same state, on both
runtimes and both fidelities; one running meter per state directory.

What a supervisor or `kill -9` does to tools/sim.py must be a power cut of the meter:
every write stops at once, no process is left, the optical port closes, and the next
start resumes registers that never went backwards and lost at most the change in
flight (what the meter last showed, in save steps, is in the flash). Truth is the
meter's own terminal lines read before the kill, and the registers the next boot says
it restored (tools/sim.py prints both); the flash file is not read by the test.
"""

import json
import os
import random
import re
import signal
import socket
import subprocess
import time

import pytest
from sim_process import SIM
from sim_process import SimProcess as Run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NAMES = ("a_plus", "a_minus", "r_plus", "r_minus", "r1", "r2", "r3", "r4")
LABELS = ("A+", "A-", "R+", "R-", "R1", "R2", "R3", "R4")
ROUNDS = int(os.environ.get("MPMETER_KILL_ROUNDS", "5"))
STEP_MWH = 100000         # the 162's save step: one displayed 0.1 kWh (display code 6.1)

# a day of heavy load (85 A, PF 0.8 lagging): every register that moves moves fast
DAY = {"start": "2026-03-01T00:00:00Z", "profile": "162", "segments": [
    {"duration_s": 86400, "phases": [{"v_rms": 230.0, "i_rms": 85.0, "phi_deg": 36.87}]}]}


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def restored(line):
    """{register: mWh} of a boot line, {} for a new meter."""
    if "a new meter" in line:
        return {}
    return dict((k, int(v)) for k, v in re.findall(r"(\w+)=(\d+)", line))


def last_shown(lines):
    """{register: mWh} from the last complete register lines of the terminal (kWh with
    3 decimals, truncated: a lower bound of what the meter held then)."""
    seen = {}
    for ln in lines:
        for label, name in zip(LABELS, NAMES, strict=True):
            m = re.search(r"(?:^|\s)%s\s+\S+\s+(\d+\.\d{3})" % re.escape(label), ln)
            if m:
                seen[name] = int(round(float(m.group(1)) * 1000)) * 1000
    return seen


def leftovers(state):
    """Processes whose command line names the state directory."""
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open("/proc/%s/stat" % pid) as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    continue
        except OSError:
            continue
        if state in cmd:
            out.append((int(pid), cmd))
    return out


def port_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def gone(state, port, within=3.0):
    end = time.monotonic() + within
    while time.monotonic() < end:
        if not leftovers(state) and not port_open(port):
            return True
        time.sleep(0.02)
    return False


@pytest.mark.parametrize("runtime,fidelity", [("micropython", "waveform"),
                                              ("micropython", "phasor"),
                                              ("cpython", "waveform"),
                                              ("cpython", "phasor")])
def test_sigkill_at_random_moments_never_rewinds_the_registers(runtime, fidelity, tmp_path):
    rnd = random.Random("%s-%s" % (runtime, fidelity))
    sc = str(tmp_path / "day.json")
    with open(sc, "w") as f:
        json.dump(DAY, f)
    state = str(tmp_path / "state")
    prev = {}
    shown = {}
    moved = 0
    for k in range(ROUNDS + 1):
        port = free_port()
        last = k == ROUNDS
        args = ["--scenario", sc, "--state", state, "--runtime", runtime, "--fidelity",
                fidelity, "--no-ansi", "--refresh-ms", "20", "--optical",
                "tcp:127.0.0.1:%d" % port]
        if fidelity == "phasor":
            args += ["--speed", "2000"]      # a day in 43 s: the kills land mid-day
        r = Run(args)
        early = k % 3 == 2 and not last
        if early:
            # while it starts: the launcher, the unix port's imports, the store's mount
            # and its boot writes (events), the first blocks
            time.sleep(rnd.uniform(0.05, 1.0))
        else:
            boot = restored(r.wait_for("restored" if k else "a new meter"))
            # nothing went backwards, and what was shown before the kill was in the flash
            for name in NAMES:
                got = boot.get(name, 0)
                assert got >= prev.get(name, 0), (k, name, got, prev)
                assert got // STEP_MWH >= shown.get(name, 0) // STEP_MWH, (k, name, got,
                                                                            shown)
            moved += boot.get("a_plus", 0) > prev.get("a_plus", 0)
            prev = boot
            r.wait_for("optical port")
            if last:
                break
            time.sleep(rnd.uniform(0.5, 2.0))
        os.kill(r.proc.pid, signal.SIGKILL)   # the launcher only: what kill -9 does
        r.end()
        shown = last_shown(r.lines) or shown
        assert gone(state, port), ("left running after SIGKILL", leftovers(state))
    assert moved >= (ROUNDS + 2) // 3       # the rounds did measure between the kills
    # the last one ends in order on SIGTERM: the registers saved, exit 130, port closed
    time.sleep(0.3)
    r.proc.send_signal(signal.SIGTERM)
    r.end()
    tb = [i for i, ln in enumerate(r.lines) if ln.startswith("Traceback")]
    assert r.proc.returncode == 130, r.lines[tb[-1]:] if tb else r.lines[-10:]
    assert "interrupted (registers saved)" in r.lines[-1]
    assert gone(state, port)
    after = restored(Run(["--scenario", sc, "--state", state, "--runtime", runtime,
                          "--fidelity", fidelity, "--quiet", "--speed", "1"]).wait_for(
        "restored"))
    assert after["a_plus"] >= prev["a_plus"]
    subprocess.run(["pkill", "-KILL", "-f", state], check=False)


def test_one_meter_per_state_directory(tmp_path):
    sc = str(tmp_path / "short.json")
    with open(sc, "w") as f:
        json.dump({"start": "2026-03-01T00:00:00Z", "profile": "162", "segments": [
            {"duration_s": 2, "phases": [{"v_rms": 230.0, "i_rms": 5.0}]}]}, f)
    state = str(tmp_path / "state")
    port = free_port()
    first = Run(["--scenario", sc, "--state", state, "--quiet", "--hold", "--optical",
                 "tcp:127.0.0.1:%d" % port])
    first.wait_for("holding")
    second = subprocess.run(SIM + ["--scenario", sc, "--state", state, "--quiet"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert second.returncode == 2
    err = second.stderr
    assert "--state %s is in use" % state in err and str(first.proc.pid) in err, err
    assert port_open(port)                   # the first one was not disturbed
    first.proc.send_signal(signal.SIGTERM)
    first.end()
    assert first.proc.returncode == 0 and gone(state, port)
    # a lock file left by a process that is gone does not block a restart
    with open(os.path.join(state, "lock"), "w") as f:
        f.write("999999\n999998\n")
    third = subprocess.run(SIM + ["--scenario", sc, "--state", state, "--quiet"], cwd=ROOT,
                           capture_output=True, text=True, timeout=60)
    assert third.returncode == 0, third.stdout + third.stderr
    assert "restored" in third.stdout

"""The simulator's optical port over loopback TCP, read by a third-party IEC 62056-21 client.

tools/sim.py --optical tcp:127.0.0.1:PORT --hold serves the meter's optical port
(boards/sim/optical.py TcpPort) after the scenario; the PyPI client iec62056-21
(pwitab, the independent truth) reads it: the readout against the report's registers,
garbage connections, programming mode (P0, P1, R1), then SIGTERM ends the sim with 0.
"""

import json
import os
import random
import signal
import socket
import subprocess
import time

import pytest
from iec62056_21 import messages, transports
from iec62056_21.client import Iec6205621Client
from sim_process import SIM, SimProcess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

STX, ETX, ACK, NAK = b"\x02", b"\x03", b"\x06", b"\x15"
TIMEOUT = 5      # seconds, every client read (the library's default is 30)


def seg(seconds, i, phi):
    return {"duration_s": seconds, "frequency_hz": 50.0,
            "phases": [{"v_rms": 230.0, "i_rms": i, "phi_deg": phi}]}


# 15 minutes of a 162 (about 2 s under the unix port): import with reactive energy, then
# export. 1.8.0 ends near 1.99 kWh: the readout truncates (1.9), it does not round.
SCENARIO = {"start": "2026-03-01T12:00:00Z", "profile": "162",
            "segments": [seg(600, 60.0, 30.0), seg(300, 40.0, 200.0)]}
SHORT = {"start": "2026-03-01T12:00:00Z", "profile": "162", "segments": [seg(30, 10.0, 0.0)]}
REGISTERS = (("1.8.0", "a_plus", "kWh"), ("2.8.0", "a_minus", "kWh"),
             ("3.8.0", "r_plus", "kvarh"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sim(SimProcess):
    """tools/sim.py in its own process group (every process of it is killed at the end)."""

    def __init__(self, tmp, scenario, runtime="micropython", report=True, extra=()):
        self.port = free_port()
        sc = os.path.join(str(tmp), "scenario.json")
        with open(sc, "w") as f:
            json.dump(scenario, f)
        self.report_path = os.path.join(str(tmp), "report.json") if report else None
        cmd = SIM + ["--runtime", runtime, "--scenario", sc, "--quiet", "--hold",
                     "--optical", "tcp:127.0.0.1:%d" % self.port]
        if report:
            cmd += ["--report", self.report_path]
        cmd += list(extra)
        SimProcess.__init__(self, cmd[len(SIM):])     # stdout collected line by line

    def start(self):
        self.wait_for("optical port: tcp 127.0.0.1:%d" % self.port, 30)
        self.wait_for("holding", 60)          # the scenario ended, the report is written
        if self.report_path:
            with open(self.report_path) as f:
                self.report = json.load(f)
        return self

    def kill(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(10)


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    s = Sim(tmp_path_factory.mktemp("optical"), SCENARIO)
    try:
        yield s.start()
    finally:
        s.kill()


def client(port):
    c = Iec6205621Client(transports.TcpTransport(address=("127.0.0.1", port),
                                                 timeout=TIMEOUT))
    c.connect()
    return c


def readout(port):
    """{address: DataSet} of a standard readout (mode C, option select 0)."""
    c = client(port)
    try:
        answer = c.standard_readout()
    finally:
        c.disconnect()
    return dict((d.address, d) for d in answer.data if d.address)


def password(pw):
    """P1 (pw) with the library's own framing (its send_password() fails in 0.0.2:
    DataSet() without an address, command type "1" as a string)."""
    return messages.CommandMessage(command="P", command_type=1,
                                   data_set=messages.DataSet(address="", value=pw)).to_bytes()


def tenths(text):
    whole, dot, frac = text.partition(".")
    assert dot and len(frac) == 1, "162 A code 6.1: one decimal, got %r" % text
    return int(whole) * 10 + int(frac)


def check(sets, report):
    for code, name, unit in REGISTERS:
        mwh = report["registers"][name]["mwh"]
        assert sets[code].unit == unit, code
        # the display resolution: 0.1 kWh, truncated (floor(mwh / 100000) / 10)
        assert tenths(sets[code].value) == mwh // 100000, (code, sets[code].value, mwh)


def test_readout_matches_report(sim):
    sets = readout(sim.port)
    check(sets, sim.report)
    assert sim.report["registers"]["a_plus"]["mwh"] >= 1000000        # not all zero
    assert sim.report["optical"]["format"] == [300, 7, "E"]            # idle at sign-on


def _recv(s, want, limit=1.5):
    """Bytes from s until `want` is in them or `limit` seconds pass (never raises)."""
    got = b""
    end = time.monotonic() + limit
    while want not in got and time.monotonic() < end:
        s.settimeout(max(0.01, end - time.monotonic()))
        try:
            b = s.recv(256)
        except OSError:
            break
        if not b:
            break
        got += b
    return got


def garbage(port, k, rng, keep):
    s = socket.create_connection(("127.0.0.1", port), timeout=2)
    kind = k % 5
    try:
        if kind == 0:
            s.sendall(bytes(rng.randrange(256) for _ in range(64)))
        elif kind == 1:
            s.sendall(b"/?")                   # half a request, left open: the next
            keep.append(s)                     # connection replaces this one
            return
        elif kind == 2:
            s.sendall(b"/?!\r\n")              # then gone before / in the identification
            if k >= 10:
                _recv(s, b"/M", 1.5)
        elif kind == 3:
            s.sendall(bytes(rng.randrange(256) for _ in range(2048)))
        else:
            s.sendall(b"/?!\r\n")
            ident = _recv(s, b"\n")
            assert ident.startswith(b"/") and ident.endswith(b"\r\n"), ident
            s.sendall(ACK + b"090\r\n")        # baud character 9: no such option
            assert NAK in _recv(s, NAK), "a bad option select is answered by NAK"
    except OSError:
        pass                                   # the meter may reset a junk connection
    s.close()


def test_garbage_connections_then_readout(sim):
    rng = random.Random(62056)
    keep = []
    try:
        for k in range(20):
            garbage(sim.port, k, rng, keep)
    finally:
        for s in keep:
            s.close()
    assert sim.proc.poll() is None, "\n".join(sim.lines)
    check(readout(sim.port), sim.report)


def test_programming_password_and_read(sim):
    sets = readout(sim.port)
    c = client(sim.port)
    try:
        p0 = c.access_programming_mode()
        assert (p0.command, p0.command_type) == ("P", 0)
        assert p0.data_set.value.isdigit(), p0          # the operand: the meter number
        c.transport.send(password("00000000"))
        assert c.transport.recv(1) == ACK
        got = c.read_single_value("1.8.0")
        assert (got.address, got.value, got.unit) == ("1.8.0", sets["1.8.0"].value, "kWh")
        c.send_break()
    finally:
        c.disconnect()


def test_wrong_password_is_an_error_data_set(sim):
    c = client(sim.port)
    try:
        c.access_programming_mode()
        c.transport.send(password("12345678"))
        data = c.transport.recv(1)
        assert data == STX, "not ACK: an error data set, got %r" % data
        while not data.endswith(ETX) and len(data) < 200:
            b = c.transport.recv(1)
            assert b, data
            data += b
        data += c.transport.recv(1)                             # BCC
        answer = messages.AnswerDataMessage.from_bytes(data)     # checks the BCC
        assert [(d.address, d.value) for d in answer.data] == [(None, "PASSWORD")]
        c.send_break()
    finally:
        c.disconnect()


@pytest.mark.parametrize("runtime", ["micropython", "cpython"])
def test_sigterm_ends_hold_with_0(tmp_path, runtime):
    s = Sim(tmp_path, SHORT, runtime, report=False)
    try:
        s.start()
        s.proc.send_signal(signal.SIGTERM)
        assert s.proc.wait(15) == 0, "\n".join(s.lines)
        time.sleep(0.2)
        with pytest.raises(ProcessLookupError):
            os.killpg(s.proc.pid, 0)           # nothing of the sim is left
    finally:
        s.kill()


# -- TcpPort and the option itself (CPython, in process) -----------------------------------
def test_optical_option_errors_are_named():
    from boards.sim.main import parse_optical

    assert parse_optical("tcp:localhost:6210") == ("127.0.0.1", 6210)
    for text, part in (("tcp:127.0.0.1", "tcp:HOST:PORT"), ("udp:127.0.0.1:1", "tcp:HOST:PORT"),
                       ("tcp:0.0.0.0:6210", "loopback only"), ("tcp:10.0.0.1:6210", "HOST"),
                       ("tcp:127.0.0.1:x", "PORT"), ("tcp:127.0.0.1:70000", "PORT")):
        with pytest.raises(ValueError, match=part):
            parse_optical(text)


def test_sim_refuses_a_non_loopback_host(tmp_path):
    sc = os.path.join(str(tmp_path), "sc.json")
    with open(sc, "w") as f:
        json.dump(SHORT, f)
    r = subprocess.run(SIM + ["--scenario", sc, "--quiet", "--optical", "tcp:0.0.0.0:6210"],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "--optical: HOST must be 127.0.0.1 or localhost" in r.stdout


@pytest.fixture
def port():
    from boards.sim.optical import TcpPort

    p = TcpPort("localhost", free_port())
    try:
        yield p
    finally:
        p.close()


def wait_any(p, limit=2.0):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        n = p.any()
        if n:
            return n
        time.sleep(0.001)
    return 0


def test_port_refuses_other_hosts():
    from boards.sim.optical import TcpPort

    for host in ("0.0.0.0", "192.168.1.2", "::1", ""):
        with pytest.raises(ValueError, match="loopback only"):
            TcpPort(host, free_port())


def test_newer_connection_replaces_the_old_one(port):
    assert port.any() == 0 and port.read(1) is None
    a = socket.create_connection(("127.0.0.1", port.port), timeout=2)
    b = None
    try:
        a.sendall(b"/?")
        assert wait_any(port) == 2 and port.generation == 1
        assert port.read(1) == b"/" and port.read(5) == b"?"
        b = socket.create_connection(("127.0.0.1", port.port), timeout=2)
        b.sendall(b"new")
        time.sleep(0.05)
        # the accept comes alone: the meter sees generation 2 before the new bytes
        assert port.any() == 0 and port.generation == 2
        assert wait_any(port) == 3 and port.read(3) == b"new"
        a.settimeout(2)
        assert a.recv(10) == b""                      # the old client was closed
        port.write(b"answer")
        assert _recv(b, b"answer") == b"answer"
        port.set_format(9600, 7, "E")
        assert port.format == (9600, 7, "E")
        c = port.counters()
        assert (c["connections"], c["bytes_in"], c["bytes_out"]) == (2, 5, 6)
    finally:
        a.close()
        if b is not None:
            b.close()


def test_input_waits_for_the_line_turnaround(port):
    from boards.sim.optical import TURN_MS

    s = socket.create_connection(("127.0.0.1", port.port), timeout=2)
    try:
        wait_any(port, 0.2)
        port.write(b"/MPM5\\2x\r\n")
        s.sendall(b"\x06050\r\n")
        _recv(s, b"\n")
        time.sleep(0.02)
        assert wait_any(port) == 6 and port.read(6) == b"\x06050\r\n"
        t0 = port.ms()
        port.write(b"\x06")
        s.sendall(b"\x01B0\x03q")            # at once: still on the wire for a UART
        assert wait_any(port) == 5 and port.ms() - t0 >= TURN_MS
    finally:
        s.close()


def test_writes_never_raise(port):
    from boards.sim.optical import WRITE_MS

    assert port.write(b"nobody") == 6 and port.counters()["bytes_dropped"] == 6
    s = socket.create_connection(("127.0.0.1", port.port), timeout=2)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    wait_any(port, 0.2)
    assert port.connected
    t0 = time.monotonic()
    port.write(bytes(8 << 20))           # a peer that does not read: let go after WRITE_MS
    assert time.monotonic() - t0 < WRITE_MS / 1000 + 1.0
    assert not port.connected and port.counters()["bytes_dropped"] > 0
    s.close()
    s = socket.create_connection(("127.0.0.1", port.port), timeout=2)
    wait_any(port, 0.2)
    assert port.connected
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    s.close()                             # reset by the peer
    time.sleep(0.05)
    for _ in range(3):
        port.write(b"x" * 1000)           # EPIPE / ECONNRESET: the client is dropped
        port.any()
    assert not port.connected


def test_a_written_setting_survives_a_restart(tmp_path):
    """W1 over TCP (the library's own write), then the simulator is stopped and started
    again on the same --state: the meter's configuration is the one in its store, and
    the write is an event there."""
    state = os.path.join(str(tmp_path), "state")

    def session(fn):
        s = Sim(tmp_path, SHORT, report=False, extra=["--state", state])
        try:
            s.start()
            c = client(s.port)
            try:
                c.access_programming_mode()
                c.transport.send(password("00000000"))
                assert c.transport.recv(1) == ACK
                return fn(c)
            finally:
                c.send_break()
                c.disconnect()
        finally:
            s.proc.send_signal(signal.SIGTERM)
            s.proc.wait(15)
            s.kill()

    assert session(lambda c: c.read_single_value("billing_day").value) == "1"
    session(lambda c: c.write_single_value("billing_day", "15"))
    assert session(lambda c: c.read_single_value("billing_day").value) == "15"

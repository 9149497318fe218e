"""tools/readout.py end to end: the field client (pwitab's iec62056-21) against a meter in
this process whose optical port is a loopback TCP socket (or a pty for --serial) served
from a thread here."""

import contextlib
import csv
import datetime
import os
import select
import socket
import subprocess
import sys
import threading
import time
import tty
import zoneinfo

import pytest

from boards.sim import scenario as scn
from boards.sim.board import SimPin, make_board
from mpmeter.comms import iec62056
from mpmeter.config import Config
from mpmeter.meter import Meter
from mpmeter.storage.ramflash import RamFlash
from mpmeter.storage.store import REGION_BLOCKS, Store

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOL = [sys.executable, os.path.join(ROOT, "tools", "readout.py")]
TZ = zoneinfo.ZoneInfo("Europe/Stockholm")     # the meter's default zone (GMT+1, EU DST)
START = datetime.datetime(2026, 11, 26, 8, 0, tzinfo=datetime.timezone.utc)
# (hours, amps) at 230 V, cos phi 1: the load of each part; a billing stop after each part
# but the last. 2392 W x 2 h = 4784 Wh: 4.7 kWh on the 162's glass (truncated, not 4.8)
PARTS = ((2, 10.4), (2, 20.0), (2, 5.0))
WATTS = [230.0 * a for _h, a in PARTS]


class SocketPort:
    """The meter's optical port on a loopback socket (the Port contract of
    comms/iec62056.py): one client at a time, a new one replaces the old and bumps
    `generation`; read() never blocks; write() delivers every byte or drops the client.
    Optical.poll() compares the generation before it calls any(): the call that accepts
    a client reads nothing, so the client's first bytes reach the new session."""

    def __init__(self):
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(2)
        self.listener.setblocking(False)
        self.port = self.listener.getsockname()[1]
        self.client = None
        self.rx = bytearray()
        self.generation = 0
        self.format = None

    def _service(self):
        try:
            c, _addr = self.listener.accept()
        except BlockingIOError:
            c = None
        if c is not None:
            self._drop()
            c.settimeout(2.0)
            self.client = c
            self.rx = bytearray()
            self.generation += 1
            return      # read from the next call on: after Optical.poll saw the generation
        c = self.client
        if c is not None and select.select([c], [], [], 0)[0]:
            try:
                data = c.recv(4096)
            except OSError:
                data = b""
            if data:
                self.rx += data
            else:
                self._drop()

    def _drop(self):
        if self.client is not None:
            self.client.close()
            self.client = None

    def any(self):
        self._service()
        return len(self.rx)

    def read(self, n):
        if not self.rx:
            return None
        b = bytes(self.rx[:n])
        del self.rx[:n]
        return b

    def write(self, buf):
        if self.client is not None:
            try:
                self.client.sendall(bytes(buf))
            except OSError:
                self._drop()

    def set_format(self, baud, bits, parity):
        self.format = (baud, bits, parity)

    def ms(self):
        return int(time.monotonic() * 1000)

    def close(self):
        self._drop()
        self.listener.close()


class PtyPort:
    """The meter's optical port on a pseudo-terminal: the tool's --serial path (pyserial
    on the slave side; the line format is not checked by a pty)."""

    generation = 0

    def __init__(self):
        self.master, self.slave = os.openpty()
        tty.setraw(self.master)
        os.set_blocking(self.master, False)
        self.device = os.ttyname(self.slave)
        self.rx = b""

    def any(self):
        try:
            self.rx += os.read(self.master, 4096)
        except OSError:           # nothing waiting, or no one has the slave open
            pass
        return len(self.rx)

    def read(self, n):
        b, self.rx = self.rx[:n], self.rx[n:]
        return b or None

    def write(self, buf):
        try:
            os.write(self.master, bytes(buf))
        except OSError:
            pass

    def set_format(self, baud, bits, parity):
        pass

    def ms(self):
        return int(time.monotonic() * 1000)

    def close(self):
        os.close(self.master)
        os.close(self.slave)


def build(password="00000000"):
    """A 162 meter with a RAM store run for 6 h (three loads), billing stops between."""
    start = START.strftime("%Y-%m-%dT%H:%M:%SZ")
    sc = scn.validate({"start": start, "profile": "162", "segments": [
        {"duration_s": h * 3600, "phases": [{"v_rms": 230.0, "i_rms": a, "phi_deg": 0.0}]}
        for h, a in PARTS]})
    cfg = Config("162", {"serial": 12345678, "password": password})
    board = make_board(cfg, sc, "phasor")
    port = SocketPort()
    board.optical = port
    board.seal = SimPin("seal")
    m = Meter(board, cfg, None, Store(RamFlash(REGION_BLOCKS)))
    m.coarse = True
    t0 = int(START.timestamp())
    stops_at = []
    h = 0
    for hours, _a in PARTS[:-1]:
        h += hours
        stops_at.append(t0 + h * 3600)
    stops = []
    while m.step():
        if stops_at and m.clock.now() >= stops_at[0]:
            stops_at.pop(0)
            stops.append(m.billing_stop())
    return m, port, stops


@contextlib.contextmanager
def served(m, port):
    """Poll the meter's optical port from a thread (about every 2 ms) while in the block;
    `port` is closed and the thread gone after it."""
    stop = threading.Event()

    def loop():
        while not stop.is_set():
            m.optical.poll()
            time.sleep(0.002)

    th = threading.Thread(target=loop, daemon=True)
    th.start()
    try:
        yield
    finally:
        stop.set()
        th.join(5)
        port.close()
        assert not th.is_alive()


@pytest.fixture(scope="module")
def meter():
    m, port, stops = build()
    with served(m, port):
        yield m, port.port, stops


def tool(*args, timeout=50):
    return subprocess.run(TOOL + [str(a) for a in args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


def rows(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def local_iso(utc):
    return datetime.datetime.fromtimestamp(utc, TZ).strftime("%Y-%m-%dT%H:%M")


def kwh_1(wh):
    """A register at the 162's display resolution (0.1 kWh, truncated), as a number."""
    return wh // 100 / 10


def test_readout_billing_profile_and_plot(meter, tmp_path):
    m, port, stops = meter
    png = tmp_path / "profile.png"
    r = tool("--tcp", "127.0.0.1:%d" % port, "--readout", "--billing", "--profile",
             "--csv", tmp_path, "--plot", png, "--progress")
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    assert "billing [" in r.stderr and "/36" in r.stderr and "lines" in r.stderr

    # readout.csv: the registers at display resolution, the maximum with its time stamp
    got = {row[0]: row[1:] for row in rows(tmp_path / "readout.csv")[1:]}
    assert rows(tmp_path / "readout.csv")[0] == ["code", "value", "unit", "time"]
    a_plus = m.registers.mwh("a_plus") // 1000
    assert abs(a_plus - sum(2 * w for w in WATTS)) <= 1
    assert float(got["1.8.0"][0]) == kwh_1(a_plus) and got["1.8.0"][1] == "kWh"
    assert float(got["2.8.0"][0]) == 0.0
    assert got["C.1.0"][0] == "12345678"
    end = START + datetime.timedelta(hours=6)
    assert got["0.9.2"][0] == end.astimezone(TZ).strftime("%y%m%d")
    assert got["0.9.1"][0] == end.astimezone(TZ).strftime("%H%M%S")
    pmax, pmax_t = m.logbook.demand.pmax
    assert float(got["1.6.0"][0]) == pmax / 1e6 and got["1.6.0"][1] == "kW"
    assert got["1.6.0"][2] == local_iso(pmax_t)
    assert float(got["1.8.0*01"][0]) == kwh_1(stops[-1]["a_plus"])

    # billing.csv: one row per stop, newest first, with the 1.8.0 frozen at each
    b = rows(tmp_path / "billing.csv")
    head = b[0]
    assert head[:2] == ["stop", "1.8.0 [kWh]"] and "1.6.0 time" in head
    assert [x[0] for x in b[1:]] == ["%02d" % (k + 1) for k in range(len(stops))]
    col = head.index("1.8.0 [kWh]")
    newest_first = list(reversed(stops))
    assert [float(x[col]) for x in b[1:]] == [kwh_1(s["a_plus"]) for s in newest_first]
    assert [round(s["a_plus"]) for s in stops] == [4784, 4784 + 9200]
    cnt = head.index("0.1.0")
    assert [int(x[cnt]) for x in b[1:]] == [s["stops"] for s in newest_first]
    pcol = head.index("1.6.0 [kW]")
    assert [float(x[pcol]) for x in b[1:]] == [s["pmax"] / 1e3 for s in newest_first]
    assert b[1][pcol + 1] == local_iso(newest_first[0]["pmax_time"])

    # profile.csv: every entry, the local end times, the energy the meter registered
    p = rows(tmp_path / "profile.csv")
    assert p[0] == ["end", "status", "interval_min", "1.29.0 [kWh]", "2.29.0 [kWh]",
                    "3.29.0 [kvarh]", "4.29.0 [kvarh]"]
    entries = list(m.logbook.profile.entries())
    assert len(p) - 1 == len(entries) == 6 * 4 - 1      # from the first measurement on
    assert [x[0] for x in p[1:]] == [local_iso(e[0]) for e in entries]
    assert p[1][0] == "2026-11-26T09:30" and p[-1][0] == "2026-11-26T15:00"
    assert {x[2] for x in p[1:]} == {"15"}
    assert [x[1] for x in p[1:]] == ["%02X" % e[1] for e in entries]
    wh = [round(float(x[3]) * 1000) for x in p[1:]]
    assert wh == [e[2][0] for e in entries]
    first = datetime.datetime.fromisoformat(p[1][0]).replace(tzinfo=TZ)
    before = first - datetime.timedelta(minutes=15) - START      # not in the profile
    assert sum(wh) == a_plus - round(WATTS[0] * before.total_seconds() / 3600)
    assert wh[:3] == [598] * 3 and wh[-1] == 288        # 2.392 kW, 1.15 kW x 15 min

    # the plot: a PNG of a plausible size
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    w, h = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (w, h) == (1100, 450) and len(data) > 10000


def test_profile_range(meter, tmp_path):
    _m, port, _stops = meter
    r = tool("--tcp", "127.0.0.1:%d" % port, "--profile", "2611261000", "2026-11-26T11:00",
             "--csv", tmp_path, "--quiet")
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    p = rows(tmp_path / "profile.csv")
    assert [x[0] for x in p[1:]] == ["2026-11-26T%s" % t for t in (
        "10:00", "10:15", "10:30", "10:45", "11:00")]


def test_wrong_password_is_one_line_and_exit_2(meter, tmp_path):
    _m, port, _stops = meter
    r = tool("--tcp", "127.0.0.1:%d" % port, "--password", "11111111", "--billing",
             "--csv", tmp_path)
    assert r.returncode == 2
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and "(PASSWORD)" in lines[0], r.stderr
    assert not os.path.exists(tmp_path / "billing.csv")


def test_connection_refused_and_silence(tmp_path):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    free = s.getsockname()[1]
    s.close()
    r = tool("--tcp", "127.0.0.1:%d" % free, "--readout", "--csv", tmp_path)
    assert r.returncode == 2 and len(r.stderr.splitlines()) == 1
    assert "connection refused" in r.stderr
    # a listener that never answers
    mute = socket.socket()
    mute.bind(("127.0.0.1", 0))
    mute.listen(1)
    try:
        t0 = time.monotonic()
        r = tool("--tcp", "127.0.0.1:%d" % mute.getsockname()[1], "--readout",
                 "--timeout", "0.5", "--csv", tmp_path)
        assert time.monotonic() - t0 < 10
    finally:
        mute.close()
    assert r.returncode == 2 and len(r.stderr.splitlines()) == 1
    assert "no answer from the meter within 0.5 s" in r.stderr and "Traceback" not in r.stderr


def test_serial_head_on_a_pty(tmp_path):
    """--serial: the same readout through pyserial (300 baud, then 9600 on the open port)."""
    m, sock, _stops = build()
    sock.close()
    pty = PtyPort()
    m.board.optical = pty
    m.optical = iec62056.Optical(m, pty, m.optical.commands, m.optical.hdlc)
    with served(m, pty):
        r = tool("--serial", pty.device, "--readout", "--csv", tmp_path)
    assert r.returncode == 0, r.stderr
    got = {row[0]: row[1] for row in rows(tmp_path / "readout.csv")[1:]}
    assert float(got["1.8.0"]) == kwh_1(m.registers.mwh("a_plus") // 1000)
    r = tool("--serial", str(tmp_path / "no-such-tty"), "--readout", "--csv", tmp_path)
    assert r.returncode == 2 and len(r.stderr.splitlines()) == 1
    assert "cannot open: No such file or directory" in r.stderr

"""The optical port (IEC 62056-21, meter side) on a port model with its own clock: frames
built and decoded here from the standard, timing measured on that clock."""

import pytest
from optical_hhu import ACK, NAK, Port, bcc, command, option, run, split_message, until

from boards.sim import scenario as scn
from boards.sim.board import SimPin, make_board
from mpmeter.comms import iec62056
from mpmeter.config import Config
from mpmeter.logs import events as ev
from mpmeter.meter import Meter
from mpmeter.storage.ramflash import RamFlash
from mpmeter.storage.store import REGION_BLOCKS, Store


def make(overrides=None, profile="162", seconds=3600, amps=20.0, store=True):
    nph = 1 if profile == "162" else 3
    sc = scn.validate({"start": "2026-11-26T08:00:00Z", "profile": profile, "segments": [
        {"duration_s": seconds, "phases": [{"v_rms": 230.0, "i_rms": amps, "phi_deg": 0.0}
                                           for _ in range(nph)]}]})
    over = {"serial": 12345678}
    over.update(overrides or {})
    cfg = Config(profile, over)
    board = make_board(cfg, sc, "phasor")
    port = Port()
    board.optical = port
    board.seal = SimPin("seal")
    m = Meter(board, cfg, None, Store(RamFlash(REGION_BLOCKS)) if store else None)
    m.coarse = True
    while m.step():
        pass
    return m, port


@pytest.fixture(scope="module")
def meter():
    return make()


def fresh(m, now=0):
    """A new session on the same meter (new port, new Optical)."""
    port = Port()
    port.now = now
    m.board.optical = port
    m.optical = iec62056.Optical(m, port, m.optical.commands, m.optical.hdlc)
    return m.optical, port


def sign_on(opt, port, req=b"/?!\r\n"):
    port.send(req)
    t = until(opt, port, lambda p: p.received().endswith(b"\r\n"))
    return t, port.take()


def lines_of(text):
    return [ln for ln in text.split("\r\n") if ln]


# -- sign-on and readout ---------------------------------------------------------------
def test_identification_after_the_reaction_time(meter):
    m, _ = meter
    opt, port = fresh(m)
    assert port.format == (300, 7, "E")
    t, ident = sign_on(opt, port)
    assert ident == b"/MPM5\\2mpmeter162\r\n"           # mode C, 9600 proposed, HDLC
    assert 200 <= t <= 250                               # tr: 200 ms .. 1500 ms


def test_mode_c_readout_at_the_new_baud_rate(meter):
    m, _ = meter
    opt, port = fresh(m)
    sign_on(opt, port)
    port.send(option("0", "5", "0"))
    t0 = port.now
    until(opt, port, lambda p: p.out)
    start = port.out[0][0]
    assert 1000 <= start - t0 <= 1500                    # answer after the port re-open
    assert port.out[0][1] == (9600, 7, "E")
    until(opt, port, lambda p: bytes((iec62056.ETX,)) in p.received()[:-1] or
          p.received()[-2:-1] == bytes((iec62056.ETX,)), limit=10000)
    run(opt, port, 50)
    raw = port.take()
    text, ok = split_message(raw)
    assert ok, "BCC"
    lines = lines_of(text)
    assert lines[-1] == "!"
    sets = dict((ln[:ln.index("(")], ln[ln.index("(") + 1:-1]) for ln in lines[:-1])
    # 230 V x 20 A x 1 h = 4.6 kWh; the 162 shows 0.1 kWh (A code 6.1), 7 digits
    assert sets["1.8.0"] == "000004.6*kWh" and sets["2.8.0"] == "000000.0*kWh"
    assert sets["C.1.0"] == "12345678" and sets["F.F.0"] == "0"
    assert sets["0.9.2"] == "261126" and sets["0.9.1"] == "100000"    # 09:00 UTC = 10:00
    # the maximum demand and the end of its period (the first of equal ones), local time
    assert sets["1.6.0"] == "4.600*kW)(2611260915"
    assert port.format == (300, 7, "E")                     # back to the sign-on rate


def test_readout_bcc_is_the_xor_after_stx_through_etx(meter):
    m, _ = meter
    opt, port = fresh(m)
    sign_on(opt, port)
    port.send(option("0", "5", "0"))
    run(opt, port, 3000)
    raw = port.take()
    i = raw.index(bytes((iec62056.ETX,)))
    assert raw[i + 1] == bcc(raw[1:i + 1]) and len(raw) == i + 2


def test_mode_a_and_mode_b():
    m, _ = make({"optical_mode": "A"}, seconds=60)
    opt, port = fresh(m)
    t, ident = sign_on(opt, port)
    assert ident == b"/MPM@\\2mpmeter162\r\n"
    run(opt, port, 500)
    assert {f for _t, f, _b in port.out} == {(300, 7, "E")}
    raw = port.take()
    assert raw[0] == iec62056.STX and port.formats[-1][1] == (300, 7, "E")
    assert [f for _t, f in port.formats] == [(300, 7, "E")] * len(port.formats)
    m, _ = make({"optical_mode": "B", "optical_baud": 4800}, seconds=60)
    opt, port = fresh(m)
    _t, ident = sign_on(opt, port)
    assert ident == b"/MPMD\\2mpmeter162\r\n"               # B: 'D' = 4800 baud
    run(opt, port, 500)
    assert port.out and port.out[0][1] == (4800, 7, "E")      # no ACK: straight on


def test_no_option_select_gives_the_readout_at_300(meter):
    m, _ = meter
    opt, port = fresh(m)
    sign_on(opt, port)
    t0 = port.now
    until(opt, port, lambda p: p.out, limit=3000)
    assert 1500 <= port.out[0][0] - t0 <= 1550 and port.out[0][1] == (300, 7, "E")


def test_device_address():
    m, _ = make(seconds=60)
    for req, answered in ((b"/?12345678!\r\n", True), (b"/?0012345678!\r\n", True),
                          (b"/?87654321!\r\n", False), (b"/?1234 5678!\r\n", False)):
        opt, port = fresh(m)
        port.send(req)
        run(opt, port, 600)
        assert bool(port.out) == answered, req


# -- programming mode ------------------------------------------------------------------
def program(m, now=0):
    opt, port = fresh(m, now)
    sign_on(opt, port)
    port.send(option("0", "5", "1"))
    until(opt, port, lambda p: p.received().endswith(b"\x03") is False and len(
        p.received()) > 4 and p.received()[-2] == iec62056.ETX, limit=3000)
    return opt, port, port.take()


def ask(opt, port, frame, limit=3000):
    port.send(frame)
    until(opt, port, lambda p: p.received() and (
        p.received() in (bytes((ACK,)), bytes((NAK,))) or
        (len(p.received()) > 2 and p.received()[-2] == iec62056.ETX)), limit=limit)
    return port.take()


def text_of(answer):
    text, ok = split_message(answer)
    assert ok
    return text


def test_password_prompt_is_byte_exact(meter):
    m, _ = meter
    _opt, _port, p0 = program(m)
    # SOH P 0 STX (12345678) ETX BCC, BCC over "P0" STX "(12345678)" ETX
    body = b"P0\x02(12345678)\x03"
    assert p0 == b"\x01" + body + bytes((bcc(body),))


def codes(m):
    return [e[1] for e in m.persist.events()]


def test_password_reads_writes_and_break():
    m, _ = make(seconds=600)
    opt, port, _ = program(m)
    # nothing before the password
    assert text_of(ask(opt, port, command("R", "1", "1.8.0()"))) == "(NO ACCESS)"
    assert text_of(ask(opt, port, command("P", "1", "(11111111)"))) == "(PASSWORD)"
    assert ask(opt, port, command("P", "1", "(00000000)")) == bytes((ACK,))
    assert codes(m)[-2:] == [ev.PASSWORD, ev.PASSWORD]
    assert [e[2] for e in m.persist.events()[-2:]] == [0, 1]
    # R1 of a register, pwitab style "(1)" and plain "()"
    a = text_of(ask(opt, port, command("R", "1", "1.8.0(1)")))
    assert a == "1.8.0(000000.7*kWh)"          # 230 V x 20 A x 600 s = 0.767 kWh
    assert text_of(ask(opt, port, command("R", "1", "32.7.0()"))) == "32.7.0(230.0*V)"
    assert text_of(ask(opt, port, command("R", "1", "9.9.9()"))) == "(UNKNOWN)"
    assert text_of(ask(opt, port, command("R", "1", "period()"))) == "period(2)"
    assert text_of(ask(opt, port, command("R", "1", "password()"))) == "(NO ACCESS)"
    # a NAK from the HHU repeats the last answer
    port.send(bytes((NAK,)))
    until(opt, port, lambda p: len(p.received()) > 2)
    run(opt, port, 20)
    assert text_of(port.take()) == "(NO ACCESS)"
    # a bad BCC: NAK
    bad = bytearray(command("R", "1", "1.8.0()"))
    bad[-1] ^= 1
    assert ask(opt, port, bytes(bad)) == bytes((NAK,))
    # B0: the session ends, back to 300 baud
    port.send(command("B", "0"))
    run(opt, port, 50)
    assert port.format == (300, 7, "E") and opt.state == iec62056.IDLE
    assert not opt.commands.authorized


def test_three_wrong_passwords_lock_out_for_15_minutes():
    m, _ = make(seconds=60)
    opt, port, _ = program(m)
    for _ in range(2):
        assert text_of(ask(opt, port, command("P", "1", "(x)"))) == "(PASSWORD)"
    assert text_of(ask(opt, port, command("P", "1", "(x)"))) == "(LOCKED)"
    run(opt, port, 50)
    assert opt.state == iec62056.IDLE and ev.LOCKED in codes(m)
    locked = port.now
    # a new session 14 minutes later: even the right password is refused
    opt, port, _ = program(m, locked + 14 * 60000)
    assert text_of(ask(opt, port, command("P", "1", "(00000000)"))) == "(LOCKED)"
    # 15 minutes after the lockout it is accepted
    opt, port, _ = program(m, locked + 15 * 60000 + 10)
    assert ask(opt, port, command("P", "1", "(00000000)")) == bytes((ACK,))


def test_writes_settings_clock_and_the_seal():
    m, _ = make(seconds=600)
    opt, port, _ = program(m)
    assert ask(opt, port, command("P", "1", "(00000000)")) == bytes((ACK,))
    # a setting: the integration period E 2 (15 min) -> 3 (30 min)
    assert ask(opt, port, command("W", "1", "period(3)")) == bytes((ACK,))
    assert m.cfg.period == 3 and m.logbook.period == 1800 and m.logbook.demand.period == 1800
    e = m.persist.events()[-1]
    assert e[1] == ev.WRITE + 4 and (e[2], e[3]) == (2, 3)
    assert text_of(ask(opt, port, command("R", "1", "period()"))) == "period(3)"
    # the display lists: a list without the legal 1.8.0 is refused, naming the rule
    a = text_of(ask(opt, port, command("W", "1", 'display_manual(["2.8.0"])')))
    assert a.startswith("(BAD VALUE: config.display_manual: 1.8.0 is a legal display")
    assert ask(opt, port, command("W", "1", 'display_auto(["2.8.0"])')) == bytes((ACK,))
    assert m.display.lists.current() == "2.8.0"
    # legal: the CT ratio with the seal closed is refused and logged
    m2, _ = make(profile="351", seconds=60)
    opt2, port2, _ = program(m2)
    ask(opt2, port2, command("P", "1", "(00000000)"))
    assert text_of(ask(opt2, port2, command("W", "1", "ct([100,5])"))) == "(SEALED)"
    assert m2.persist.events()[-1][1] == ev.WRITE_REFUSED
    assert text_of(ask(opt2, port2, command("W", "1", "1.8.0(0)"))) == "(SEALED)"
    m2.board.seal.value(1)
    assert ask(opt2, port2, command("W", "1", "ct([100,5])")) == bytes((ACK,))
    assert m2.registers.ct == (100, 5) and ev.CT_CHANGED in codes(m2)
    assert text_of(ask(opt2, port2, command("W", "1", "1.8.0(0)"))) == "(READ ONLY)"
    assert text_of(ask(opt2, port2, command("W", "1", "un(240)"))) == "(NOT WRITABLE)"
    # the clock: local 12:34:56 (CET) is 11:34:56 UTC
    before = m.clock.now()
    assert ask(opt, port, command("W", "1", "0.9.1(123456)")) == bytes((ACK,))
    assert m.clock.now() % 86400 == 11 * 3600 + 34 * 60 + 56
    e = [x for x in m.persist.events() if x[1] == ev.CLOCK_SET][-1]
    assert e[2] == before
    assert text_of(ask(opt, port, command("W", "1", "0.9.1(256000)"))).startswith(
        "(BAD VALUE")


def test_load_profile_read_with_a_time_range():
    m, _ = make(seconds=3 * 3600, amps=10.0)
    opt, port, _ = program(m)
    ask(opt, port, command("P", "1", "(00000000)"))
    a = text_of(ask(opt, port, command("R", "5", "P.01(;)"), limit=10000))
    lines = lines_of(a)
    # 08:00..11:00 UTC = 09:00..12:00 local, 15-minute intervals. The coarse steps make
    # the first measurement at 08:15 UTC, where the profile starts: entries end at
    # 09:30 .. 12:00 local, 11 of them, each 230 V x 10 A x 0.25 h = 575 Wh
    assert lines[0] == ("P.01(2611260930)(00)(15)(4)(1.29.0)(kWh)(2.29.0)(kWh)"
                        "(3.29.0)(kvarh)(4.29.0)(kvarh)")
    vals = lines[1:]
    assert vals == ["(0.575)(0.000)(0.000)(0.000)"] * 11
    a = text_of(ask(opt, port, command("R", "5", "P.01(2611261000;2611261100)")))
    assert len(lines_of(a)) == 1 + 5                            # 10:00, 10:15 .. 11:00
    assert text_of(ask(opt, port, command("R", "5", "P.01(2613;)"))).startswith(
        "(time stamp: YYMMDDhhmm")


# -- time-outs and garbage -------------------------------------------------------------
def test_inter_character_timeout_and_programming_inactivity(meter):
    m, _ = meter
    opt, port = fresh(m)
    port.send(b"/?")
    run(opt, port, 1600)
    port.send(b"!\r\n")                     # the rest, too late: the request was dropped
    run(opt, port, 500)
    assert not port.out
    opt, port, _ = program(m)
    run(opt, port, iec62056.IDLE_MS + 100)
    assert opt.state == iec62056.IDLE and port.format == (300, 7, "E")


def test_garbage_then_a_clean_sign_on(meter):
    import random

    m, _ = meter
    rnd = random.Random(7)
    opt, port = fresh(m)
    for _ in range(50):
        port.send(bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 300))))
        run(opt, port, rnd.randrange(1, 400))
    run(opt, port, 3000)
    port.take()
    run(opt, port, iec62056.IDLE_MS)       # whatever state the garbage left
    port.take()
    _t, ident = sign_on(opt, port)
    assert ident == b"/MPM5\\2mpmeter162\r\n"


# -- mode E ----------------------------------------------------------------------------
def test_mode_e_hands_the_line_to_hdlc_and_back(meter):
    from test_hdlc import DISC, P, SNRM, UA, frame, parse

    m, _ = meter
    opt, port = fresh(m)
    sign_on(opt, port)
    port.send(option("2", "5", "2"))           # V=2 HDLC procedure, Y=2 binary mode
    run(opt, port, 20)
    assert port.format == (9600, 8, None) and opt.state == iec62056.HDLC
    port.send(frame(SNRM | P))
    run(opt, port, 20)
    ua = parse(port.take())
    assert ua["ctl"] & ~P == UA
    port.send(frame(DISC | P))
    run(opt, port, 20)
    assert parse(port.take())["ctl"] & ~P == UA
    run(opt, port, 20)
    assert opt.state == iec62056.IDLE and port.format == (300, 7, "E")
    # a mode-E session that goes quiet returns to idle after IDLE_MS
    opt, port = fresh(m)
    sign_on(opt, port)
    port.send(option("2", "5", "2"))
    run(opt, port, 20)
    run(opt, port, iec62056.IDLE_MS + 100, 500)
    assert opt.state == iec62056.IDLE


class SlowPort(Port):
    """A UART that drains 120 bytes/s (about 1200 baud) from a 64-byte queue: room()
    says how much fits now; a write that does not fit is an overflow (lost bytes)."""

    def __init__(self):
        Port.__init__(self)
        self.queued = 0
        self.t = 0
        self.overflows = 0

    def _drain(self):
        gone = (self.now - self.t) * 120 // 1000
        if gone:
            self.queued = max(0, self.queued - gone)
            self.t = self.now

    def room(self):
        self._drain()
        return 64 - self.queued

    def write(self, buf):
        self._drain()
        if self.queued + len(buf) > 64:
            self.overflows += 1
        self.queued += len(buf)
        Port.write(self, buf)


def test_a_slow_line_gets_the_whole_readout_paced_by_room(meter):
    m, _ = meter
    port = SlowPort()
    m.board.optical = port
    opt = iec62056.Optical(m, port, m.optical.commands, m.optical.hdlc)
    m.optical = opt
    sign_on(opt, port)
    port.send(option("0", "5", "0"))
    until(opt, port, lambda p: bytes((iec62056.ETX,)) in p.received(), limit=60000)
    run(opt, port, 50)
    text, ok = split_message(port.take())
    assert ok and lines_of(text)[-1] == "!"
    assert port.overflows == 0
    fresh(m)


def test_busy_while_a_session_is_under_way(meter):
    """Optical.in_session() tells the Pico loop to poll often (Meter.idle_ms): false while
    idle (and an idle poll does nothing), true from the first byte of a sign-on until
    the session has ended."""
    m, _ = meter
    opt, port = fresh(m)
    opt.poll()
    assert not opt.in_session() and port.take() == b""
    port.send(b"/")
    opt.poll()
    assert opt.in_session()
    port.send(b"?!\r\n")
    until(opt, port, lambda p: p.received().endswith(b"\r\n"))
    assert opt.in_session()                # waiting for the option select
    outputs, m.outputs = m.outputs, []     # (the pulse outputs may want a tick sooner)
    try:
        assert m.idle_ms(0, 20) == 2       # mpmeter.meter.BUSY_MS
    finally:
        m.outputs = outputs

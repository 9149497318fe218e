"""Fuzzing the optical port's frame parser: any bytes at any time, in any session state.

Each example puts the port in a state (idle, identification sent, programming mode with
or without the password, mode E), feeds random chunks at random gaps, then lets the
line go quiet: no exception may escape poll(), no answer may run away, the session must
be back at idle at 300 baud 7E1, and a clean sign-on must get the identification.
`make test` runs MPMETER_FUZZ=10000 examples (the default); `make fuzz` runs more.
"""

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from optical_hhu import ACK, Port, command, option, run, until

from boards.sim.board import SimPin
from mpmeter.comms import iec62056

EXAMPLES = int(os.environ.get("MPMETER_FUZZ", "10000"))
STATS = {"examples": 0, "bytes": 0}

_METER = []


def meter():
    if not _METER:
        from test_optical import make

        m, _ = make(seconds=1800)
        m.board.seal = SimPin("seal")      # closed
        _METER.append(m)
    return _METER[0]


# bytes the protocol cares about, mixed with noise, so the parser reaches deep states
_SPECIAL = st.sampled_from([b"/", b"?", b"!", b"\r\n", b"\x01", b"\x02", b"\x03", b"\x06",
                            b"\x15", b"/?!\r\n", b"R1", b"W1", b"P1", b"B0", b"P.01(",
                            b"1.8.0(", b")", b"(00000000)", b"\x7e", b"\x06050\r\n",
                            b"\x06051\r\n", b"\x06252\r\n"])
CHUNK = st.one_of(st.binary(min_size=1, max_size=64), _SPECIAL,
                  st.lists(_SPECIAL, min_size=1, max_size=6).map(b"".join))
SCRIPT = st.lists(st.tuples(CHUNK, st.integers(0, 2000)), min_size=1, max_size=12)
START = st.sampled_from(["idle", "identified", "prog", "prog_auth", "hdlc"])


def start(m, how):
    port = Port()
    opt = iec62056.Optical(m, port, m.optical.commands, m.optical.hdlc)
    if how == "idle":
        return opt, port
    port.send(b"/?!\r\n")
    until(opt, port, lambda p: p.received().endswith(b"\r\n"), step=50)
    if how in ("prog", "prog_auth"):
        port.send(option("0", "5", "1"))
        run(opt, port, 1300, 50)
        if how == "prog_auth":
            port.send(command("P", "1", "(00000000)"))
            until(opt, port, lambda p: p.received().endswith(bytes((ACK,))), step=50)
    elif how == "hdlc":
        port.send(option("2", "5", "2"))
        run(opt, port, 50, 50)
    port.take()
    return opt, port


def settle(opt, port):
    """The line goes quiet: wait out every time-out; answers may finish meanwhile."""
    for _ in range(400):                  # bounded: a runaway answer fails the test
        port.now += 250
        opt.poll()
        if not opt.busy and opt.state in (iec62056.IDLE, iec62056.PROG, iec62056.HDLC,
                                          iec62056.OPTION):
            break
    assert not opt.busy, "an answer did not end"
    port.now += iec62056.IDLE_MS + 1000
    opt.poll()
    for _ in range(400):
        if not opt.busy:
            break
        port.now += 250
        opt.poll()
    port.now += iec62056.IDLE_MS + 1000
    opt.poll()


@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(START, SCRIPT)
def any_input_in_any_state(how, script):
    m = meter()
    opt, port = start(m, how)
    for chunk, gap in script:
        port.send(chunk)
        STATS["bytes"] += len(chunk)
        step = max(1, gap // 4)
        for _ in range(4):
            port.now += step
            opt.poll()
    settle(opt, port)
    assert opt.state == iec62056.IDLE, opt.state
    assert port.format == (300, 7, "E")
    assert len(port.received()) < 200000
    port.take()
    port.send(b"/?!\r\n")
    until(opt, port, lambda p: p.received().endswith(b"\r\n"), step=50)
    assert port.take() == b"/MPM5\\2mpmeter162\r\n"
    STATS["examples"] += 1


def test_any_input_in_any_state():
    """EXAMPLES generated inputs (hypothesis), each checked as above; the count goes to
    the summary that `make test` prints."""
    from conftest import record_figure

    STATS["examples"] = STATS["bytes"] = 0
    any_input_in_any_state()
    record_figure("fuzz_optical", "optical port fuzz: %d generated inputs (%d bytes), each "
                  "back to idle at 300 baud and answering a clean sign-on"
                  % (STATS["examples"], STATS["bytes"]))
    assert STATS["examples"] >= EXAMPLES

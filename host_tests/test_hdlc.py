"""HDLC data link of mode E: frames built here by hand (own CRC-16/X.25), Gurux's DLMS client
as the third-party truth, captured bytes of a real meter, hypothesis on garbage."""

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mpmeter.comms.hdlc import Hdlc

FLAG = 0x7E


# ---------------------------------------------------------------- the test's own HDLC

def crc_x25(data):
    """CRC-16/X.25 (RFC 1662 FCS-16), bit by bit: poly 0x1021 reflected, init and xorout
    0xFFFF."""
    crc = 0xFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
    return crc ^ 0xFFFF


def le(v):
    return bytes((v & 0xFF, v >> 8))


def addr(value, size):
    """HDLC address of `size` bytes: 7 bits a byte, LSB=1 on the last."""
    out = []
    for k in range(size):
        out.append(((value >> (7 * (size - 1 - k))) & 0x7F) << 1)
    out[-1] |= 1
    return bytes(out)


def frame(ctl, info=b"", dst=addr(1, 1), src=addr(16, 1), fmt=0xA0):
    n = 2 + len(dst) + len(src) + 1 + 2 + (len(info) + 2 if info else 0)
    body = bytes((fmt | (n >> 8), n & 0xFF)) + dst + src + bytes((ctl,))
    if info:
        body += le(crc_x25(body)) + info
    body += le(crc_x25(body))
    return bytes((FLAG,)) + body + bytes((FLAG,))


def parse(raw):
    """A single frame as sent by the meter -> dict; asserts every field is well formed."""
    assert raw[0] == FLAG and raw[-1] == FLAG
    body = raw[1:-1]
    assert body[0] & 0xF8 == 0xA0, "format type 3, not segmented"
    assert ((body[0] & 7) << 8 | body[1]) == len(body)
    i = 2
    addrs = []
    for _ in range(2):
        j = i
        while not body[j] & 1:
            j += 1
        assert j + 1 - i in (1, 2, 4)
        addrs.append(bytes(body[i:j + 1]))
        i = j + 1
    ctl = body[i]
    info = b""
    if len(body) > i + 3:
        assert le(crc_x25(body[:i + 1])) == body[i + 1:i + 3], "HCS"
        info = bytes(body[i + 3:-2])
    assert le(crc_x25(body[:-2])) == body[-2:], "FCS"
    return {"dst": addrs[0], "src": addrs[1], "ctl": ctl, "info": info}


def ua_params(info):
    assert info[:2] == b"\x81\x80" and info[2] == len(info) - 3
    out = {}
    i = 3
    while i < len(info):
        pid, n = info[i], info[i + 1]
        out[pid] = int.from_bytes(info[i + 2:i + 2 + n], "big")
        i += 2 + n
    return out


def send(h, data):
    """Feed bytes; the answers concatenated (b"" when silent)."""
    out = b""
    for b in data:
        o = h.feed(b)
        if o:
            out += bytes(o)
    return out


def split(raw):
    """Meter output -> list of frames (each answer is flag-delimited, flags not shared)."""
    frames = []
    i = 0
    while i < len(raw):
        assert raw[i] == FLAG
        n = ((raw[i + 1] & 7) << 8) | raw[i + 2]
        frames.append(raw[i:i + n + 2])
        i += n + 2
    return frames


SNRM, DISC, UA, DM, FRMR, RR, RNR, P = 0x83, 0x43, 0x63, 0x0F, 0x87, 0x01, 0x05, 0x10


def connected():
    h = Hdlc()
    assert parse(send(h, frame(SNRM | P)))["ctl"] == UA | P
    return h


# ---------------------------------------------------------------- the test's CRC and frames

def test_own_crc_has_rfc1662_check_value():
    assert crc_x25(b"123456789") == 0x906E


def test_own_frames_match_bytes_captured_from_a_meter():
    # Gurux forum thread 15618 (conformance test #9): a client's DISC to server 1 from
    # client 16, and the DM a disconnected meter answered.
    assert frame(DISC | P) == bytes.fromhex("7EA00703215303C77E")
    assert frame(DM | P, dst=addr(16, 1), src=addr(1, 1)) == bytes.fromhex("7EA00721031F6BE97E")


# ---------------------------------------------------------------- link procedure

def test_snrm_gives_ua_with_parameters():
    h = Hdlc()
    a = parse(send(h, frame(SNRM | P)))
    assert a["ctl"] == UA | P
    assert a["dst"] == addr(16, 1) and a["src"] == addr(1, 1)
    assert ua_params(a["info"]) == {5: 128, 6: 128, 7: 1, 8: 1}
    assert h.connected and not h.done


def test_disconnected_meter_answers_disc_exactly_like_the_captured_meter():
    h = Hdlc()
    assert send(h, bytes.fromhex("7EA00703215303C77E")) == bytes.fromhex("7EA00721031F6BE97E")
    assert h.done and not h.connected


def test_snrm_negotiation_takes_the_smaller_values():
    h = Hdlc()
    # client: transmit 64, receive 512 (2 bytes), windows 7 (4 bytes)
    prop = bytes((0x05, 1, 64, 0x06, 2, 2, 0, 0x07, 4, 0, 0, 0, 7, 0x08, 4, 0, 0, 0, 7))
    a = parse(send(h, frame(SNRM | P, b"\x81\x80" + bytes((len(prop),)) + prop)))
    assert a["ctl"] == UA | P
    assert ua_params(a["info"]) == {5: 128, 6: 64, 7: 1, 8: 1}
    assert (h.max_tx, h.max_rx) == (128, 64)
    # a frame longer than the negotiated receive length is dropped
    assert send(h, frame(RR | P, b"x" * 70)) == b""


@pytest.mark.parametrize("dsize", [1, 2, 4])
def test_any_server_address_is_answered_with_addresses_swapped(dsize):
    h = Hdlc()
    dst = addr(0x11 if dsize == 1 else 0x1234, dsize)
    a = parse(send(h, frame(SNRM | P, dst=dst, src=addr(0x21, 1))))
    assert a["ctl"] == UA | P and a["dst"] == addr(0x21, 1) and a["src"] == dst


def test_disc_when_connected_gives_ua_and_done():
    h = connected()
    a = parse(send(h, frame(DISC | P)))
    assert a["ctl"] == UA | P and a["info"] == b""
    assert h.done and not h.connected
    h.reset()
    assert not h.done and not h.connected


@pytest.mark.parametrize("ctl", [RR | P, RNR | P, 0x10, 0x13, 0x09 | P, 0xBF])
def test_disconnected_any_other_command_gives_dm(ctl):
    h = Hdlc()
    assert parse(send(h, frame(ctl)))["ctl"] == DM | P
    assert not h.connected and not h.done


def test_rr_poll_when_connected_gives_rr():
    h = connected()
    assert parse(send(h, frame(RR | P)))["ctl"] == RR | P
    assert parse(send(h, frame(RNR | P)))["ctl"] == RR | P


def test_i_frame_gives_frmr_until_snrm():
    h = connected()
    aarq = b"\xe6\xe6\x00\x60\x1d\xa1\x09\x06\x07\x60\x85\x74\x05\x08\x01\x01"
    a = parse(send(h, frame(0x10, aarq)))           # I-frame N(S)=0 N(R)=0 P=1
    assert a["ctl"] == FRMR | P
    assert a["info"] == bytes((0x10, 0x00, 0x01))   # rejected control, V(R)/V(S), W
    # the frame-reject condition holds: every poll gets the same FRMR
    assert parse(send(h, frame(RR | P)))["info"] == bytes((0x10, 0x00, 0x01))
    assert parse(send(h, frame(SNRM | P)))["ctl"] == UA | P
    assert parse(send(h, frame(RR | P)))["ctl"] == RR | P


def test_invalid_nr_and_rr_with_information_are_rejected():
    h = connected()
    a = parse(send(h, frame(0x20 | RR | P)))          # N(R)=1: we sent no I-frame
    assert a["ctl"] == FRMR | P and a["info"] == bytes((0x31, 0, 0x08))
    h = connected()
    a = parse(send(h, frame(RR | P, b"zz")))
    assert a["info"] == bytes((0x11, 0, 0x03))      # W and X


def test_no_answer_without_poll_bit():
    h = Hdlc()
    assert send(h, frame(SNRM)) == b"" and h.connected
    assert send(h, frame(RR)) == b""
    assert send(h, frame(DISC)) == b"" and h.done


# ---------------------------------------------------------------- frames dropped

def test_bad_fcs_is_dropped():
    h = Hdlc()
    f = bytearray(frame(SNRM | P))
    f[-2] ^= 0x01
    assert send(h, f) == b"" and not h.connected
    assert parse(send(h, frame(SNRM | P)))["ctl"] == UA | P       # link still works


def test_bad_hcs_is_dropped():
    h = Hdlc()
    f = bytearray(frame(SNRM | P, b"\x81\x80\x03\x05\x01\x40"))
    f[7] ^= 0x80                                                    # HCS
    f[-3:-1] = le(crc_x25(f[1:-3]))                                 # FCS made good again
    assert send(h, f) == b"" and not h.connected


def test_no_station_address_and_bad_address_fields_are_dropped():
    h = Hdlc()
    assert send(h, frame(SNRM | P, dst=b"\x01")) == b""            # no-station
    assert send(h, frame(SNRM | P, src=b"\x01")) == b""
    assert send(h, frame(SNRM | P, dst=b"\x02\x02\x03")) == b""    # 3-byte address
    assert send(h, frame(SNRM | P, dst=b"\x02\x02\x02\x02\x03")) == b""
    assert send(h, frame(SNRM | P, fmt=0xB0)) == b""               # not format type 3
    assert not h.connected


def test_malformed_snrm_parameters_give_dm():
    h = Hdlc()
    assert parse(send(h, frame(SNRM | P, b"\x81\x80\x05\x05\x01\x40")))["ctl"] == DM | P
    assert parse(send(h, frame(SNRM | P, b"\x81\x80\x03\x05\x01\x00")))["ctl"] == DM | P
    assert not h.connected


def test_too_long_frames_are_dropped_and_bounded():
    h = connected()
    assert send(h, frame(RR | P, b"y" * 200)) == b""
    # a length field of 2047: dropped at once, the next frame is still understood
    assert send(h, b"\x7e\xa7\xff" + b"\x00" * 50) == b""
    assert parse(send(h, frame(RR | P)))["ctl"] == RR | P
    assert len(h._buf) < 160


def test_garbage_between_frames_and_repeated_flags():
    h = Hdlc()
    stream = (b"\x7e\x7e\x7e" + b"noise" + frame(SNRM | P) + b"\x00\xff\x7e\x7e"
              + frame(RR | P)[1:] + b"\xa0\x30\x55" + frame(DISC | P) + b"\x7e" * 60)
    ans = [parse(f)["ctl"] for f in split(send(h, stream))]
    assert ans == [UA | P, RR | P, UA | P]       # "a0 30" looked like a header: resynced
    assert h.errors == 0


def test_shared_flag_between_frames():
    h = Hdlc()
    stream = frame(SNRM | P) + frame(RR | P)[1:] + frame(DISC | P)[1:]
    assert [parse(f)["ctl"] for f in split(send(h, stream))] == [UA | P, RR | P, UA | P]


# ---------------------------------------------------------------- hypothesis

def valid_frames_in(data):
    """Does the byte string hold any valid frame (between two flags, good HCS/FCS)?"""
    data = bytes(data)
    for i, b in enumerate(data):
        if b != FLAG:
            continue
        for j in range(i + 8, min(len(data), i + 200)):
            if data[j] != FLAG:
                continue
            try:
                parse(data[i:j + 1])
                return True
            except (AssertionError, IndexError):
                pass
    return False


noise = st.lists(st.one_of(st.integers(0, 255), st.sampled_from([0x7E, 0xA0, 0x07, 0x03])),
                 max_size=400).map(bytes)


@settings(max_examples=2500, deadline=None)
@given(noise)
def test_garbage_never_raises_and_is_never_answered(data):
    for start in (Hdlc(), connected()):
        out = send(start, data)
        assert start.errors == 0
        if out:
            assert valid_frames_in(data), out.hex()
            for f in split(out):
                parse(f)


@settings(max_examples=2000, deadline=None)
@given(st.integers(0, 8 * 40 - 1), st.sampled_from([SNRM | P, DISC | P, RR | P, 0x10]))
def test_any_single_bit_error_is_never_answered(bit, ctl):
    f = bytearray(frame(ctl, b"\xe6\xe6\x00abc" if ctl == 0x10 else b""))
    if bit // 8 >= len(f):
        return
    f[bit // 8] ^= 1 << (bit % 8)
    h = connected()
    assert send(h, bytes(f) + b"\x7e" * 40) == b""
    assert h.errors == 0


frames_st = st.sampled_from([frame(SNRM | P), frame(RR | P), frame(DISC | P),
                             frame(0x10, b"\xe6\xe6\x00" + b"q" * 30),
                             frame(RR | P, dst=addr(0x1234, 2), src=addr(0x10, 1))])


@settings(max_examples=2000, deadline=None)
@given(st.lists(st.tuples(st.binary(max_size=30).map(lambda b: b.replace(b"\x7e", b"")),
                          frames_st), min_size=1, max_size=6))
def test_every_frame_behind_flag_free_garbage_is_answered_in_order(parts):
    h = Hdlc()
    stream = b"".join(g + f for g, f in parts) + b"\x7e" * 200
    got = split(send(h, stream))
    assert len(got) == len(parts)
    for f in got:
        parse(f)
    assert h.errors == 0


def test_random_streams_stay_bounded():
    rnd = random.Random(5)
    h = Hdlc()
    n = len(h._buf)
    for _ in range(20000):
        h.feed(rnd.choice((0x7E, 0xA0, rnd.randrange(256))))
    assert len(h._buf) == n and h.errors == 0


def test_feed_survives_non_byte_input():
    h = Hdlc()
    for b in (None, "x", 3.5, -1, 1 << 40):
        assert h.feed(b) is None


# ---------------------------------------------------------------- Gurux: third-party client

def _gx_client(server, size, tx=128, rx=128):
    gx = pytest.importorskip("gurux_dlms")
    from gurux_dlms.enums import Authentication, InterfaceType

    c = gx.GXDLMSClient(True, 16, server, Authentication.NONE, None, InterfaceType.HDLC)
    c.serverAddressSize = size
    c.hdlcSettings.maxInfoTX = tx
    c.hdlcSettings.maxInfoRX = rx
    return gx, c


@pytest.mark.parametrize("server,size,tx,rx", [(1, 1, 128, 128), (0x11, 2, 64, 256),
                                               (0x12345, 4, 128, 100)])
def test_gurux_client_connects_and_disconnects(server, size, tx, rx):
    gx, c = _gx_client(server, size, tx, rx)
    h = Hdlc()
    reply = gx.GXReplyData()
    c.getData(send(h, bytes(c.snrmRequest())), reply)   # Gurux checks HCS, FCS, addresses
    assert reply.command == UA | P and reply.error == 0
    c.parseUAResponse(reply.data)
    hs = c.hdlcSettings
    assert (hs.maxInfoTX, hs.maxInfoRX) == (min(tx, 128), min(rx, 128))
    assert (hs.windowSizeTX, hs.windowSizeRX) == (1, 1)
    assert h.connected and (h.max_rx, h.max_tx) == (min(tx, 128), min(rx, 128))
    reply = gx.GXReplyData()
    c.getData(send(h, bytes(c.disconnectRequest(True))), reply)
    assert reply.command == UA | P and h.done


def test_gurux_client_sees_frmr_for_its_aarq_and_dm_when_disconnected():
    gx, c = _gx_client(1, 1)
    from gurux_dlms.enums import ErrorCode

    h = Hdlc()
    reply = gx.GXReplyData()
    c.getData(send(h, bytes(c.snrmRequest())), reply)
    c.parseUAResponse(reply.data)
    aarq = c.aarqRequest()[0]
    assert parse(bytes(aarq))["ctl"] & 1 == 0               # an I-frame
    reply = gx.GXReplyData()
    c.getData(send(h, bytes(aarq)), reply)
    assert reply.command == FRMR | P and reply.error == ErrorCode.UNACCEPTABLE_FRAME
    h2 = Hdlc()
    reply = gx.GXReplyData()
    c.getData(send(h2, bytes(c.disconnectRequest(True))), reply)
    assert reply.command == DM | P and reply.error == ErrorCode.DISCONNECT_MODE and h2.done


def test_gap_ends_a_header_like_burst_and_recovers_the_frame_inside():
    h = Hdlc()
    # "a0 30" claims 48 bytes: the SNRM behind it waits inside that candidate
    assert send(h, b"\x7e\xa0\x30" + frame(SNRM | P)) == b""
    assert parse(h.gap())["ctl"] == UA | P
    assert h.gap() is None
    assert parse(send(h, frame(DISC | P)))["ctl"] == UA | P
    # silence in the middle of a frame: the frame is dropped, nothing answered
    h = Hdlc()
    f = frame(SNRM | P)
    assert send(h, f[:6]) == b"" and h.gap() is None and send(h, f[6:]) == b""
    assert parse(send(h, f))["ctl"] == UA | P and h.errors == 0


@settings(max_examples=2000, deadline=None)
@given(noise, st.integers(0, 400))
def test_gap_anywhere_never_raises(data, cut):
    h = Hdlc()
    out = send(h, data[:cut])
    o = h.gap()
    out += bytes(o) if o else b""
    out += send(h, data[cut:])
    assert h.errors == 0
    if out:
        assert valid_frames_in(data)

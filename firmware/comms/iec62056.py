"""IEC 62056-21 on the meter's optical port: sign-on, modes A/B/C, readout, programming, mode E.

Optical(meter, port, commands, hdlc) is polled from the main loop (never from an
interrupt); poll() reads what the port has, advances the session and writes what is
due. It never blocks: an answer waits for its reaction time, a long answer (readout,
load profile) goes out a line per poll.

Port (UART on a board, TCP in the simulator, a model in tests):
    any() -> bytes waiting; read(n) -> bytes or None; write(buf)
    set_format(baud, bits, parity)  parity "E" (7E1 sign-on, modes A-C) or None (8N1,
                 mode E); returns once the bytes already written have left the wire
    ms() -> int milliseconds (a board's ticks_ms; a test's clock)
    generation   optional int that changes when the line is a new connection (TCP):
                 the session restarts idle
    room()       optional: bytes the port can take now without blocking (a UART's
                 queue); an answer's next line waits until it fits (slow baud rates)

Sequence (meter side, IEC 62056-21 clause 6; shared/reference/iec62056-21-notes.md):
    idle at 300 baud 7E1   <- /?[address]!CRLF     (other addresses: silence)
    after REACTION_MS      -> /MPM<Z>\\2<ident>CRLF (Z: baud character of the mode)
    mode A: the readout follows at 300 baud; mode B: at the baud of Z, without ACK
    mode C:                <- ACK V Z Y CRLF within OPTION_MS
        Y=0 readout, Y=1 programming, V=2 Y=2 mode E (HDLC, 8N1): the meter switches
        to the baud of Z and answers SELECT_MS later (a serial HHU that re-opens its
        port after the option select loses an earlier answer; notes 2.7). No option
        select: the readout is sent at 300 baud.
    readout               -> STX lines CRLF ... !CRLF ETX BCC, then idle at 300 baud
    programming           -> SOH P0 STX (operand) ETX BCC; then commands
                             SOH C D [STX data] ETX BCC, answered by `commands`
                             (comms/programming.py): P1 password, R1/R2 read, R5/R6
                             load profile, W1/W2 write, B0 break. A bad BCC gets NAK; a
                             NAK from the HHU repeats the last answer.
Timing: answers REACTION_MS after the last byte received (200 ms, inside the
standard's 200..1500 ms). A message whose characters are more than CHAR_MS (1500 ms)
apart is dropped. Programming mode ends after IDLE_MS (120 s) without a command.
Input is bounded (MAX_MSG bytes): anything longer is dropped with a NAK in programming
mode, silently at sign-on. Garbage never leaves the idle state; nothing here raises.
"""

from ..display.lists import diff

SOH = 0x01
STX = 0x02
ETX = 0x03
EOT = 0x04
ACK = 0x06
NAK = 0x15
CR = 0x0D
LF = 0x0A

MANUFACTURER = "MPM"
REACTION_MS = 200
SELECT_MS = 1000
OPTION_MS = 1500
CHAR_MS = 1500
IDLE_MS = 120000
GAP_MS = 100              # mode E: silence that ends a partial HDLC frame
MAX_REQUEST = 40
MAX_MSG = 1100

BAUDS_C = (300, 600, 1200, 2400, 4800, 9600, 19200)      # Z '0'..'6' (modes C, E)
BAUDS_B = (600, 1200, 2400, 4800, 9600, 19200)           # Z 'A'..'F' (mode B)

# session states
IDLE = 0
OPTION = 1        # identification sent (mode C): waiting for the option select
PROG = 2          # programming mode
HDLC = 3          # mode E: the line belongs to the HDLC handler
SENDING = 4       # a readout or identification on its way, input ignored



def bcc(data, start=0):
    """XOR of data[start:], 7 bits (the block check character)."""
    x = 0
    for k in range(start, len(data)):
        x ^= data[k]
    return x & 0x7F


def baud_char(mode, baud):
    if mode == "A":
        return "@"          # neither 0-9 nor A-I: mode A, no baud change
    if mode == "B":
        return chr(ord("A") + BAUDS_B.index(baud))
    return chr(ord("0") + BAUDS_C.index(baud))


def message(lines, head=STX, tail=ETX, end_mark=True, crlf=True):
    """Byte chunks of STX line CRLF ... [!CRLF] ETX BCC (lines: iterable of str; crlf
    False: one data set without a line end, as an answer to R1)."""
    x = 0
    yield bytes((head,))
    for ln in lines:
        b = (ln + "\r\n" if crlf else ln).encode()
        for c in b:
            x ^= c
        yield b
    if end_mark:
        x ^= 0x21 ^ CR ^ LF
        yield b"!\r\n"
    x ^= tail
    yield bytes((tail, x & 0x7F))


def command_message(c, d, data=None):
    """SOH C D [STX data] ETX BCC as bytes (the meter's P0, and the tests' HHU)."""
    b = bytearray((SOH,))
    b += (c + d).encode()
    if data is not None:
        b.append(STX)
        b += data.encode()
    b.append(ETX)
    b.append(bcc(b, 1))
    return bytes(b)


class Optical:
    def __init__(self, meter, port, commands=None, hdlc=None):
        cfg = meter.cfg
        self.meter = meter
        self.port = port
        self._room = getattr(port, "room", None)
        self.commands = commands
        self.hdlc = hdlc
        self.configure(cfg)
        self.state = IDLE
        self.buf = bytearray()
        self._rx_ms = 0          # last byte received
        self._cmd_ms = 0         # last command (programming inactivity)
        self._state_ms = 0
        self._out = None         # iterator of byte chunks being sent
        self._due = 0            # ms when the pending output may start
        self._after = None       # what to do when the output is out
        self._chunk = None
        self._last = None        # f() -> chunks of the last answer (NAK repeats it)
        self._gen = getattr(port, "generation", 0)
        self.sessions = 0        # sign-ons answered
        self.dropped = 0         # messages dropped (garbage, timeouts, bad BCC)
        self._restart(0)

    def configure(self, cfg):
        """Mode, baud rate and address from the configuration (the next sign-on)."""
        self.mode = cfg.optical_mode
        self.baud = 300 if cfg.optical_mode == "A" else cfg.optical_baud
        self.address = str(cfg.serial)
        self.ident = ("mpmeter" + cfg.profile)[:16]

    # -- output --------------------------------------------------------------------------
    def _send(self, chunks, now, delay, after=None, last=None):
        self._out = iter(chunks)
        self._chunk = None       # the next chunk, fetched ahead
        self._due = now + delay
        self._after = after
        if last is not None:
            self._last = last

    def _fetch(self, now):
        """The next chunk of the answer, or None when it is complete (then the answer is
        over at once: an HHU may reply in the same poll)."""
        try:
            return next(self._out)
        except StopIteration:
            pass
        except Exception:            # a reader failed mid-answer: end the session
            self.dropped += 1
            self._out = None
            self._after = None
            self._restart(now)
            return None
        self._out = None
        after = self._after
        self._after = None
        if after is not None:
            after(now)
        return None

    def _pump(self, now):
        if self._out is None or diff(now, self._due) < 0:
            return
        chunk = self._chunk
        if chunk is None:
            chunk = self._fetch(now)
            if chunk is None:
                return
        room = self._room
        if room is not None and room() < len(chunk):
            self._chunk = chunk                 # a slow line: wait until it fits
            return
        self.port.write(chunk)
        self._chunk = None
        if self._out is not None:
            self._chunk = self._fetch(now)    # look ahead: ends the answer right away

    @property
    def busy(self):
        return self._out is not None

    # -- states --------------------------------------------------------------------------
    def _restart(self, now):
        """Back to idle: 300 baud 7E1, input dropped, authorisation gone."""
        self.state = IDLE
        self.buf = bytearray()
        self._out = None
        self._after = None
        self._last = None
        self._state_ms = now
        if self.commands is not None:
            self.commands.end()
        self.port.set_format(300, 7, "E")

    def poll(self):
        port = self.port
        now = port.ms()
        n = port.any()               # (a TCP port accepts a new client here)
        gen = getattr(port, "generation", 0)
        if gen != self._gen:
            self._gen = gen
            self._restart(now)
        if not n and self.state == IDLE and self._out is None and not self.buf:
            return                       # nothing to do (the common case): cheap
        self._pump(now)
        if n:
            data = port.read(n)
            if data:
                if self._out is not None:
                    pass                # half duplex: an echo or noise while we talk
                else:
                    for b in data:
                        self._byte(b, now)
                self._rx_ms = now
        self._timeouts(now)

    def in_session(self):
        """True while a session, an answer or a part of a message is under way: the
        main loop then polls often (a character at 9600 baud is 1 ms)."""
        return self.state != IDLE or self._out is not None or bool(self.buf)

    def _timeouts(self, now):
        st = self.state
        if st == HDLC:
            h = self.hdlc
            quiet = diff(now, self._rx_ms)
            if h is None or h.done or quiet >= IDLE_MS:
                self._restart(now)
            elif quiet >= GAP_MS:
                out = h.gap()               # a frame cut short: resynchronise on flags
                if out:
                    self.port.write(out)
            return
        if self.buf and diff(now, self._rx_ms) >= CHAR_MS:
            self.buf = bytearray()       # an incomplete message: dropped
            self.dropped += 1
        if self._out is not None:
            return
        if st == OPTION and diff(now, self._state_ms) >= OPTION_MS and not self.buf:
            # no option select: the readout at the sign-on baud rate (mode C fallback)
            self._readout(now, 0)
        elif st == PROG and diff(now, self._cmd_ms) >= IDLE_MS:
            self._restart(now)

    def _byte(self, b, now):
        st = self.state
        if st == SENDING:
            return                      # half duplex: nothing is taken while we talk
        if st == HDLC:
            out = self.hdlc.feed(b)
            if out:
                self.port.write(out)
            return
        buf = self.buf
        if st == PROG:
            self._prog_byte(b, now)
            return
        if st == OPTION:
            if not buf and b == ACK:
                buf.append(b)
                return
            if buf and buf[0] == ACK:
                buf.append(b)
                if len(buf) == 6:
                    self.buf = bytearray()
                    self._option(bytes(buf), now)
                return
            if b != 0x2F:                # not '/': noise, wait on
                return
        # idle (or a new sign-on): /?address!CRLF
        if b == 0x2F:
            if st != IDLE:
                self._restart(now)          # a new sign-on ends the session: 300 baud
            self.buf = bytearray(b"/")
            return
        if not buf:
            return
        buf.append(b)
        if len(buf) > MAX_REQUEST:
            self.buf = bytearray()
            self.dropped += 1
            return
        if b == LF:
            self.buf = bytearray()
            self._request(bytes(buf), now)

    def _request(self, req, now):
        if len(req) < 5 or req[1] != 0x3F or req[-3:] != b"!\r\n":
            self.dropped += 1
            return
        addr = req[2:-3]
        for c in addr:
            if not (0x30 <= c <= 0x39 or 0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A
                    or c == 0x20):
                self.dropped += 1
                return
        if addr:
            a = addr.decode().lstrip("0")
            if a != self.address.lstrip("0"):
                return                        # another meter's address: silence
        self.sessions += 1
        z = baud_char(self.mode, self.baud)
        ident = ("/%s%s\\2%s\r\n" % (MANUFACTURER, z, self.ident)).encode()
        self.state = SENDING
        self._send((ident,), now, REACTION_MS, self._identified)

    def _identified(self, now):
        if self.mode == "A":
            self._readout(now, 0)
        elif self.mode == "B":
            self.port.set_format(self.baud, 7, "E")
            self._readout(now, 0)
        else:
            self.state = OPTION
            self._state_ms = now

    def _readout(self, now, delay):
        self.state = SENDING
        self._send(self._readout_chunks(), now, delay, self._restart)

    def _readout_chunks(self):
        from .readout import readout

        cfg = self.meter.cfg
        return message(readout(self.meter, cfg.readout_list, cfg.readout_history))

    def _option(self, msg, now):
        v, z, y = msg[1], msg[2], msg[3]
        ok = msg[4] == CR and msg[5] == LF and v in b"012" and y in b"0126789"
        baud = None
        if ok and 0x30 <= z <= 0x36:
            baud = BAUDS_C[z - 0x30]
            ok = baud <= self.baud
        else:
            ok = False
        if not ok or (v == 0x32) != (y == 0x32) or (y == 0x32 and self.hdlc is None):
            self.dropped += 1
            self.state = SENDING
            self._send((bytes((NAK,)),), now, REACTION_MS, self._restart)
            return
        if y == 0x32:                          # mode E: HDLC at the new baud rate, 8N1
            self.port.set_format(baud, 8, None)
            self.hdlc.reset()
            self.state = HDLC
            self._rx_ms = now
            return
        self.port.set_format(baud, 7, "E")
        if y == 0x30:
            self._readout(now, SELECT_MS)
            return
        if y == 0x31 and self.commands is not None:
            self.state = PROG
            self._cmd_ms = now
            p0 = command_message("P", "0", "(%s)" % self.commands.operand())
            self._send((p0,), now, SELECT_MS, None, lambda: (p0,))
            return
        self.state = SENDING                    # manufacturer modes 6..9: not here
        self._send((bytes((NAK,)),), now, REACTION_MS, self._restart)

    # -- programming mode ----------------------------------------------------------------
    def _prog_byte(self, b, now):
        buf = self.buf
        if not buf:
            if b == SOH:
                buf.append(b)
            elif b == NAK and self._last is not None and self._out is None:
                self._send(self._last(), now, REACTION_MS)        # repeat the last answer
            elif b == 0x2F:
                self._restart(now)                               # a new sign-on
                self.buf = bytearray(b"/")
            return
        buf.append(b)
        n = len(buf)
        if n > MAX_MSG:
            self.buf = bytearray()
            self.dropped += 1
            self._send((bytes((NAK,)),), now, REACTION_MS)
            return
        if n >= 3 and buf[n - 2] == ETX:
            self.buf = bytearray()
            if bcc(buf[:n - 1], 1) != b:
                self.dropped += 1
                self._send((bytes((NAK,)),), now, REACTION_MS)
                return
            self._command(bytes(buf), now)

    def _command(self, msg, now):
        """msg: SOH C D [STX data] ETX BCC with a good BCC."""
        c = chr(msg[1])
        d = chr(msg[2]) if len(msg) > 4 else ""
        data = None
        if len(msg) > 5 and msg[3] == STX:
            try:
                data = msg[4:-2].decode()
            except (UnicodeError, ValueError):
                data = None
        elif len(msg) != 5:
            self.dropped += 1
            self._send((bytes((NAK,)),), now, REACTION_MS)
            return
        self._cmd_ms = now
        if c == "B":
            self._restart(now)
            return
        answer = self.commands.handle(c, d, data, now)
        kind = answer[0]
        if kind == "ack":
            self._send((bytes((ACK,)),), now, REACTION_MS, None, lambda: (bytes((ACK,)),))
        elif kind == "nak":
            self._send((bytes((NAK,)),), now, REACTION_MS)
        elif kind == "close":
            self.state = SENDING
            self._send(message(("(%s)" % answer[1],), end_mark=False, crlf=False), now,
                       REACTION_MS, self._restart)
        elif kind == "set":
            txt = answer[1]
            self._send(message((txt,), end_mark=False, crlf=False), now, REACTION_MS, None,
                       lambda: message((txt,), end_mark=False, crlf=False))
        else:
            f = answer[1]
            self._send(message(f(), end_mark=False), now, REACTION_MS, None,
                       lambda: message(f(), end_mark=False))

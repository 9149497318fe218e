"""The optical port on a board: an IR transceiver on machine.UART behind the iec62056 Port.

    port = UartPort(machine, 0, tx=0, rx=1, time=time)   # 300 baud 7E1 from the start
    board.optical = port          # comms/iec62056.Optical polls it from the main loop

The Port contract of firmware/comms/iec62056.py, for a half-duplex IR head:

write(buf)   never blocks: the bytes go into a preallocated output queue (QUEUE bytes,
             enough for a whole 162 readout at 300 baud); service() hands them to the
             UART TXBUF bytes at a time, and only when the UART reports the previous
             hand-over gone (txdone()), so machine.UART.write() always finds room in
             its ring buffer and returns at once. (The rp2 UART's write() busy-waits for
             room, and Optical writes a line per poll without looking at the line
             speed: at 300 baud a line of 30 bytes takes 1 s, the loop polls every few
             ms.) A write that does not fit the queue is dropped beyond what fits and
             counted in `overflows` (the HHU sees a BCC error). room() tells how much
             fits: see the note on flow control below.
set_format(baud, bits, parity)   parity "E" (7E1) or None (8N1) as iec62056 names it,
             mapped to machine.UART's parity 0 (even) / None. The switch waits until
             every byte written before it has left the wire: the queue handed over, the
             UART's txdone() (its ring buffer and TX FIFO empty) and then one character
             time more (txdone() turns true when the last character enters the shift
             register, not when its stop bit has gone). It does not wait in the call:
             when bytes are still on their way the switch is queued at that position of
             the output and made by service(), and bytes written after the call go out
             at the new format. A format equal to the one in force (or last queued)
             changes nothing: the UART is not re-initialised (re-init empties both of
             its ring buffers).
any() / read(n)   what the UART received, passed through, but read(n) never asks the
             UART for more than it has (machine.UART.read() of more than any() waits up
             to timeout_char for the rest: 44 ms at 300 baud). read() returns None when
             nothing is waiting.
ms()         time.ticks_ms() (the protocol's reaction times are real time).
No `generation`: a UART line has no connections (Optical then never restarts on it).

Echo (half duplex). An IR transceiver behind one window often sees its own LED (light
reflected by the HHU's head, or the head's own echo). The port is deaf while it
transmits: with echo=True (default) every byte received from the first write of an
answer until ECHO_MS + one character time after its last byte has left is read and
discarded (counted in `echoes`), the last such flush at the first poll after that time.
IEC 62056-21 is half duplex, so a byte from the HHU in that window is not a valid
message either. The Optical state machine drops input only while it still has chunks of
an answer to hand over (its `_out`), not while the UART is still sending what it handed
over (seconds at 300 baud): without the deaf window the echo of "/MPM..." would arrive
in its OPTION state as a new sign-on and restart the session. echo=False for a head
that does not echo (the HHU's bytes are then taken at any time).

Flow control: room() tells how much write() takes now. Optical._pump() holds an
answer's next line until it fits (comms/iec62056.py), so a long answer (a load profile,
R5) at a low baud rate is paced by the line instead of overflowing the queue.

Modules are passed in (machine, time) so that host tests hand in a UART model
(host_tests/uart_model.py). Nothing is allocated per byte (write() and a hand-over to
the UART make a few memoryview slices; the UART itself allocates its ring buffers anew
at every format switch).
Not verified on a Pico: the rp2 port's txdone() (MicroPython >= 1.23: ring buffer
empty and UARTFR.TXFE; without txdone() the port falls back on the line time of what it
handed over), 7-bit characters with parity on the RP2040's PL011 (datasheet: WLEN 7 +
PEN), and a real IR head's echo.
"""

from micropython import const

QUEUE = const(2048)     # output queue: a 162 readout (about 900 bytes) with margin
TXBUF = const(256)      # machine.UART txbuf: one hand-over (267 ms at 9600 baud)
RXBUF = const(256)      # machine.UART rxbuf: longer than any message before its answer
ECHO_MS = const(3)      # deaf this long after a character time past the last byte

_PARITY = {None: None, "E": 0, "O": 1}
_HALF = const(0x20000000)
_MASK = const(0x3FFFFFFF)


def _diff(a, b):
    """a - b of 30-bit ms ticks (time.ticks_diff on the rp2 port)."""
    return ((a - b + _HALF) & _MASK) - _HALF


def char_ms(baud, bits, parity, stop=1):
    """Whole milliseconds that cover one character: start, data, parity, stop bits."""
    n = 1 + bits + (0 if parity is None else 1) + stop
    return (n * 1000 + baud - 1) // baud


class UartPort:
    def __init__(self, machine, uart_id=0, tx=0, rx=1, time=None, echo=True, queue=QUEUE,
                 txbuf=TXBUF, rxbuf=RXBUF):
        if time is None:
            import time
        self._machine = machine
        self._ticks = time.ticks_ms
        self._id = uart_id
        self._tx = machine.Pin(tx)
        self._rx = machine.Pin(rx)
        self._txbuf = txbuf
        self._rxbuf = rxbuf
        self.echo = echo
        self._q = bytearray(queue)
        self._qv = memoryview(self._q)
        self._head = 0           # index of the oldest queued byte
        self._len = 0            # bytes queued
        self._written = 0        # bytes ever queued (positions of format switches)
        self._handed = 0         # bytes ever handed to the UART
        self._switches = []      # [position, (baud, bits, parity)] not made yet
        self._busy = False       # the UART holds bytes not yet seen gone (txdone)
        self._busy_until = 0     # fallback without txdone(): the line time of a hand-over
        self._done_ms = 0        # when the UART was last seen done (its last char shifts)
        self._deaf = False       # echo: input is discarded (see the module doc)
        self.format = None
        self.overflows = 0       # bytes dropped: the queue was full
        self.echoes = 0          # bytes received while deaf (discarded)
        self.formats = 0         # UART (re)initialisations
        self.uart = None
        self._char = 0
        self._init((300, 7, "E"), self._ticks())

    # -- the UART --------------------------------------------------------------------
    def _init(self, fmt, now):
        baud, bits, parity = fmt
        self.uart = self._machine.UART(self._id, baudrate=baud, bits=bits,
                                       parity=_PARITY[parity], stop=1, tx=self._tx,
                                       rx=self._rx, txbuf=self._txbuf, rxbuf=self._rxbuf,
                                       timeout=0)
        self._txdone = getattr(self.uart, "txdone", None)
        self.format = fmt
        self._char = char_ms(baud, bits, parity)
        self._done_ms = now - self._char        # nothing in the shift register
        self.formats += 1

    def _gone(self, now):
        """True once the UART has nothing left but (perhaps) the character in its shift
        register; notes when that was first seen."""
        if not self._busy:
            return True
        if self._txdone is not None:
            done = self._txdone()
        else:
            done = _diff(now, self._busy_until) >= 0
        if done:
            self._busy = False
            self._done_ms = now
        return done

    def service(self):
        """Hand queued bytes to the UART and make a due format switch (never waits)."""
        now = self._ticks()
        while self._gone(now):
            sw = self._switches
            n = self._len
            if sw:
                n = min(n, sw[0][0] - self._handed)
            if n > 0:
                h = self._head
                n = min(n, self._txbuf, len(self._q) - h)
                k = self.uart.write(self._qv[h:h + n])
                n = k if k else 0       # None: nothing taken (it never is: see above)
                self._head = (h + n) % len(self._q)
                self._len -= n
                self._handed += n
                self._busy = True
                self._busy_until = (now + n * self._char + 1) & _MASK
                return
            if not sw or _diff(now, self._done_ms) < self._char:
                return                   # idle, or the last character still shifting
            self._init(sw.pop(0)[1], now)

    def _sending(self, now):
        return self._len > 0 or self._busy or _diff(now, self._done_ms) < self._char

    # -- the Port contract -------------------------------------------------------------
    def write(self, buf):
        n = len(buf)
        free = len(self._q) - self._len
        if n > free:
            self.overflows += n - free
            n = free
        size = len(self._q)
        t = (self._head + self._len) % size
        k = min(n, size - t)             # up to the end of the ring, then from its start
        src = memoryview(buf)
        self._qv[t:t + k] = src[:k]
        if n > k:
            self._qv[:n - k] = src[k:n]
        self._len += n
        self._written += n
        if self.echo:
            self._deaf = True
        self.service()
        return len(buf)

    def room(self):
        """Bytes write() takes now without dropping any."""
        return len(self._q) - self._len

    def set_format(self, baud, bits, parity):
        if parity not in _PARITY:
            raise ValueError("optical port: parity 'E', 'O' or None, got %r" % (parity,))
        fmt = (baud, bits, parity)
        sw = self._switches
        last = sw[-1][1] if sw else self.format
        if fmt == last:
            return
        if sw and sw[-1][0] == self._written:
            sw[-1][1] = fmt              # nothing written since the last switch
        else:
            sw.append([self._written, fmt])
        self.service()

    def any(self):
        self.service()
        u = self.uart
        if self._deaf:
            now = self._ticks()
            n = u.any()
            if n:
                u.read(n)
                self.echoes += n
            if not self._sending(now) and _diff(now, self._done_ms) >= self._char + ECHO_MS:
                self._deaf = False       # that was the last flush
            return 0
        return u.any()

    def read(self, n=-1):
        k = self.any()
        if not k:
            return None
        if n is not None and 0 <= n < k:
            k = n
        return self.uart.read(k)

    def ms(self):
        return self._ticks()

    @property
    def idle(self):
        """Nothing queued, handed over or in the shift register, and no switch pending."""
        return not self._sending(self._ticks()) and not self._switches

    def counters(self):
        return {"format": list(self.format), "overflows": self.overflows,
                "echoes": self.echoes, "formats": self.formats}

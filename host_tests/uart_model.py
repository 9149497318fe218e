"""Model of the rp2 port's machine.UART on a timed serial line, and the HHU at its far end.

CPython, tests only. Line(clock_us) is the wire between the meter's UART and an HHU,
in the caller's time (microseconds: the RP2040 model's timer, or a plain counter).

The meter side, as ports/rp2/machine_uart.c (MicroPython 1.2x) behaves:
    line.UART(id, baudrate=, bits=, parity=, stop=, tx=, rx=, txbuf=, rxbuf=, timeout=,
              ...)   the one UART object (re)initialised; every call is a format change,
              recorded in `formats` as (t_us, (baud, bits, parity, stop)). Re-init while
              a character is still on the wire (from its start bit to the end of its
              stop bit) is an ERROR ("format change while sending"): on the chip the
              character in the shift register is cut and the queued ones are lost (the
              ring buffers are allocated anew: TX and RX content is gone).
    write(buf)   the bytes go into the TX ring buffer (txbuf) and the 32-entry FIFO and
              out back to back: character k starts at max(now, end of the previous one)
              and takes (1 start + bits + parity + stop) / baud s. A write that does not
              fit the free ring buffer space is an ERROR ("write would block": the rp2
              UART busy-waits there). `writes` records (t_us, n, characters not yet
              started when it was written): a write during an unfinished transmission is
              seen there.
    txdone()  True when the ring buffer and the FIFO are empty: the last character has
              started (it may still be in the shift register), as the rp2 port's
              txdone() (ring buffer empty and UARTFR.TXFE).
    any(), read(n)   the bytes received (rxbuf bytes at most; more are dropped and
              counted); read(n) for more than any() is an ERROR ("read would wait":
              the rp2 UART waits timeout_char for the rest).
The wire: `frames` holds every character the meter sent as (start_us, end_us, format,
bits) with bits the levels after the start bit: the data bits LSB first, then the parity
bit (even: data + parity hold an even number of ones; odd: odd), then the stop bits,
as the RP2040's PL011 (WLEN, PEN, EPS) puts them on TX. Tests decode these themselves.
The HHU side: hhu_send(data, fmt) puts characters on the meter's RX, back to back from
now (or after the HHU's previous ones); each arrives at the end of its stop bit. A
character whose format differs from the UART's at that time arrives garbled (a framing
or parity error on the chip: the model delivers 0x00 and counts it in `garbled`).
echo=True also returns every character the meter sends to its own RX at its end (an IR
head that sees its own LED).
"""

FIFO = 32


def frame_bits(byte, bits, parity, stop):
    """The levels after the start bit of one character (parity: None, 0 even, 1 odd)."""
    data = [(byte >> i) & 1 for i in range(bits)]
    out = list(data)
    if parity is not None:
        ones = sum(data)
        out.append((ones + parity) & 1)      # even: total even; odd: total odd
    return tuple(out + [1] * stop)


def char_us(fmt):
    baud, bits, parity, stop = fmt
    n = 1 + bits + (0 if parity is None else 1) + stop
    return n * 1000000 / baud


class Pin:
    def __init__(self, n, *args, **kw):
        self.id = n


class Line:
    def __init__(self, clock_us, echo=False):
        self.clock_us = clock_us
        self.echo = echo
        self.fmt = None
        self.txbuf = 256
        self.rxbuf = 256
        self.formats = []
        self.frames = []            # meter -> HHU (start, end, fmt, bits)
        self.writes = []
        self.errors = []
        self.rx = bytearray()       # received, not yet read by the meter
        self.arrivals = []          # (t_us, byte, fmt) on the way to the meter's RX
        self.hhu_end = 0            # end of the HHU's last character
        self.garbled = 0
        self.rx_dropped = 0
        self.lost = 0               # meter characters cut or dropped by a re-init

    # -- machine.UART ------------------------------------------------------------------
    def UART(self, uart_id, baudrate=115200, bits=8, parity=None, stop=1, tx=None, rx=None,
             txbuf=256, rxbuf=256, timeout=0, timeout_char=0, **kw):
        now = self.clock_us()
        if uart_id != 0:
            self.errors.append("UART(%d): the optical port is UART0" % uart_id)
        for name, p, ok in (("tx", tx, 0), ("rx", rx, 1)):
            n = getattr(p, "id", p)
            if n is not None and (n & 3 != ok or ((n + 4) & 8) >> 3 != uart_id):
                self.errors.append("bad %s pin %r for UART%d" % (name, n, uart_id))
        busy = [f for f in self.frames[-FIFO - self.txbuf - 1:] if f[1] > now]
        if busy:
            self.errors.append("format change while sending at %d us (line busy until %d)"
                               % (now, busy[-1][1]))
            self.lost += len(busy)
            self.frames = [f for f in self.frames if f[0] <= now]
        self.fmt = (baudrate, bits, parity, stop)
        self.formats.append((now, self.fmt))
        self.txbuf = txbuf
        self.rxbuf = rxbuf
        self.timeout = timeout
        self._deliver(now)
        self.rx = bytearray()               # new ring buffers
        self.arrivals = [a for a in self.arrivals if a[0] > now]
        return self

    def init(self, *args, **kw):
        return self.UART(0, *args, **kw)

    def _pending(self, now):
        n = 0
        fr = self.frames
        while n < len(fr) and fr[-1 - n][0] > now:      # frames are in time order
            n += 1
        return n

    def write(self, buf):
        now = self.clock_us()
        data = bytes(buf)
        pending = self._pending(now)
        free = self.txbuf - max(0, pending - FIFO)
        self.writes.append((now, len(data), pending))
        if len(data) > free:
            self.errors.append("write would block: %d bytes, %d free at %d us"
                               % (len(data), free, now))
        t = max([now] + [f[1] for f in self.frames[-1:]])
        cu = char_us(self.fmt)
        baud, bits, parity, stop = self.fmt
        for b in data:
            end = t + cu
            self.frames.append((t, end, self.fmt, frame_bits(b, bits, parity, stop)))
            if self.echo:
                self.arrivals.append((end, b & ((1 << bits) - 1), self.fmt))
            t = end
        return len(data)

    def txdone(self):
        return self._pending(self.clock_us()) == 0

    def _format_at(self, t):
        f = None
        for t0, fmt in self.formats:
            if t0 <= t:
                f = fmt
        return f

    def _deliver(self, now):
        keep = []
        for a in sorted(self.arrivals):
            t, b, fmt = a
            if t > now:
                keep.append(a)
                continue
            if fmt != self._format_at(t):
                self.garbled += 1
                b = 0
            if len(self.rx) >= self.rxbuf:
                self.rx_dropped += 1
            else:
                self.rx.append(b)
        self.arrivals = keep

    def any(self):
        self._deliver(self.clock_us())
        return len(self.rx)

    def read(self, n=-1):
        k = self.any()
        if n is not None and n > k:
            self.errors.append("read would wait: read(%d) with %d received" % (n, k))
        if n is None or n < 0 or n > k:
            n = k
        if not n:
            return None
        b = bytes(self.rx[:n])
        self.rx = self.rx[n:]
        return b

    # -- the HHU -------------------------------------------------------------------------
    def hhu_send(self, data, fmt):
        """The HHU sends `data` at fmt (baud, bits, parity, stop), from now or after its
        previous characters."""
        now = self.clock_us()
        t = max(now, self.hhu_end)
        cu = char_us(fmt)
        for b in data:
            t += cu
            self.arrivals.append((t, b & ((1 << fmt[1]) - 1), fmt))
        self.hhu_end = t

    def sent(self, since=0):
        """The meter's characters that started at or after `since` (us)."""
        return [f for f in self.frames if f[0] >= since]


class Machine:
    """machine with Pin and UART on one Line (UartPort's tests)."""

    Pin = Pin

    def __init__(self, line):
        self.line = line

    def UART(self, *args, **kw):
        return self.line.UART(*args, **kw)


class Clock:
    """A microsecond counter the test advances; ticks_ms as time.ticks_ms (30 bits)."""

    def __init__(self, us=0):
        self.us = us

    def __call__(self):
        return self.us

    def ticks_ms(self):
        return (self.us // 1000) & 0x3FFFFFFF

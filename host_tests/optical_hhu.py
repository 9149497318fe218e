"""Test aids for the optical port: a port model with its own clock, and the HHU's frames
built here byte by byte from IEC 62056-21 (not with the meter's code)."""

SOH, STX, ETX, ACK, NAK = 1, 2, 3, 6, 0x15


def bcc(data):
    x = 0
    for b in data:
        x ^= b
    return x & 0x7F


def command(c, d, data=None):
    """SOH C D [STX data] ETX BCC; the BCC over everything after SOH up to ETX."""
    body = (c + d).encode()
    if data is not None:
        body += bytes((STX,)) + data.encode()
    body += bytes((ETX,))
    return bytes((SOH,)) + body + bytes((bcc(body),))


def option(v, z, y):
    return bytes((ACK,)) + (v + z + y).encode() + b"\r\n"


class Port:
    """The meter's line: what the HHU sends is queued for the meter; what the meter
    writes is recorded with the time and line format it was written at."""

    def __init__(self):
        self.now = 0
        self.rx = bytearray()            # HHU -> meter, not yet read
        self.out = []                    # (ms, format, bytes) meter -> HHU
        self.format = None
        self.formats = []                # (ms, format) every set_format
        self.generation = 0

    def ms(self):
        return self.now

    def any(self):
        return len(self.rx)

    def read(self, n):
        b = bytes(self.rx[:n])
        self.rx = self.rx[n:]          # (MicroPython's bytearray has no slice deletion)
        return b

    def write(self, buf):
        self.out.append((self.now, self.format, bytes(buf)))

    def set_format(self, baud, bits, parity):
        self.format = (baud, bits, parity)
        self.formats.append((self.now, self.format))

    # -- the HHU side ------------------------------------------------------------------
    def send(self, data):
        self.rx += data

    def received(self, since=0):
        return b"".join(b for t, _f, b in self.out if t >= since)

    def take(self):
        """Everything the meter wrote so far, and forget it."""
        b = b"".join(x[2] for x in self.out)
        self.out = []
        return b


def run(opt, port, ms, step=5):
    """Advance the clock by `ms`, polling the meter's port every `step` ms."""
    end = port.now + ms
    while port.now < end:
        port.now += step
        opt.poll()


def until(opt, port, pred, limit=5000, step=5):
    """Poll until pred(port) holds; the ms it took (AssertionError after `limit`)."""
    t0 = port.now
    while not pred(port):
        if port.now - t0 > limit:
            raise AssertionError("no answer within %d ms; got %r" % (limit, port.received()))
        port.now += step
        opt.poll()
    return port.now - t0


def split_message(b):
    """STX ... ETX BCC -> (text between STX and ETX, bcc ok)."""
    assert b[0] == STX, b
    i = b.index(bytes((ETX,)))
    return b[1:i].decode(), bcc(b[1:i + 1]) == b[i + 1]

"""The sim board's optical port: a loopback TCP server in place of the optical head's UART.

    port = TcpPort("127.0.0.1", 6210)     # listens at once; never blocks afterwards
    board.optical = port                  # the meter's comms/iec62056.Optical polls it

The Port contract of firmware/comms/iec62056.py:
    any() / read(n) / write(buf)   one client at a time. A newer connection replaces the
                 old one and `generation` goes up by one on every accept (the meter's
                 session restarts idle); the new client's bytes are delivered from the
                 following any() on, so the meter sees the new generation first.
                 read() returns None when nothing is waiting.
    write(buf)   delivers every byte (a full socket buffer is waited out for up to
                 WRITE_MS); without a client, or when the peer went away or stopped
                 reading, the bytes are dropped (counted) and the client is closed.
                 Nothing here raises into the meter's loop once the port listens.
    set_format(baud, bits, parity)   recorded in `format` (TCP has no baud rate; bytes
                 pass 8 bits clean whatever the format).
    ms()         real monotonic milliseconds (the protocol's reaction times are real
                 time, whatever the speed of the simulated clock).
Line turnaround: bytes that arrive within TURN_MS of the meter's last write are
delivered TURN_MS after it. A UART line cannot answer before the last character has
left the wire (20 characters take 21 ms at 9600 baud); a TCP peer answers within a
fraction of a millisecond, in the same poll as the meter's last write, while the
meter's output is not yet known to be over (the meter takes input arriving then for an
echo and drops it).
Loopback only: any host but 127.0.0.1 / localhost is refused (ValueError).
Runs on the MicroPython unix port (`socket`, `select`) and on CPython.
"""

import select
import socket
import sys

from boards.sim import realtime

MICRO = sys.implementation.name == "micropython"
LOOPBACK = "127.0.0.1"
WRITE_MS = 500          # the longest a write waits for a full socket buffer to drain
TURN_MS = 2             # line turnaround: input is held this long after the last write
MAX_RX = 4096           # bytes held for the meter; beyond that the peer is not read
_EAGAIN = (11, 35)      # EAGAIN / EWOULDBLOCK (Linux, BSD)
# no SIGPIPE when the peer has gone (MSG_NOSIGNAL, Linux); elsewhere CPython ignores it
_NOSIGNAL = getattr(socket, "MSG_NOSIGNAL", 0x4000 if sys.platform == "linux" else 0)


ms = realtime.ms
_elapsed = realtime.elapsed


def _errno(e):
    return e.args[0] if e.args else None


def loopback(host):
    """'127.0.0.1' for 127.0.0.1 / localhost; ValueError for any other host."""
    if host in ("127.0.0.1", "localhost"):
        return LOOPBACK
    raise ValueError("optical port: loopback only (127.0.0.1 or localhost), got host %r"
                     % (host,))


class TcpPort:
    def __init__(self, host, port):
        self.host = loopback(host)
        port = int(port)
        if not 0 < port < 65536:
            raise ValueError("optical port: TCP port 1..65535, got %d" % port)
        self.port = port
        self.format = (300, 7, "E")
        self.generation = 0
        self.connections = 0        # clients accepted
        self.bytes_in = 0           # bytes received from clients
        self.bytes_out = 0          # bytes delivered to clients
        self.bytes_dropped = 0      # bytes the meter wrote with no client to take them
        self._client = None
        self._cpoll = None
        self._rx = b""
        self._tx_ms = None          # when the meter last wrote (line turnaround)
        addr = socket.getaddrinfo(self.host, port)[0][-1]
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(addr)
            s.listen(2)
            s.setblocking(False)
        except OSError as e:
            s.close()
            raise ValueError("optical port: cannot listen on %s:%d (errno %s)"
                             % (self.host, port, _errno(e)))
        self._listener = s
        self._lpoll = select.poll()
        self._lpoll.register(s, select.POLLIN)

    # -- connections ---------------------------------------------------------------------
    def _accept(self):
        """True when a new client was taken (its bytes wait for the next service())."""
        try:
            if not self._lpoll.poll(0):
                return False
            c = self._listener.accept()[0]
        except OSError:
            return False
        self._drop()                    # a newer connection replaces the old one
        try:
            c.setblocking(False)
        except OSError:
            c.close()
            return False
        self._client = c
        self._cpoll = select.poll()
        self._cpoll.register(c, select.POLLIN)
        self._rx = b""
        self.generation += 1
        self.connections += 1
        return True

    def _drop(self):
        c = self._client
        self._client = None
        self._cpoll = None
        self._rx = b""
        if c is not None:
            try:
                c.close()
            except OSError:
                pass

    def _receive(self):
        c = self._client
        if c is None or len(self._rx) >= MAX_RX:
            return
        try:
            if not self._cpoll.poll(0):
                return
            data = c.recv(MAX_RX - len(self._rx))
        except OSError as e:
            if _errno(e) not in _EAGAIN:
                self._drop()            # reset by the peer
            return
        if not data:
            self._drop()                # the peer closed the connection
            return
        self.bytes_in += len(data)
        self._rx += data

    def service(self):
        """Accept a waiting client, or take what the current one sent (never blocks). A
        new client's first bytes come with the next call: the meter sees the new
        `generation` (and restarts its session) before it sees them."""
        if not self._accept():
            self._receive()

    @property
    def connected(self):
        return self._client is not None

    # -- the Port contract ---------------------------------------------------------------
    def _held(self):
        t = self._tx_ms
        if t is None:
            return False
        if _elapsed(t) < TURN_MS:
            return True
        self._tx_ms = None
        return False

    def any(self):
        self.service()
        if self._held():
            return 0
        return len(self._rx)

    def read(self, n=-1):
        if not self._rx:
            self.service()
        if not self._rx or self._held():
            return None
        if n is None or n < 0 or n >= len(self._rx):
            data, self._rx = self._rx, b""
        else:
            data, self._rx = self._rx[:n], self._rx[n:]
        return data

    def write(self, buf):
        n = len(buf)
        c = self._client
        if c is None:
            self.bytes_dropped += n
            return n
        mv = memoryview(buf)
        done = 0
        t0 = ms()
        while done < n:
            try:
                k = c.send(mv[done:], _NOSIGNAL)
            except OSError as e:
                if _errno(e) not in _EAGAIN:
                    break               # the peer went away (EPIPE, ECONNRESET)
                k = 0
            if k:
                done += k
                continue
            left = WRITE_MS - _elapsed(t0)
            if left <= 0:
                break                   # a peer that does not read: let it go
            try:
                p = select.poll()
                p.register(c, select.POLLOUT)
                p.poll(min(left, 20))
            except OSError:
                break
        self.bytes_out += done
        if done:
            self._tx_ms = ms()
        if done < n:
            self.bytes_dropped += n - done
            self._drop()
        return n

    def set_format(self, baud, bits, parity):
        self.format = (baud, bits, parity)

    def ms(self):
        return ms()

    def close(self):
        self._drop()
        try:
            self._listener.close()
        except OSError:
            pass

    def counters(self):
        """For the report: connections accepted and bytes in, out and dropped."""
        return {"connections": self.connections, "bytes_in": self.bytes_in,
                "bytes_out": self.bytes_out, "bytes_dropped": self.bytes_dropped,
                "format": list(self.format)}

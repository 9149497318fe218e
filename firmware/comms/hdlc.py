"""HDLC data link (IEC 62056-46, frame format type 3) for mode E of the optical port.

Hdlc() is handed the line by comms/iec62056.py after the option select V=2 Y=2 (8N1):
    reset()   a fresh link: disconnected (NDM), nothing buffered, done False
    feed(b)   one received byte (int); returns the bytes to send now, or None
    gap()     the line was silent longer than the inter-octet time-out: the frame in
              progress is abandoned and what it held after a flag is parsed again
              (returns like feed; optional: framing also resynchronises on flags, but
              a header-like burst of noise holds up parsing until its length is reached)
    done      True once a DISC ended the link: the optical port returns to idle
    connected True between SNRM/UA and DISC
    max_tx, max_rx  negotiated longest information field sent / accepted (128 default)
    errors    exceptions feed() caught (a bug if ever non-zero; feed never raises)

Frame (between flags 0x7E, no byte stuffing: the length field delimits it):
    format 0xA0|S|len(11 bit) - destination (server) - source (client) - control
    - [HCS - information] - FCS;  addresses 1, 2 or 4 bytes, LSB=1 marks the last;
    HCS and FCS are the FCS-16 of RFC 1662 (CRC-16/X.25), low byte first; HCS only
    when there is an information field. A frame with a bad HCS/FCS, a bad format or
    address field, an information field longer than we accept, or the no-station
    address (0) is silently discarded (HDLC: never answer what may not be for us).
    After a discarded candidate, parsing restarts at the first flag inside it, so
    garbage that looks like a frame header does not swallow the real frame behind it.
    There is one meter behind the optical port: any server address is ours, and the
    answer goes back with destination and source swapped.

Link procedure (normal response mode, we are the secondary station):
    we transmit only when polled (P=1), and set F=1 in the answer
    SNRM          -> UA with the negotiated parameters (format 0x81, group 0x80, then
                     0x05 max info transmit, 0x06 max info receive, 0x07 window transmit,
                     0x08 window receive; each ours: min(client's proposal, 128), window 1);
                     connected, V(S)=V(R)=0, frame-reject condition cleared. A SNRM whose
                     parameter field cannot be read -> DM (we stay disconnected)
    DISC          -> UA if connected, DM if not; disconnected, done = True
    disconnected  any other command -> DM (ISO/IEC 13239: a station in NDM reports
                  its mode with DM)
    connected     RR/RNR -> RR with N(R)=V(R) (nothing to send, ready); an invalid N(R)
                  (we have sent no I-frame, so only N(R)=0 is valid) -> FRMR Z
                  I-frame, UI, REJ/SREJ, unknown commands -> FRMR W

Why FRMR for I-frames: there is no COSEM application layer yet, so this station does
not implement information transfer. IEC 62056-46 (after ISO/IEC 13239) makes FRMR the
secondary's answer, in NRM, to an error-free frame it cannot accept and that
retransmitting the same frame cannot correct, first of them a control field that is
"undefined or not implemented" (bit W). The other answers would say something
false: RR would acknowledge (N(R)+1) data we threw away, REJ asks for a retransmission
that cannot help, DM claims the link is in disconnected mode while it is in NRM. A
client sees FRMR and fails its AARQ at once instead of polling until time-out. As the
standard requires, the frame-reject condition holds and every later poll gets the same
FRMR until a SNRM or DISC clears it. FRMR information: rejected control field,
V(R)<<5 | C/R(0: it was a command) | V(S)<<1, then the flags W=1 X=2 Y=4 Z=8.

Bounds: a frame longer than 15 + max information receive (largest header and FCS) is
dropped while its length field is read; the buffer is allocated once. Nothing raises.
"""

from micropython import const

FLAG = const(0x7E)
MAX_INFO = const(128)    # max information field length we transmit / receive (default)
WINDOW = const(1)        # window size, both directions
_HDR_MAX = const(15)     # format 2 + addresses 4 + 4 + control 1 + HCS 2 + FCS 2
_CAP = _HDR_MAX + MAX_INFO + 1   # candidate frame and its closing flag

# control field, P/F bit (0x10) cleared
SNRM = const(0x83)
DISC = const(0x43)
UA = const(0x63)
DM = const(0x0F)
FRMR = const(0x87)
RR = const(0x01)
PF = const(0x10)

# FRMR reason bits
FR_W = const(0x01)       # control field undefined or not implemented
FR_X = const(0x02)       # information field where none is permitted
FR_Y = const(0x04)       # information field too long
FR_Z = const(0x08)       # invalid N(R)

_HUNT = const(0)
_FRAME = const(1)


def _nibbles():
    t = []
    for i in range(16):
        c = i
        for _ in range(4):
            c = (c >> 1) ^ 0x8408 if c & 1 else c >> 1
        t.append(c)
    return tuple(t)


_NIB = _nibbles()


def fcs16(data, start, end):
    """FCS-16 of RFC 1662 (CRC-16/X.25) over data[start:end], as sent (complemented)."""
    t = _NIB
    crc = 0xFFFF
    for i in range(start, end):
        crc ^= data[i]
        crc = (crc >> 4) ^ t[crc & 15]
        crc = (crc >> 4) ^ t[crc & 15]
    return crc ^ 0xFFFF


def _addr_end(buf, start, limit):
    """Index after the HDLC address starting at buf[start] (1, 2 or 4 bytes), or -1."""
    j = start
    while j < limit and j < start + 4:
        if buf[j] & 1:
            n = j + 1 - start
            return j + 1 if n != 3 else -1
        j += 1
    return -1


def _is_zero(buf, start, end):
    for j in range(start, end):
        if buf[j] & (0xFE if j == end - 1 else 0xFF):
            return False
    return True


class Hdlc:
    def __init__(self):
        self._buf = bytearray(_CAP)
        self._tx = bytearray(1 + _HDR_MAX + 3 + 18 + 1)    # UA with parameters is longest
        self._txv = memoryview(self._tx)
        self._frmr = bytearray(3)
        self.errors = 0            # exceptions caught in feed(): 0 unless there is a bug
        self.reset()

    def reset(self):
        self.done = False
        self.connected = False
        self._frmr_on = False
        self._vs = 0
        self._vr = 0
        self.max_tx = MAX_INFO     # negotiated: longest information field we send
        self.max_rx = MAX_INFO     # negotiated: longest information field we accept
        self._st = _HUNT
        self._n = 0
        self._len = 0
        self._r = 0                # bytes buf[_r:_end] wait to be parsed again
        self._end = 0

    def feed(self, b):
        try:
            return self._drain(self._step(b & 0xFF))
        except Exception:      # defensive only: the meter must outlive any line noise
            self._lost()
            return None

    def gap(self):
        try:
            out = None
            while self._st == _FRAME and self._n:
                self._fail()
                out = self._drain(out)
            return out
        except Exception:
            self._lost()
            return None

    def _lost(self):
        self.errors += 1
        self._st = _HUNT
        self._n = 0
        self._r = self._end = 0

    def _drain(self, out):
        """Parse again the bytes a discarded candidate left (see _fail)."""
        buf = self._buf
        while self._r < self._end:
            r = self._r
            self._r = r + 1
            o = self._step(buf[r])
            if o:
                out = o if out is None else out + o
        return out

    # --- framing ---------------------------------------------------------------

    def _step(self, b):
        if self._st == _HUNT:
            if b == FLAG:
                self._st = _FRAME
                self._n = 0
            return None
        n = self._n
        if n == 0 and b == FLAG:
            return None                        # idle fill or the shared flag
        buf = self._buf
        buf[n] = b
        n += 1
        self._n = n
        if n == 1:
            if (b & 0xF0) != 0xA0:
                self._fail()
            return None
        if n == 2:
            ln = ((buf[0] & 7) << 8) | b
            if ln < 7 or ln > _HDR_MAX + self.max_rx:
                self._fail()
            else:
                self._len = ln
            return None
        ln = self._len
        if n <= ln:
            return None
        if b != FLAG:                          # no closing flag where the length says
            self._fail()
            return None
        out = self._frame(ln)
        if out is False:
            self._fail()                       # finds at least the closing flag
            return None
        self._n = 0                            # the closing flag opens the next frame
        return out

    def _fail(self):
        """Discard the candidate in buf[0:_n]; parse again from the first flag inside it
        (type 3 frames have no byte stuffing, so a flag inside may open the real frame)."""
        buf = self._buf
        n = self._n
        self._n = 0
        i = 1
        while i < n and buf[i] != FLAG:
            i += 1
        if i >= n:
            self._st = _HUNT
            return
        self._st = _FRAME
        k = n - i - 1                          # bytes after that flag, to parse again
        r = self._r
        end = self._end
        if r >= end:
            r = end = n
        # put them just before the bytes still waiting (never below i + 1: no overlap
        # problem copying from the end down)
        d = r - k
        j = k
        while j > 0:
            j -= 1
            buf[d + j] = buf[i + 1 + j]
        self._r = d
        self._end = end

    def _frame(self, ln):
        """A candidate buf[0:ln] between flags: False if not a valid frame, else the
        answer (None when there is nothing to send)."""
        buf = self._buf
        de = _addr_end(buf, 2, ln)
        if de < 0:
            return False
        c = _addr_end(buf, de, ln)
        if c < 0:
            return False
        if ln == c + 3:
            ilen = 0
        elif ln >= c + 6:
            ilen = ln - c - 5
            if fcs16(buf, 0, c + 1) != buf[c + 1] | (buf[c + 2] << 8):
                return False
        else:
            return False
        if fcs16(buf, 0, ln - 2) != buf[ln - 2] | (buf[ln - 1] << 8):
            return False
        if _is_zero(buf, 2, de) or _is_zero(buf, de, c):
            return None                        # no-station address: not for anyone
        if ilen > self.max_rx:
            return None                        # longer than we accept: dropped
        return self._command(buf[c], de, c, ilen)

    # --- link procedure --------------------------------------------------------

    def _command(self, ctl, de, c, ilen):
        poll = ctl & PF
        u = ctl & ~PF
        if u == SNRM:
            if not self._negotiate(c + 3, ilen):
                self._disconnect()
                return self._reply(DM, de, c, 0) if poll else None
            self.connected = True
            self._frmr_on = False
            self._vs = 0
            self._vr = 0
            return self._ua_params(de, c) if poll else None
        if u == DISC:
            was = self.connected
            self._disconnect()
            self.done = True
            if not poll:
                return None
            return self._reply(UA if was else DM, de, c, 0)
        if not self.connected:
            return self._reply(DM, de, c, 0) if poll else None
        if not self._frmr_on:
            if (ctl & 1) == 0:                   # I-frame: no upper layer to take it
                self._reject(ctl, FR_W | (FR_Z if ctl >> 5 != self._vs else 0))
            elif (ctl & 0x0B) == 0x01:           # RR (0x01) or RNR (0x05)
                if ilen:
                    self._reject(ctl, FR_W | FR_X)
                elif ctl >> 5 != self._vs:
                    self._reject(ctl, FR_Z)
                else:
                    return self._reply(RR | (self._vr << 5), de, c, 0) if poll else None
            else:                              # REJ, SREJ, UI, any other command
                self._reject(ctl, FR_W)
        if not poll:
            return None
        t = self._tx
        hl = self._head(FRMR, de, c, 3)
        t[hl:hl + 3] = self._frmr
        return self._finish(hl + 3)

    def _disconnect(self):
        self.connected = False
        self._frmr_on = False
        self.max_tx = MAX_INFO
        self.max_rx = MAX_INFO

    def _reject(self, ctl, why):
        f = self._frmr
        f[0] = ctl
        f[1] = (self._vr << 5) | (self._vs << 1)
        f[2] = why
        self._frmr_on = True

    def _negotiate(self, s, ilen):
        """Read the SNRM parameters buf[s:s+ilen]; False if the field is malformed."""
        tx = rx = MAX_INFO              # the client's proposals (defaults when absent)
        if ilen:
            buf = self._buf
            if ilen < 3 or buf[s] != 0x81 or buf[s + 1] != 0x80 or buf[s + 2] != ilen - 3:
                return False
            i = s + 3
            e = s + ilen
            while i < e:
                if i + 2 > e:
                    return False
                pid = buf[i]
                n = buf[i + 1]
                i += 2
                if n < 1 or n > 4 or i + n > e:
                    return False
                v = 0
                for j in range(i, i + n):
                    v = (v << 8) | buf[j]
                i += n
                if pid in (5, 6, 7, 8) and v == 0:
                    return False
                if pid == 5:
                    tx = v
                elif pid == 6:
                    rx = v
                # 7, 8 (windows): any value >= 1 gives 1; other ids are ignored
        self.max_rx = min(tx, MAX_INFO)
        self.max_tx = min(rx, MAX_INFO)
        return True

    # --- answers -----------------------------------------------------------------

    def _head(self, ctl, de, c, ilen):
        """Write flag, format, addresses (swapped), control and, if ilen, room for the
        HCS into _tx; returns the index where the information field goes (or the FCS)."""
        t = self._tx
        buf = self._buf
        na = c - 2                             # both addresses
        ln = 2 + na + 1 + 2 + (ilen + 2 if ilen else 0)
        t[0] = FLAG
        t[1] = 0xA0 | (ln >> 8)
        t[2] = ln & 0xFF
        k = 3
        for j in range(de, c):                 # their source is our destination
            t[k] = buf[j]
            k += 1
        for j in range(2, de):
            t[k] = buf[j]
            k += 1
        t[k] = ctl | PF
        k += 1
        if ilen:
            h = fcs16(t, 1, k)
            t[k] = h & 0xFF
            t[k + 1] = h >> 8
            k += 2
        return k

    def _finish(self, k):
        t = self._tx
        f = fcs16(t, 1, k)
        t[k] = f & 0xFF
        t[k + 1] = f >> 8
        t[k + 2] = FLAG
        return bytes(self._txv[:k + 3])

    def _reply(self, ctl, de, c, ilen):
        return self._finish(self._head(ctl, de, c, ilen))

    def _ua_params(self, de, c):
        t = self._tx
        k = self._head(UA, de, c, 21)
        p = (0x81, 0x80, 18, 0x05, 1, self.max_tx, 0x06, 1, self.max_rx,
             0x07, 4, 0, 0, 0, WINDOW, 0x08, 4, 0, 0, 0, WINDOW)
        for v in p:
            t[k] = v
            k += 1
        return self._finish(k)

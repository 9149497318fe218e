"""Record area with EEPROM semantics on a flash block device: seq + CRC per slot, wear levelled.

One area is a run of erase blocks (4096 bytes on the RP2040) used as a ring of
fixed-size slots. append() programs the next erased slot with one record;
mount() scans the area once and finds the newest valid record of every kind
(current values) and the ring position; iter() walks the valid records oldest
first (logs). Flash rules are kept: a slot is programmed only while it is all
0xFF, a block is erased before the ring re-enters it, and every program covers
whole 256-byte pages (flash_range_program takes whole pages): a slot smaller
than a page is written as its page with 0xFF everywhere else, which leaves the
other slots of the page unchanged (NOR flash: programming a 1 changes nothing).

Slot layout (little endian), `slot` bytes (16..4096, a power of two):
    0          0xA0 | kind (kind 0..15)
    1 (..2)    payload length: 1 byte when slot <= 256, else 2 bytes
    then       sequence number u32 (+1 per record, across the whole area)
    then       payload, then 0xFF padding
    -4..       CRC-32 of all bytes before it
A slot whose first byte is 0x00 is dead: a write that was cut (torn) and then
retired by the next append, so later boots do not mistake it for corruption.

What mount() reports:
    torn     invalid slots from the write position to the end of its block: the
             program or erase in flight when the power failed (that one change
             is lost, nothing else)
    corrupt  an invalid slot anywhere else (bit rot, or a cut erase), or two valid
             records with the same sequence number; the newest valid record
             of each kind stands (data in a corrupt slot may be lost)

A current-values area holds one kind (the newest record is always in the last
written block, so the block the ring erases next never holds it); a log area
keeps the newest depth() records. Sequence numbers are u32: at one record per
second they last 136 years.

The block device is MicroPython's extended protocol: readblocks(n, buf, off),
writeblocks(n, buf, off) without implicit erase, ioctl(4) block count,
ioctl(5) block size, ioctl(6, n) erase; as rp2.Flash provides.
"""

import struct

try:
    from binascii import crc32
except ImportError:  # pragma: no cover - ports without binascii.crc32
    def crc32(data, crc=0):
        crc ^= 0xFFFFFFFF
        for b in data:
            crc ^= b
            for _ in range(8):
                crc = (crc >> 1) ^ (0xEDB88320 & -(crc & 1))
        return crc ^ 0xFFFFFFFF

PAGE = 256      # program granularity (RP2040 flash_range_program)
_MAGIC = 0xA0
_DEAD = 0x00
_TAIL = 4

# buffers shared by all areas (one meter loop, no two scans at once): the scan buffer
# holds one erase block; big slots (config records) share their slot buffer and blank
_shared = {}


def _get_shared(key, make):
    b = _shared.get(key)
    if b is None:
        b = _shared[key] = make()
    return b


class RecordArea:
    def __init__(self, dev, first_block, nblocks, slot=256, name="area"):
        bs = dev.ioctl(5, 0)
        if nblocks < 2:
            raise ValueError("%s: at least 2 erase blocks" % name)
        if slot < 16 or slot > bs or slot & (slot - 1) or bs % slot:
            raise ValueError("%s: slot must be a power of two, 16..%d bytes" % (name, bs))
        if bs % PAGE:
            raise ValueError("%s: block size %d is not whole %d-byte pages" % (name, bs, PAGE))
        if first_block < 0 or first_block + nblocks > dev.ioctl(4, 0):
            raise ValueError("%s: blocks %d..%d outside the device"
                             % (name, first_block, first_block + nblocks - 1))
        self.name = name
        self.dev = dev
        self.first = first_block
        self.nblocks = nblocks
        self.bs = bs
        self.slot = slot
        self.per_block = bs // slot
        self.nslots = nblocks * self.per_block
        self._lw = 1 if slot <= 256 else 2     # width of the length field
        self._head = 1 + self._lw + 4          # kind, length, seq
        self.capacity = slot - self._head - _TAIL   # payload bytes per record
        if slot >= 1024:
            self._buf = _get_shared(("buf", slot), lambda: bytearray(slot))
        else:
            self._buf = bytearray(slot)
        self._wlen = slot if slot >= PAGE else PAGE
        # a slot smaller than a page is programmed as its page, 0xFF elsewhere
        self._wbuf = bytearray(PAGE) if slot < PAGE else None
        self._blank = _get_shared(("blank", slot), lambda: b"\xff" * slot)
        self._blank_page = _get_shared(("blank", PAGE), lambda: b"\xff" * PAGE)
        self._scan = _get_shared(("scan", bs), lambda: bytearray(bs))
        self._blank_block = _get_shared(("blank", bs), lambda: b"\xff" * bs)
        self.seq = 0           # sequence number of the newest valid record (0 = none)
        self.head = 0          # next slot to program
        self.top = {}          # kind -> (seq, slot) of its newest valid record
        self.torn = 0          # from the last mount (see module doc)
        self.corrupt = 0
        self._bad = []
        self.erases = 0        # erases done by this object (wear figures)
        self.writes = 0        # records programmed by this object

    # -- reading -----------------------------------------------------------------------
    def _read(self, s):
        b = self._buf
        self.dev.readblocks(self.first + s // self.per_block, b,
                            (s % self.per_block) * self.slot)
        return b

    def _decode(self, b):
        """(kind, seq, length) of a valid slot; None if blank or dead; False if invalid."""
        m = b[0]
        if m == 0xFF and b == self._blank:
            return None
        if m == _DEAD:
            return None
        if m & 0xF0 != _MAGIC:
            return False
        n = b[1] if self._lw == 1 else b[1] | (b[2] << 8)
        if n > self.capacity:
            return False
        end = self.slot - _TAIL
        want = b[end] | (b[end + 1] << 8) | (b[end + 2] << 16) | (b[end + 3] << 24)
        if crc32(memoryview(b)[:end]) & 0xFFFFFFFF != want:
            return False
        h = 1 + self._lw
        seq = b[h] | (b[h + 1] << 8) | (b[h + 2] << 16) | (b[h + 3] << 24)
        return m & 0x0F, seq, n

    def _scan_all(self, b0=0, b1=None):
        """(slot, decode result) of every non-blank slot of blocks b0..b1-1, a block read
        at a time; the slot's bytes are in self._buf while the caller looks at it."""
        scan = self._scan
        mv = memoryview(scan)
        b = self._buf
        sl = self.slot
        for blk in range(b0, self.nblocks if b1 is None else b1):
            self.dev.readblocks(self.first + blk, scan, 0)
            if scan == self._blank_block:
                continue
            base = blk * self.per_block
            for j in range(self.per_block):
                o = j * sl
                if scan[o] == 0xFF or scan[o] == _DEAD:
                    b[:] = mv[o:o + sl]
                    if b == self._blank or b[0] == _DEAD:
                        continue
                else:
                    b[:] = mv[o:o + sl]
                yield base + j, self._decode(b)

    def _block_blank(self, blk):
        self.dev.readblocks(self.first + blk, self._scan, 0)
        return self._scan == self._blank_block

    def _payload(self, b, n):
        return bytes(b[self._head:self._head + n])

    def mount(self):
        """Scan the area: newest record per kind, write position, torn and corrupt slots.
        Returns (torn, corrupt)."""
        top = {}
        seq = 0
        best = -1
        bad = []
        prev = -1
        first = -1
        drops = 0
        for s, r in self._scan_all():
            if r is False:
                bad.append(s)
            elif r:
                k, q, _n = r
                if q <= prev:
                    drops += 1   # walked round the ring, one drop is the wrap point
                if first < 0:
                    first = q
                prev = q
                t = top.get(k)
                if t is None or q > t[0]:
                    top[k] = (q, s)
                if q >= seq:
                    seq = q
                    best = s
        if first >= 0 and first <= prev:
            drops += 1   # the step from the last record round to the first
        self.seq = seq
        self.top = top
        h = (best + 1) % self.nslots if best >= 0 else 0
        self.head = h
        # the write (or erase) in flight: invalid slots from the write position to the
        # end of its block
        end = h - h % self.per_block + self.per_block
        torn = 0
        for s in bad:
            if h <= s < end:
                torn += 1
        self.torn = torn
        self.corrupt = len(bad) - torn + (drops - 1 if drops > 1 else 0)
        self._bad = [s for s in bad if not h <= s < end]
        return self.torn, self.corrupt

    def retire_corrupt(self):
        """Zero the corrupt slots found by mount() (after they were logged), so the next
        boot does not report them again. Returns how many."""
        n = 0
        for s in self._bad:
            self._kill(s)
            n += 1
        self._bad = []
        return n

    def latest(self, kind=0):
        """(seq, payload) of the newest valid record of `kind` (as of mount/append), or None."""
        t = self.top.get(kind)
        if t is None:
            return None
        b = self._read(t[1])
        r = self._decode(b)
        if not r or r[1] != t[0]:
            return None
        return t[0], self._payload(b, r[2])

    def iter(self, kind=None, after=0):
        """Valid records (of `kind`, with seq > after) as (seq, payload), oldest first: the
        ring is walked once from the write position, a block at a time (no list of the
        whole area is built; the records of one block are decoded before it yields)."""
        for seq, k, p in self.walk(after):
            if kind is None or k == kind:
                yield seq, p

    def walk(self, after=0):
        """Every valid record with seq > after as (seq, kind, payload), oldest first."""
        per = self.per_block
        h = self.head
        hb = h // per
        for step in range(self.nblocks + 1):
            blk = (hb + step) % self.nblocks
            lo = h % per if step == 0 else 0
            hi = h % per if step == self.nblocks else per
            if lo >= hi:
                continue
            got = []
            for s, r in self._scan_all(blk, blk + 1):
                j = s % per
                if r and lo <= j < hi and r[1] > after:
                    got.append((r[1], r[0], self._payload(self._buf, r[2])))
            for x in got:
                yield x

    def records(self, kind=None):
        """All valid records (of `kind`) as a list of (seq, payload), oldest first."""
        return list(self.iter(kind))

    def depth(self):
        """Records a log area is guaranteed to hold: all slots but one block's worth
        (the block erased when the ring re-enters it)."""
        return self.nslots - self.per_block

    # -- writing -----------------------------------------------------------------------
    def _erase(self, blk):
        self.dev.ioctl(6, self.first + blk)
        self.erases += 1

    def _program(self, s, data):
        """Program slot s with `data` (slot bytes), as whole pages."""
        blk = self.first + s // self.per_block
        off = (s % self.per_block) * self.slot
        if self._wlen == self.slot:
            self.dev.writeblocks(blk, data, off)
            return
        w = self._wbuf
        page = off - off % PAGE
        w[:] = self._blank_page
        o = off - page
        w[o:o + self.slot] = data
        self.dev.writeblocks(blk, w, page)

    def _kill(self, s):
        """Retire a torn slot: program it to zeros (legal over anything)."""
        sl = self.slot
        self._program(s, _get_shared(("zero", sl), lambda: bytes(sl)))

    def append(self, kind, payload):
        """Program one record; returns its sequence number. The record is durable when
        this returns (the acknowledgement the logs rely on)."""
        n = len(payload)
        if n > self.capacity:
            raise ValueError("%s: record of %d bytes > capacity %d"
                             % (self.name, n, self.capacity))
        if not 0 <= kind <= 15:
            raise ValueError("%s: kind %d outside 0..15" % (self.name, kind))
        # find a blank slot: erase a block the ring enters unless it is blank; retire
        # slots spoilt by a cut write (never program over non-0xFF bytes)
        for _ in range(self.nslots + self.nblocks):
            s = self.head
            if s % self.per_block == 0 and not self._block_blank(s // self.per_block):
                self._erase(s // self.per_block)
            b = self._read(s)
            if b == self._blank:
                break
            if b[0] != _DEAD:
                self._kill(s)
            self.head = (s + 1) % self.nslots
        else:
            raise OSError("%s: no blank slot after erasing" % self.name)
        seq = (self.seq + 1) & 0xFFFFFFFF
        b = self._buf
        b[:] = self._blank
        b[0] = _MAGIC | kind
        b[1] = n & 0xFF
        if self._lw == 2:
            b[2] = n >> 8
        struct.pack_into("<I", b, 1 + self._lw, seq)
        h = self._head
        b[h:h + n] = payload
        end = self.slot - _TAIL
        struct.pack_into("<I", b, end, crc32(memoryview(b)[:end]) & 0xFFFFFFFF)
        s = self.head
        self._program(s, b)
        self.seq = seq
        self.top[kind] = (seq, s)
        self.head = (s + 1) % self.nslots
        self.writes += 1
        return seq

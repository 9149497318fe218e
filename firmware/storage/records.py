"""Record area with EEPROM semantics on a flash block device: seq + CRC per slot, wear levelled.

One area is a run of erase blocks (4096 bytes on the RP2040) used as a ring of
fixed-size slots. append() programs the next erased slot with one record;
mount() scans the area and finds the newest valid record (current values) or
all valid records in order (logs). Flash rules are kept: a slot is programmed
only while it is all 0xFF, and a block is erased before the ring re-enters it.

Slot layout (little endian), `slot` bytes (default 256: one RP2040 program page, since
flash_range_program takes whole pages):
    0      magic 0xA5
    1      kind (user byte)
    2..3   payload length
    4..7   sequence number (u32, +1 per record, across the whole area)
    8..    payload, then 0xFF padding
    -4..   CRC-32 of bytes 0..slot-5
A write cut at any byte leaves a slot whose CRC fails: it is skipped (never
programmed again until its block is erased) and the previous record stands.
A cut erase leaves a block partly 0xFF: the ring re-erases a block it enters
whenever its first slot is not blank.

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

_MAGIC = 0xA5
_HEAD = 8
_TAIL = 4


class RecordArea:
    def __init__(self, dev, first_block, nblocks, slot=256):
        bs = dev.ioctl(5, 0)
        if nblocks < 2:
            raise ValueError("record area: at least 2 erase blocks")
        if slot < _HEAD + _TAIL + 1 or bs % slot:
            raise ValueError("record area: slot size must divide the block size %d" % bs)
        if first_block < 0 or first_block + nblocks > dev.ioctl(4, 0):
            raise ValueError("record area: blocks outside the device")
        self.dev = dev
        self.first = first_block
        self.nblocks = nblocks
        self.bs = bs
        self.slot = slot
        self.per_block = bs // slot
        self.nslots = nblocks * self.per_block
        self.capacity = slot - _HEAD - _TAIL   # payload bytes per record
        self._buf = bytearray(slot)
        self._blank = b"\xff" * slot
        self.seq = 0           # sequence number of the newest valid record (0 = none)
        self.head = 0          # next slot to program
        self.invalid = 0       # non-blank slots whose CRC failed at the last mount
        self.erases = 0        # erases done by this object (wear figures)

    # -- reading -----------------------------------------------------------------------
    def _read(self, s):
        b = self._buf
        self.dev.readblocks(self.first + s // self.per_block, b,
                            (s % self.per_block) * self.slot)
        return b

    def _decode(self, b):
        """(kind, seq, payload) of a valid slot, None if blank, False if invalid."""
        if b == self._blank:
            return None
        if b[0] != _MAGIC:
            return False
        n = b[2] | (b[3] << 8)
        if n > self.capacity:
            return False
        want = struct.unpack_from("<I", b, self.slot - _TAIL)[0]
        if crc32(memoryview(b)[:self.slot - _TAIL]) & 0xFFFFFFFF != want:
            return False
        seq = struct.unpack_from("<I", b, 4)[0]
        return b[1], seq, bytes(b[_HEAD:_HEAD + n])

    def scan(self):
        """Yield (slot, kind, seq, payload) of every valid record, in slot order."""
        for s in range(self.nslots):
            r = self._decode(self._read(s))
            if r:
                yield s, r[0], r[1], r[2]

    def mount(self):
        """Find the newest record and the write position. Returns the number of invalid
        (cut or corrupted) slots seen, which the meter logs as an event."""
        best = -1
        seq = 0
        bad = 0
        for s in range(self.nslots):
            r = self._decode(self._read(s))
            if r is False:
                bad += 1
            elif r and r[1] >= seq:
                seq = r[1]
                best = s
        self.seq = seq
        self.invalid = bad
        self.head = (best + 1) % self.nslots if best >= 0 else 0
        return bad

    def latest(self, kind=None):
        """(seq, payload) of the newest valid record (of `kind`), or None."""
        top = None
        for _s, k, seq, payload in self.scan():
            if (kind is None or k == kind) and (top is None or seq > top[0]):
                top = (seq, payload)
        return top

    def records(self, kind=None):
        """All valid records (of `kind`) as (seq, payload), oldest first (logs)."""
        out = [(seq, p) for _s, k, seq, p in self.scan() if kind is None or k == kind]
        out.sort()
        return out

    # -- writing -----------------------------------------------------------------------
    def _erase(self, blk):
        self.dev.ioctl(6, self.first + blk)
        self.erases += 1

    def append(self, kind, payload):
        """Program one record; returns its sequence number. The record is durable when
        this returns (the acknowledgement the logs rely on)."""
        n = len(payload)
        if n > self.capacity:
            raise ValueError("record: %d bytes > capacity %d" % (n, self.capacity))
        # find a blank slot: erase a block the ring enters unless it is blank; skip slots
        # spoilt by a cut write (never program over non-0xFF bytes)
        for _ in range(self.nslots + self.nblocks):
            s = self.head
            if s % self.per_block == 0 and self._read(s) != self._blank:
                self._erase(s // self.per_block)
            if self._read(s) == self._blank:
                break
            self.head = (s + 1) % self.nslots
        else:
            raise OSError("record area: no blank slot after erasing")
        seq = (self.seq + 1) & 0xFFFFFFFF
        b = self._buf
        for i in range(self.slot):
            b[i] = 0xFF
        b[0] = _MAGIC
        b[1] = kind & 0xFF
        b[2] = n & 0xFF
        b[3] = n >> 8
        struct.pack_into("<I", b, 4, seq)
        b[_HEAD:_HEAD + n] = payload
        struct.pack_into("<I", b, self.slot - _TAIL,
                         crc32(memoryview(b)[:self.slot - _TAIL]) & 0xFFFFFFFF)
        s = self.head
        self.dev.writeblocks(self.first + s // self.per_block, b, (s % self.per_block) * self.slot)
        self.seq = seq
        self.head = (s + 1) % self.nslots
        return seq

    def depth(self):
        """Records a log area is guaranteed to hold: all slots but one block's worth
        (the block erased when the ring re-enters it)."""
        return self.nslots - self.per_block

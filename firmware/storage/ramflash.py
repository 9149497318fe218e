"""Flash models for tests and the simulator: RP2040 flash rules, power cuts, bit rot (RAM device).

FlashModel is the extended block protocol as rp2.Flash gives it: readblocks(n,
buf, off), writeblocks(n, buf, off) (program: bits only go 1 -> 0, whole
256-byte pages, inside one erase block), ioctl(4/5/6). Subclasses keep the
bytes (RamFlash: a bytearray; boards/sim FileFlash: a file).
`cut(j, k)` lets the next j programs/erases finish and stops the one after that
after k bytes, raising PowerCut and leaving the flash as a real cut would: the
first k bytes programmed (or, for an erase, the first k bytes at 0xFF).
`flip(bit)` models retention failure. `erase_counts` gives the wear per block.
"""


class PowerCut(BaseException):
    """The supply is gone: the end of execution, not an error (the meter's own
    `except Exception` handlers, which keep it measuring, must not catch it)."""


class FlashModel:
    def __init__(self, nblocks, block_size=4096, page=256):
        self.bs = block_size
        self.page = page
        self.nblocks = nblocks
        self.erase_counts = [0] * nblocks
        self._cut_ops = -1      # operations to let through before the cut (-1: no cut)
        self._cut_k = 0
        self.ops = 0            # programs + erases done
        self.programs = 0
        self.log = None         # list: records (op, size) of every operation when set

    # storage of the bytes (subclasses)
    def _get(self, a, buf):
        raise NotImplementedError

    def _and(self, a, buf, k):
        """AND the first k bytes of buf into flash at address a."""
        raise NotImplementedError

    def _fill(self, a, k):
        """Set k bytes at address a to 0xFF."""
        raise NotImplementedError

    def cut(self, ops, k):
        self._cut_ops = ops
        self._cut_k = k

    def _cut(self, kind, n):
        """Bytes of an n-byte operation that happen before the power fails."""
        if self.log is not None:
            self.log.append((kind, n))
        if self._cut_ops < 0:
            return n
        if self._cut_ops > 0:
            self._cut_ops -= 1
            return n
        self._cut_ops = -1
        return self._cut_k if self._cut_k < n else n

    def _check(self, n, off, ln):
        if not 0 <= n < self.nblocks:
            raise ValueError("flash block %d outside 0..%d" % (n, self.nblocks - 1))
        if off < 0 or off + ln > self.bs:
            raise ValueError("flash access crosses an erase block")

    def readblocks(self, n, buf, off=0):
        self._check(n, off, len(buf))
        self._get(n * self.bs + off, buf)

    def writeblocks(self, n, buf, off=0):
        ln = len(buf)
        self._check(n, off, ln)
        a = n * self.bs + off
        if a % self.page or ln % self.page:
            raise ValueError("flash program must cover whole %d-byte pages" % self.page)
        self.ops += 1
        self.programs += 1
        k = self._cut("program", ln)
        self._and(a, buf, k)
        if k < ln:
            raise PowerCut()

    def ioctl(self, op, arg=0):
        if op == 4:
            return self.nblocks
        if op == 5:
            return self.bs
        if op == 6:
            self._check(arg, 0, 0)
            self.ops += 1
            self.erase_counts[arg] += 1
            k = self._cut("erase", self.bs)
            self._fill(arg * self.bs, k)
            if k < self.bs:
                raise PowerCut()
            return 0
        if op in (1, 2, 3):   # init, deinit, sync
            return 0
        return None


class RamFlash(FlashModel):
    def __init__(self, nblocks, block_size=4096, page=256):
        FlashModel.__init__(self, nblocks, block_size, page)
        self._ff = b"\xff" * block_size
        self.mem = bytearray(nblocks * block_size)
        for b in range(nblocks):
            self._fill(b * block_size, block_size)

    def _get(self, a, buf):
        buf[:] = memoryview(self.mem)[a:a + len(buf)]

    def _and(self, a, buf, k):
        if k:
            m = self.mem
            x = int.from_bytes(m[a:a + k], "little") & int.from_bytes(buf[:k], "little")
            m[a:a + k] = x.to_bytes(k, "little")

    def _fill(self, a, k):
        self.mem[a:a + k] = memoryview(self._ff)[:k]

    def flip(self, bit):
        self.mem[bit >> 3] ^= 1 << (bit & 7)

    def image(self):
        return bytes(self.mem)

    def load(self, image):
        self.mem[:] = image

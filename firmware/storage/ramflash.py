"""RAM flash device for tests and the simulator: RP2040 flash rules, power cuts, bit rot.

Extended block protocol like rp2.Flash: readblocks(n, buf, off), writeblocks(n, buf,
off) (program: bits only go 1 -> 0, whole 256-byte pages), ioctl(4/5/6).
`cut(j, k)` lets the next j programs/erases finish and stops the one after that
after k bytes, raising PowerCut and leaving the flash as a real cut would: the
first k bytes programmed (or, for an erase, the first k bytes at 0xFF). `flip(bit)` models
retention failure. `erase_counts` gives the wear per block.
"""


class PowerCut(Exception):
    pass


class RamFlash:
    def __init__(self, nblocks, block_size=4096, page=256):
        self.bs = block_size
        self.page = page
        self.nblocks = nblocks
        self.mem = bytearray(b"\xff" * (nblocks * block_size))
        self.erase_counts = [0] * nblocks
        self._cut_ops = -1      # operations to let through before the cut (-1: no cut)
        self._cut_k = 0
        self.ops = 0            # programs + erases done
        self.log = None         # list: records (op, size) of every operation when set

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

    def readblocks(self, n, buf, off=0):
        a = n * self.bs + off
        buf[:] = self.mem[a:a + len(buf)]

    def writeblocks(self, n, buf, off=0):
        a = n * self.bs + off
        ln = len(buf)
        if a % self.page or ln % self.page:
            raise ValueError("flash program must cover whole %d-byte pages" % self.page)
        if off + ln > self.bs:
            raise ValueError("program crosses an erase block")
        self.ops += 1
        k = self._cut("program", ln)
        m = self.mem
        for i in range(k):
            m[a + i] &= buf[i]
        if k < ln:
            raise PowerCut()

    def ioctl(self, op, arg=0):
        if op == 4:
            return self.nblocks
        if op == 5:
            return self.bs
        if op == 6:
            self.ops += 1
            self.erase_counts[arg] += 1
            a = arg * self.bs
            k = self._cut("erase", self.bs)
            self.mem[a:a + k] = b"\xff" * k
            if k < self.bs:
                raise PowerCut()
            return 0
        return None

    def flip(self, bit):
        self.mem[bit >> 3] ^= 1 << (bit & 7)

    def image(self):
        return bytes(self.mem)

    def load(self, image):
        self.mem[:] = image

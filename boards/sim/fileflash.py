"""The simulator's flash: a file with the RP2040 flash rules (the meter's state across runs).

`--state DIR` keeps DIR/flash.bin: the record region, byte for byte as the board's
flash would hold it. Programs AND bits into the file, erases write 0xFF; every
operation is flushed before it returns, so a killed simulator leaves the file
as a power cut leaves flash. FlashModel gives the page rules and `cut(j, k)`.
"""

from mpmeter.storage.ramflash import FlashModel


class FileFlash(FlashModel):
    def __init__(self, path, nblocks, block_size=4096):
        FlashModel.__init__(self, nblocks, block_size)
        size = nblocks * block_size
        try:
            f = open(path, "r+b")
        except OSError:
            f = open(path, "w+b")
            chunk = b"\xff" * block_size
            for _ in range(nblocks):
                f.write(chunk)
            f.flush()
        f.seek(0, 2)
        have = f.tell()
        if have != size:
            f.close()
            raise ValueError("%s: %d bytes, a flash region of %d blocks is %d bytes"
                             % (path, have, nblocks, size))
        self.f = f
        self.path = path
        self._tmp = bytearray(block_size)

    def _get(self, a, buf):
        f = self.f
        f.seek(a)
        n = f.readinto(buf)
        if n != len(buf):
            raise OSError("%s: short read at %d" % (self.path, a))

    def _and(self, a, buf, k):
        if not k:
            return
        t = memoryview(self._tmp)[:k]
        self._get(a, t)
        for i in range(k):
            t[i] &= buf[i]
        f = self.f
        f.seek(a)
        f.write(t)
        f.flush()

    def _fill(self, a, k):
        if not k:
            return
        f = self.f
        f.seek(a)
        f.write(b"\xff" * k)
        f.flush()

    def close(self):
        self.f.close()

"""Fake of MicroPython's `rp2` module for tests: rp2.Flash over a modelled 2 MiB Pico flash chip.

Runs under CPython and the MicroPython unix port. Modelled on ports/rp2/rp2_flash.c
(RPI_PICO: 2 MiB flash, MICROPY_HW_FLASH_STORAGE_BYTES = 1408 KiB at flash
offset 0x0A0000, the firmware image below it):

- Chip: the whole flash as a bytearray at absolute offsets. erase() is
  flash_range_erase (whole 4096-byte sectors -> 0xFF), program() is
  flash_range_program (whole 256-byte pages, bits only 1 -> 0: new = old AND data).
  Every erase and program is recorded in `ops` as (kind, absolute offset, length).
  The SDK only asserts alignment in debug builds; here a misaligned call raises.
- FakeRp2(chip).Flash(): the singleton over the whole storage region;
  Flash(start=S, len=L) (keyword only) a new device over storage bytes S..S+L, with
  rp2_flash_make_new's checks (-1 stands for "not given", as in the C code).
- Flash.readblocks/writeblocks/ioctl as in rp2_flash.c: offsets are not checked
  against the device's length (the C code does not either), so an access past the
  end lands in the next bytes of the chip and shows up in `ops`.
"""

FLASH_BYTES = 2048 * 1024
STORAGE_BYTES = 1408 * 1024
STORAGE_BASE = FLASH_BYTES - STORAGE_BYTES      # 0x0A0000
SECTOR = 4096
PAGE = 256


class Chip:
    """The flash chip: firmware bytes (a pattern) below STORAGE_BASE, 0xFF above."""

    def __init__(self):
        self.mem = bytearray(b"\xff" * FLASH_BYTES)
        pattern = bytes(range(256))
        for a in range(0, STORAGE_BASE, 256):
            self.mem[a:a + 256] = pattern
        self.ops = []

    def _span(self, a, n):
        if a < 0 or n < 0 or a + n > FLASH_BYTES:
            raise ValueError("flash: %d bytes at 0x%06x outside the 2 MiB chip" % (n, a))

    def read(self, a, buf):
        self._span(a, len(buf))
        buf[:] = memoryview(self.mem)[a:a + len(buf)]

    def erase(self, a, n):
        self._span(a, n)
        if a % SECTOR or n % SECTOR:
            raise ValueError("flash_range_erase: 0x%06x +%d is not whole sectors" % (a, n))
        self.ops.append(("erase", a, n))
        self.mem[a:a + n] = b"\xff" * n

    def program(self, a, data):
        n = len(data)
        self._span(a, n)
        if a % PAGE or n % PAGE:
            raise ValueError("flash_range_program: 0x%06x +%d is not whole pages" % (a, n))
        self.ops.append(("program", a, n))
        m = self.mem
        for i in range(n):
            m[a + i] &= data[i]

    def snapshot(self, lo, hi):
        return bytes(self.mem[lo:hi])


class Flash:
    """One rp2.Flash object: `base` (absolute chip offset) and `size` bytes."""

    def __init__(self, chip, base, size):
        self.chip = chip
        self.base = base
        self.size = size

    def _at(self, n, off):
        if n < 0:
            raise ValueError("flash: negative block number")
        return self.base + n * SECTOR + (0 if off is None else off)

    def readblocks(self, n, buf, off=None):
        self.chip.read(self._at(n, off), buf)

    def writeblocks(self, n, buf, off=None):
        a = self._at(n, off)
        if off is None:             # 3 arguments: erase what buf covers, then program
            self.chip.erase(a, len(buf))
        self.chip.program(a, buf)

    def ioctl(self, cmd, arg):
        if cmd in (1, 2, 3):        # init, deinit, sync
            return 0
        if cmd == 4:
            return self.size // SECTOR
        if cmd == 5:
            return SECTOR
        if cmd == 6:
            self.chip.erase(self._at(arg, None), SECTOR)
            return 0
        return None


class FakeRp2:
    """Stands for the rp2 module (only Flash) on one chip; a new FakeRp2 is a reboot."""

    def __init__(self, chip):
        self.chip = chip
        self._whole = None
        self.made = []              # (start, len) of every Flash object made

    def Flash(self, *, start=-1, len=-1):  # `len`: the keyword rp2 takes
        if start == -1 and len == -1:
            if self._whole is None:
                self._whole = Flash(self.chip, STORAGE_BASE, STORAGE_BYTES)
            self.made.append((0, STORAGE_BYTES))
            return self._whole
        if start == -1:
            start = 0
        elif not (0 <= start < STORAGE_BYTES and start % SECTOR == 0):
            raise ValueError()
        if len == -1:
            len = STORAGE_BYTES - start
        elif not (0 < len and start + len <= STORAGE_BYTES and len % SECTOR == 0):
            raise ValueError()
        self.made.append((start, len))
        return Flash(self.chip, STORAGE_BASE + start, len)

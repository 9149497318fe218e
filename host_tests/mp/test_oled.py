"""On-MicroPython tests of the SSD1306/SH1106 OLED renderer against a controller model.

The model decodes the bytes the driver puts on the bus the way the datasheets say the
controller does (Solomon SSD1306 rev 1.5, Sino Wealth SH1106): control byte (Co, D/C#),
command streams with their parameter bytes, page and column pointers, the column
pointer advancing per data byte, GDDRAM of 8 pages x 128 (SSD1306) or 132 (SH1106)
columns. Expected pictures are built here with framebuf's own text() at the
coordinates documented in display/oled.py, the 2x value digits by this file's loop.
"""

import framebuf
import unittest

from mpmeter.display.lcd import BLINK, MAGNET, OFF, ON, Frame
from mpmeter.display.oled import Oled

GARBAGE = 0xA5  # the model's power-up RAM content

# commands with parameter bytes -> how many; single-byte commands by range below
SSD1306_PARAMS = {0x81: 1, 0x8D: 1, 0x20: 1, 0x21: 2, 0x22: 2, 0xA8: 1, 0xD3: 1, 0xD5: 1,
                  0xD9: 1, 0xDA: 1, 0xDB: 1, 0xA3: 2, 0x26: 6, 0x27: 6, 0x29: 5, 0x2A: 5}
SH1106_PARAMS = {0x81: 1, 0xA8: 1, 0xAD: 1, 0xD3: 1, 0xD5: 1, 0xD9: 1, 0xDA: 1, 0xDB: 1}


def single(sh1106, c):
    """A command of one byte in the controller's command table."""
    if c <= 0x1F or 0x40 <= c <= 0x7F or 0xB0 <= c <= 0xB7:
        return True  # column low/high, start line, page address
    if c in (0xA0, 0xA1, 0xA4, 0xA5, 0xA6, 0xA7, 0xAE, 0xAF, 0xE3):
        return True
    if sh1106:
        return 0x30 <= c <= 0x33 or 0xC0 <= c <= 0xCF or c in (0xE0, 0xEE)
    return c in (0xC0, 0xC8, 0x2E, 0x2F)


class Controller:
    def __init__(self, sh1106=False):
        self.sh1106 = sh1106
        self.cols = 132 if sh1106 else 128
        self.col0 = 2 if sh1106 else 0  # the 128-pixel glass's first RAM column
        self.ram = [bytearray([GARBAGE] * self.cols) for _ in range(8)]
        self.page = 0
        self.col = 0
        self.wrapped = False
        self.overrun = 0
        self.on = False
        self.mode = 2  # SSD1306 memory addressing mode (reset: page)
        self.reg = {}  # command -> its parameter bytes (last written)
        self.log = []  # every command byte (first byte of each command), in order
        self.blank_at_on = None  # was the glass area all zero when display on came

    def transaction(self, buf):
        i = 0
        n = len(buf)
        while i < n:
            ctl = buf[i]
            i += 1
            assert ctl & 0x3F == 0, "control byte %02x: low bits must be 0" % ctl
            data = ctl & 0x40
            if ctl & 0x80:  # Co = 1: one byte, then another control byte
                chunk = buf[i:i + 1]
                i += 1
            else:  # Co = 0: the rest of the transaction
                chunk = buf[i:]
                i = n
            if data:
                self.data(chunk)
            else:
                self.commands(chunk)

    def commands(self, cmds):
        params = SH1106_PARAMS if self.sh1106 else SSD1306_PARAMS
        i = 0
        while i < len(cmds):
            c = cmds[i]
            if c in params:
                k = params[c]
                assert i + k < len(cmds), "command %02x cut short" % c
                p = bytes(cmds[i + 1:i + 1 + k])
                i += 1 + k
            else:
                assert single(self.sh1106, c), "%02x is not a command of this controller" % c
                p = b""
                i += 1
            self.log.append(c)
            self.execute(c, p)

    def execute(self, c, p):
        if c <= 0x0F:
            self.col = (self.col & 0xF0) | c
            self.wrapped = False
        elif c <= 0x1F:
            self.col = (self.col & 0x0F) | (c & 0x0F) << 4
            self.wrapped = False
        elif 0xB0 <= c <= 0xB7:
            self.page = c & 7
        elif 0x40 <= c <= 0x7F:
            self.reg["start"] = c & 0x3F
        elif c in (0xAE, 0xAF):
            self.on = c == 0xAF
            if self.on:
                self.blank_at_on = all(not any(r[self.col0:self.col0 + 128]) for r in self.ram)
        elif c in (0xA0, 0xA1):
            self.reg["remap"] = c & 1
        elif 0xC0 <= c <= 0xCF:
            self.reg["comscan"] = c & 8
        elif c in (0xA4, 0xA5):
            self.reg["entire"] = c & 1
        elif c in (0xA6, 0xA7):
            self.reg["inverse"] = c & 1
        elif c == 0x20:
            self.mode = p[0] & 3
        else:
            self.reg[c] = p

    def data(self, chunk):
        assert self.mode == 2, "the model writes in page addressing mode only"
        row = self.ram[self.page]
        for b in chunk:
            if self.wrapped:
                self.overrun += 1
            row[self.col] = b
            self.col += 1
            if self.col == self.cols:  # page mode: back to the first column, same page
                self.col = 0
                self.wrapped = True

    def pixel(self, x, y):
        return self.ram[y >> 3][self.col0 + x] >> (y & 7) & 1

    def glass(self):
        """The 128x64 glass as a MONO_VLSB buffer (to compare with an expected one)."""
        out = bytearray(1024)
        for p in range(8):
            out[p * 128:(p + 1) * 128] = self.ram[p][self.col0:self.col0 + 128]
        return out


class FakeI2C:
    def __init__(self, model, addr=0x3C):
        self.model = model
        self.addr = addr
        self.writes = []

    def writeto(self, addr, buf):
        assert addr == self.addr
        b = bytes(buf)  # the driver reuses its buffers
        self.writes.append(b)
        self.model.transaction(b)

    def pages_written(self):
        """Pages that got data since the last clear() (decoded from the bytes)."""
        pages = []
        page = None
        for w in self.writes:
            if w[0] == 0x00:
                for c in w[1:]:
                    if 0xB0 <= c <= 0xB7:
                        page = c & 7
            elif w[0] == 0x40 and len(w) > 1:
                pages.append(page)
        return pages


def expected(q="Q1", t="T2", mains=(("L1", 38),), value=" 1234567", dots=1 << 5,
             ident="1.8.0", unit="kWh", extra=None):
    """The documented layout drawn independently: small text with framebuf, the value
    digits scaled 2x pixel by pixel at x = 16k - 1, y = 16, points 2x2 at 16k+14, 28."""
    buf = bytearray(1024)
    fb = framebuf.FrameBuffer(buf, 128, 64, framebuf.MONO_VLSB)
    fb.text(q, 0, 0, 1)
    fb.text(t, 18, 0, 1)
    for s, x in mains:
        fb.text(s, x, 0, 1)
    cell = framebuf.FrameBuffer(bytearray(8), 8, 8, framebuf.MONO_VLSB)
    for k in range(8):
        cell.fill(0)
        cell.text(value[k], 0, 0, 1)
        for gy in range(8):
            for gx in range(8):
                if cell.pixel(gx, gy):
                    fb.fill_rect(16 * k - 1 + 2 * gx, 16 + 2 * gy, 2, 2, 1)
        if dots >> k & 1:
            fb.fill_rect(16 * k + 14, 28, 2, 2, 1)
    fb.text(ident, 0, 40, 1)
    fb.text(unit, 128 - 8 * len(unit), 40, 1)
    if extra:
        extra(fb)
    return buf


def picture(buf):
    fb = framebuf.FrameBuffer(buf, 128, 64, framebuf.MONO_VLSB)
    return "\n".join("".join("#" if fb.pixel(x, y) else "." for x in range(128))
                     for y in range(64))


def known_frame():
    f = Frame(8)
    f.value = " 1234567"  # 12345.67: the point after position 5 ('5')
    f.dots = 1 << 5
    f.ident = "1.8.0"
    f.unit = "kWh"
    f.quadrant = 1
    f.tariff = 2
    f.mains = (ON, OFF, OFF)
    return f


def setup(sh1106=False):
    model = Controller(sh1106)
    bus = FakeI2C(model)
    oled = Oled(bus, sh1106=sh1106)
    oled.init()
    return model, bus, oled


class TestOled(unittest.TestCase):
    def assertGlass(self, model, want):
        got = model.glass()
        if got != want:
            self.fail("glass differs\n-- got --\n%s\n-- want --\n%s"
                      % (picture(got), picture(want)))

    def test_init_ssd1306(self):
        model, bus, oled = setup()
        self.assertEqual(oled.width, 8)
        self.assertTrue(model.on)
        self.assertTrue(model.blank_at_on)  # the power-up garbage was never shown
        self.assertEqual(model.reg[0xA8], b"\x3f")  # multiplex 64
        self.assertEqual(model.reg[0xD3], b"\x00")
        self.assertEqual(model.reg["start"], 0)
        self.assertEqual(model.reg[0x8D], b"\x14")  # charge pump on
        self.assertEqual(model.mode, 2)  # page addressing
        self.assertEqual(model.reg[0xDA], b"\x12")  # alternative COM pins (128x64)
        self.assertEqual((model.reg["remap"], model.reg["comscan"]), (1, 8))
        self.assertEqual((model.reg["entire"], model.reg["inverse"]), (0, 0))
        for c in (0x81, 0xD5, 0xD9, 0xDB):
            self.assertIn(c, model.reg)
        log = model.log
        self.assertEqual(log[0], 0xAE)
        self.assertEqual(log[-1], 0xAF)
        self.assertTrue(log.index(0x8D) < log.index(0xAF))
        self.assertEqual(model.overrun, 0)
        oled.off()
        self.assertFalse(model.on)

    def test_init_sh1106(self):
        model, bus, oled = setup(True)  # 0x8D / 0x20 would fail: not SH1106 commands
        self.assertTrue(model.on)
        self.assertTrue(model.blank_at_on)
        self.assertEqual(model.reg[0xAD], b"\x8b")  # DC-DC on
        self.assertEqual(model.reg[0xA8], b"\x3f")
        self.assertEqual(model.reg[0xDA], b"\x12")
        self.assertEqual((model.reg["remap"], model.reg["comscan"]), (1, 8))
        for p in range(8):  # only the glass's columns 2..129 were written
            row = model.ram[p]
            self.assertEqual(bytes(row[:2] + row[130:]), bytes([GARBAGE] * 4))

    def test_known_screen(self):
        for sh1106 in (False, True):
            model, bus, oled = setup(sh1106)
            self.assertTrue(oled.show(known_frame(), 0))
            self.assertGlass(model, expected())
            self.assertEqual(model.overrun, 0)
            # the point: a 2x2 block in the gap after '5' (position 5), not a character
            self.assertEqual([model.pixel(x, 28) for x in range(93, 97)], [0, 1, 1, 0])
            self.assertEqual(model.pixel(94, 27) + model.pixel(94, 30), 0)
            if sh1106:
                self.assertEqual(bytes(model.ram[2][:2]), bytes([GARBAGE] * 2))

    def test_unchanged_sends_nothing(self):
        model, bus, oled = setup()
        f = known_frame()
        oled.show(f, 0)
        bus.writes = []
        self.assertFalse(oled.show(f, 100))
        self.assertFalse(oled.show(known_frame(), 1700))  # an equal new frame
        self.assertEqual(bus.writes, [])

    def test_one_field_one_page(self):
        model, bus, oled = setup()
        f = known_frame()
        oled.show(f, 0)
        bus.writes = []
        f.unit = "kvarh"
        self.assertTrue(oled.show(f, 0))
        self.assertEqual(bus.pages_written(), [5])
        bus.writes = []
        f.tariff = 3
        f.status = MAGNET
        f.breaker = False
        oled.show(f, 0)
        self.assertEqual(bus.pages_written(), [0])
        bus.writes = []
        f.value = "-1234567"  # the minus is font row 3: y = 22..23, page 2 only
        oled.show(f, 0)
        self.assertEqual(bus.pages_written(), [2])
        bus.writes = []
        f.value = "-1234568"
        oled.show(f, 0)
        self.assertEqual(bus.pages_written(), [2, 3])
        bus.writes = []
        f.manual = True
        oled.show(f, 0)
        self.assertEqual(bus.pages_written(), [7])

        def more(fb):
            fb.text("M", 102, 0, 1)
            fb.vline(120, 4, 4, 1)
            fb.vline(127, 4, 4, 1)
            fb.line(120, 4, 126, 0, 1)
            fb.text("MAN", 0, 56, 1)
        self.assertGlass(model, expected(t="T3", value="-1234568", unit="kvarh", extra=more))

    def test_blinking_mains(self):
        model, bus, oled = setup()
        f = known_frame()
        f.mains = (ON, BLINK, ON)
        both = (("L1", 38), ("L2", 56), ("L3", 74))
        oled.show(f, 0)  # first half of the second: lit
        self.assertGlass(model, expected(mains=both))
        bus.writes = []
        self.assertTrue(oled.show(f, 500))
        self.assertEqual(bus.pages_written(), [0])
        self.assertGlass(model, expected(mains=(("L1", 38), ("L3", 74))))
        bus.writes = []
        self.assertFalse(oled.show(f, 999))
        self.assertTrue(oled.show(f, 1000))
        self.assertGlass(model, expected(mains=both))

    def test_seven_segment_letters(self):
        from mpmeter.display import segments

        model, bus, oled = setup()
        chars = "".join(c for c in sorted(segments.FONT) if c != " ")
        for i in range(0, len(chars), 8):
            f = known_frame()
            f.value = (chars[i:i + 8] + " " * 8)[:8]
            f.dots = 0xFF  # a point after every position, the last one too
            oled.show(f, 0)
            self.assertGlass(model, expected(value=f.value, dots=0xFF))

    def test_failed_write_retried(self):
        model, bus, oled = setup()

        class Broken(Exception):
            pass

        good = bus.writeto

        def fail(addr, buf):
            raise Broken()
        bus.writeto = fail
        with self.assertRaises(Broken):
            oled.show(known_frame(), 0)
        bus.writeto = good
        self.assertTrue(oled.show(known_frame(), 0))
        self.assertGlass(model, expected())

    def test_redraw_allocates_nothing(self):
        import micropython

        class Counting:  # the recording bus allocates; this one does not
            def __init__(self):
                self.n = 0

            def writeto(self, addr, buf):
                self.n += 1

        model, bus, oled = setup()
        f = known_frame()
        oled.show(f, 0)
        f.value = "-9876543"
        f.mains = (BLINK, ON, ON)
        oled._i2c = count = Counting()
        micropython.heap_lock()  # Frame.key() in show() makes a tuple: draw and send only
        try:
            oled._draw(f, 500)
            oled._flush()
        finally:
            micropython.heap_unlock()
        self.assertEqual(count.n, 2 * 3)  # pages 0, 2, 3: address and data each
        want = expected(value="-9876543", mains=(("L2", 56), ("L3", 74)))
        self.assertEqual(oled._buf, want)

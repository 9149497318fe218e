"""SSD1306 / SH1106 128x64 OLED renderer over I2C: the meter's glass drawn with framebuf.

Oled(i2c, addr=0x3C, width=128, height=64, sh1106=False)
    i2c       a machine.I2C-like bus with writeto(addr, buf) (made by the board file)
    width     = 8: the value-field characters the meter builds frames with (the pixel
              size is `px_width` x `px_height`; the layout below is drawn for 128x64)
init()        power-up sequence with the display off, GDDRAM cleared, display on
show(frame, now_ms) -> True when it wrote: the frame is drawn into a MONO_VLSB
              framebuf and only the 8-pixel pages whose bytes changed are sent
off()         display off (sleep mode, the RAM kept); init() wakes it (and clears)

Layout (x, y of the top-left corner of the 8x8 font cell; pages are 8 rows each):
    page 0    y=0: quadrant "Q1".."Q4" at x=0, tariff "T1".."T8" at x=18, mains
              "L1" "L2" "L3" at x=38, 56, 74 (BLINK per lcd.lit), status "E" (ERROR)
              at x=94, "M" (MAGNET) at x=102, "D" (DATA_LOST) at x=110, breaker at
              x=120..127: two posts (x=120 and x=127, y=4..7) bridged by a bar at y=4
              when connected, the bar tilted up from (120,4) to (126,0) when
              disconnected, nothing when there is no breaker
    pages 2-3 the value field, y=16..31: position k (0..7, right aligned) is the font
              cell scaled 2x (each lit font pixel a 2x2 block) at x=16k-1, y=16, so its
              glyph (font columns 1..6, rows 0..6) covers x=16k+1..16k+12, y=16..29;
              the point after position k is a 2x2 block at x=16k+14, y=28 in the 4-px
              gap between glyphs (a point takes no character position)
    page 5    y=40: ident at x=0, unit right aligned (x = 128 - 8 * len(unit))
    page 7    y=56: "MAN" at x=0 while the manual list is shown
Every character of display/segments.py is in framebuf's 8x8 font.

Controllers (Solomon SSD1306 rev 1.5 and Sino Wealth SH1106 datasheets): I2C control
byte 0x00 before a command stream, 0x40 before a data stream (Co = 0: the whole
transaction is of that kind). Both are written in page addressing: 0xB0|page, lower
column 0x00|(c & 15), higher column 0x10|(c >> 4), then the page's bytes (the column
pointer advances by one per byte). The SSD1306 has 128 columns of RAM; the SH1106 has
132 and a 128-pixel glass starts at column 2. Power-up (both): display off, clock,
multiplex, display offset, start line, SSD1306 charge pump on (0x8D 0x14) and page
addressing mode (0x20 0x02: another driver may have left it in horizontal mode), SH1106
DC-DC on (0xAD 0x8B, its reset state), segment remap (column 0 at the module's left),
COM scan from COM63 (upright), COM pins, contrast, precharge, VCOMH deselect, RAM
display (0xA4), not inverted (0xA6); the RAM is cleared, then display on.

Buffers: the framebuf (width x height / 8 bytes), an 8x8 scratch glyph, one transfer
buffer per page (0x40 + the page's bytes, kept as the copy of what the controller
holds) and a 4-byte address command, all made in __init__; a redraw allocates nothing
beyond what Frame.key() and framebuf text() need. A frame equal to the last one shown
(and no BLINK indicator changing phase) is not even drawn.
"""

from micropython import const

from .lcd import BLINK, DATA_LOST, ERROR, MAGNET, blink_on, lit

CELLS = const(8)  # value-field positions on the glass
_PITCH = const(16)  # px per value position (6 font columns at 2x + the point gap)
_VALUE_Y = const(16)  # a page boundary: the 2x glyphs are written as whole bytes
_POINT_DX = const(15)  # point x from the position's cell x (16k - 1)
_POINT_DY = const(12)
_IDENT_Y = const(40)
_MAN_Y = const(56)
_BREAKER_X = const(120)

_Q = ("", "Q1", "Q2", "Q3", "Q4")
_T = ("", "T1", "T2", "T3", "T4", "T5", "T6", "T7", "T8")
_L = ("L1", "L2", "L3")
_L_X = (38, 56, 74)
_STATUS = ((ERROR, "E", 94), (MAGNET, "M", 102), (DATA_LOST, "D", 110))

_CMD = const(0x00)  # control byte: Co = 0, D/C# = 0: commands follow
_DATA = const(0x40)  # control byte: Co = 0, D/C# = 1: data follow
_DISPLAY_OFF = const(0xAE)
_DISPLAY_ON = const(0xAF)
_PAGE = const(0xB0)


def _doubling():
    """Nibble n -> the byte with each bit of n doubled (bit i -> bits 2i, 2i+1)."""
    t = bytearray(16)
    for n in range(16):
        v = 0
        for i in range(4):
            if n >> i & 1:
                v |= 3 << (2 * i)
        t[n] = v
    return bytes(t)


_DBL = _doubling()


class Oled:
    def __init__(self, i2c, addr=0x3C, width=128, height=64, sh1106=False):
        try:
            import framebuf
        except ImportError:
            raise ImportError("oled: needs MicroPython's framebuf module (CPython has none)")
        self._i2c = i2c
        self._addr = addr
        self.sh1106 = sh1106
        self.width = CELLS
        self.px_width = width
        self.px_height = height
        self.pages = height // 8
        self._col0 = ((132 if sh1106 else 128) - width) // 2  # glass column 0 in RAM
        self._buf = bytearray(width * self.pages)
        self._fb = framebuf.FrameBuffer(self._buf, width, height, framebuf.MONO_VLSB)
        self._glyph = bytearray(8)
        self._gfb = framebuf.FrameBuffer(self._glyph, 8, 8, framebuf.MONO_VLSB)
        self._tx = []
        self._txv = []
        self._fbv = []
        mv = memoryview(self._buf)
        for p in range(self.pages):
            t = bytearray(width + 1)
            t[0] = _DATA
            self._tx.append(t)
            self._txv.append(memoryview(t)[1:])
            self._fbv.append(mv[p * width:(p + 1) * width])
        self._addr_cmd = bytearray((_CMD, _PAGE, self._col0 & 15, 0x10 | self._col0 >> 4))
        self._valid = 0  # bit p: the controller's page p holds _tx[p] (written, no error)
        self._key = None  # Frame.key() of the picture shown
        self._phase = False

    def _commands(self, seq):
        self._i2c.writeto(self._addr, bytes([_CMD]) + bytes(seq))

    def init(self):
        h = self.px_height
        if self.sh1106:
            seq = (_DISPLAY_OFF, 0xD5, 0x50,  # clock: divide 1, oscillator +0 % (reset)
                   0xA8, h - 1, 0xD3, 0x00, 0x40,  # multiplex, offset 0, start line 0
                   0xAD, 0x8B)  # DC-DC on (reset state)
        else:
            seq = (_DISPLAY_OFF, 0xD5, 0x80,  # clock: divide 1, frequency 8 (reset)
                   0xA8, h - 1, 0xD3, 0x00, 0x40,
                   0x8D, 0x14,  # charge pump on (with display on)
                   0x20, 0x02)  # page addressing mode
        seq += (0xA1,  # segment remap: column 0 at the module's left
                0xC8,  # COM scan from COM[N-1] to COM0: the module upright
                0xDA, 0x02 if self.px_width > 2 * h else 0x12,  # COM pins: alternative
                0x81, 0x7F,  # contrast (reset value)
                0xD9, 0x22 if self.sh1106 else 0xF1,  # precharge/discharge periods
                0xDB, 0x35 if self.sh1106 else 0x30,  # VCOMH deselect level
                0xA4, 0xA6)  # display follows RAM, not inverted
        self._commands(seq)
        self._fb.fill(0)  # the power-up RAM content is never shown
        self._valid = 0
        self._key = None
        self._flush()
        self._commands((_DISPLAY_ON,))

    def off(self):
        self._commands((_DISPLAY_OFF,))

    def show(self, frame, now_ms):
        key = frame.key()
        phase = blink_on(now_ms) if BLINK in frame.mains else False
        if key == self._key and phase == self._phase:
            return False
        self._key = None  # set again only when every page was written
        self._draw(frame, now_ms)
        wrote = self._flush()
        self._key = key
        self._phase = phase
        return wrote

    # -- drawing -----------------------------------------------------------------------
    def _draw(self, frame, now_ms):
        fb = self._fb
        fb.fill(0)
        fb.text(_Q[frame.quadrant], 0, 0, 1)
        fb.text(_T[frame.tariff], 18, 0, 1)
        mains = frame.mains
        for i in range(len(mains)):
            if lit(mains[i], now_ms):
                fb.text(_L[i], _L_X[i], 0, 1)
        for bit, letter, x in _STATUS:
            if frame.status & bit:
                fb.text(letter, x, 0, 1)
        if frame.breaker is not None:
            fb.vline(_BREAKER_X, 4, 4, 1)
            fb.vline(_BREAKER_X + 7, 4, 4, 1)
            if frame.breaker:
                fb.hline(_BREAKER_X, 4, 8, 1)
            else:
                fb.line(_BREAKER_X, 4, _BREAKER_X + 6, 0, 1)
        self._value(frame.value, frame.dots)
        fb.text(frame.ident, 0, _IDENT_Y, 1)
        fb.text(frame.unit, self.px_width - 8 * len(frame.unit), _IDENT_Y, 1)
        if frame.manual:
            fb.text("MAN", 0, _MAN_Y, 1)

    def _value(self, value, dots):
        """The value field at 2x: each glyph column byte b (bit r = font row r) becomes
        two pixel columns; in each, the byte of the upper page holds font rows 0..3
        doubled, the byte of the lower page rows 4..7 doubled."""
        buf = self._buf
        w = self.px_width
        top = (_VALUE_Y >> 3) * w
        bottom = top + w
        g = self._glyph
        gfb = self._gfb
        first = CELLS - len(value)  # a narrower frame stays right aligned
        for k in range(len(value)):
            x0 = (first + k) * _PITCH - 1
            ch = value[k]
            if ch != " ":
                gfb.fill(0)
                gfb.text(ch, 0, 0, 1)
                for c in range(8):
                    b = g[c]
                    if b:
                        up = _DBL[b & 15]
                        dn = _DBL[b >> 4]
                        x = x0 + 2 * c
                        if 0 <= x < w:
                            buf[top + x] |= up
                            buf[bottom + x] |= dn
                        x += 1
                        if 0 <= x < w:
                            buf[top + x] |= up
                            buf[bottom + x] |= dn
            if dots >> k & 1:
                self._fb.fill_rect(x0 + _POINT_DX, _VALUE_Y + _POINT_DY, 2, 2, 1)

    def _flush(self):
        """Send the pages that differ from what the controller holds; True if any."""
        i2c = self._i2c
        addr = self._addr
        cmd = self._addr_cmd
        wrote = False
        for p in range(self.pages):
            if self._valid >> p & 1 and self._fbv[p] == self._txv[p]:
                continue
            self._valid &= ~(1 << p)
            self._txv[p][:] = self._fbv[p]
            cmd[1] = _PAGE | p
            i2c.writeto(addr, cmd)
            i2c.writeto(addr, self._tx[p])
            self._valid |= 1 << p
            wrote = True
        return wrote

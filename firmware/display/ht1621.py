"""HT1621 segment-LCD controller driver (Holtek, 32x4-bit display RAM, 3-wire write-only).

HT1621(cs, wr, data, glass)
    cs, wr, data  output pins with .value(x) (machine.Pin, made by the board file)
    glass         the segment map module of the glass on the chip (e.g.
                  display/glass_pdc6x1.py): WIDTH and paint(frame, ram, now_ms)
    width         = glass.WIDTH: the meter builds frames of this width
init()            SYS EN, RC 256K, BIAS 1/3 4 commons, WDT DIS, RAM cleared, LCD ON
show(frame, now_ms) -> True when it wrote the chip: the glass paints the 32-nibble RAM
                  image and the whole RAM goes out in one successive-address write, only
                  when the image differs from the last one written
clear()           all 32 nibbles zero (every segment off)
off()             LCD OFF, SYS DIS (the chip keeps its RAM; init() turns it on again)

Protocol (Holtek HT1621 datasheet, "Command format" and timing diagrams): CS low starts
a frame and CS high ends it; each bit is put on DATA while WR is low and the chip
latches it on the WR rising edge. ID 100 = command mode: 9 bits per command, C8..C1 the
command code (sent MSB first) and C0 don't care; successive commands in one frame omit
the ID. ID 101 = write mode: address A5..A0 (MSB first), then 4-bit nibbles D0 D1 D2 D3
(D0 first) for successive addresses. Here a RAM nibble is an int with bit k = Dk (Dk
drives COMk). Command codes checked against the datasheet's command summary:
SYS DIS 0000-0000-X, SYS EN 0000-0001-X, LCD OFF 0000-0010-X, LCD ON 0000-0011-X,
WDT DIS 0000-0101-X, RC 256K 0001-10XX-X, BIAS 1/3 0010-abX1-X with ab=10: 4 commons.

Bit-banged from the main loop (never in an interrupt): a whole-RAM write is 137 WR
clocks. The WR low time is one DATA .value() call, the WR high time the loop overhead;
the chip needs 3.34 us each at VDD 3 V (1.67 us at 5 V), more than the RP2040 at
125 MHz is expected to take per MicroPython pin call: not measured on a board yet;
if a glass shows garbage, that timing is the first suspect. No allocation per bit.
"""

from micropython import const

_SYS_DIS = const(0x00)
_SYS_EN = const(0x01)
_LCD_OFF = const(0x02)
_LCD_ON = const(0x03)
_WDT_DIS = const(0x05)
_RC_256K = const(0x18)
_BIAS_13_4COM = const(0x29)  # 0010-10X1: 1/3 bias, 4 commons

_ID_COMMAND = const(0b100)
_ID_WRITE = const(0b101)
RAM_NIBBLES = const(32)


class HT1621:
    def __init__(self, cs, wr, data, glass):
        self._cs = cs.value  # bound once: no method object per call
        self._wr = wr.value
        self._data = data.value
        self._glass = glass
        self.width = glass.WIDTH
        self._ram = bytearray(RAM_NIBBLES)  # painted here
        self._shown = bytearray(RAM_NIBBLES)  # what the chip holds
        self._valid = False  # _shown is known to match the chip (after clear/init)
        self._wr(1)
        self._cs(1)

    def _bits(self, value, n):
        """Clock out the n low bits of value, most significant first (CS already low)."""
        wr = self._wr
        data = self._data
        m = 1 << (n - 1)
        while m:
            wr(0)
            data(1 if value & m else 0)
            wr(1)
            m >>= 1

    def _commands(self, *codes):
        cs = self._cs
        cs(0)
        self._bits(_ID_COMMAND, 3)
        for c in codes:
            self._bits(c << 1, 9)  # C8..C1 then C0 (don't care) = 0
        cs(1)

    def _write(self, ram):
        """The whole RAM in one frame: address 0, then 32 nibbles D0..D3."""
        cs = self._cs
        wr = self._wr
        data = self._data
        cs(0)
        self._bits(_ID_WRITE << 6, 9)  # ID 101, A5..A0 = 0
        for nib in ram:
            wr(0)
            data(nib & 1)
            wr(1)
            wr(0)
            data(nib >> 1 & 1)
            wr(1)
            wr(0)
            data(nib >> 2 & 1)
            wr(1)
            wr(0)
            data(nib >> 3 & 1)
            wr(1)
        cs(1)

    def init(self):
        self._commands(_SYS_EN, _RC_256K, _BIAS_13_4COM, _WDT_DIS)
        self.clear()  # before LCD ON: the power-on RAM content is never shown
        self._commands(_LCD_ON)

    def clear(self):
        shown = self._shown
        for i in range(RAM_NIBBLES):
            shown[i] = 0
        self._write(shown)
        self._valid = True

    def show(self, frame, now_ms):
        ram = self._ram
        self._glass.paint(frame, ram, now_ms)
        if self._valid and ram == self._shown:
            return False
        self._write(ram)
        self._ram, self._shown = self._shown, ram
        self._valid = True
        return True

    def off(self):
        self._commands(_LCD_OFF, _SYS_DIS)

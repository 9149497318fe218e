"""Model of the Holtek HT1621 LCD controller's serial interface, driven by pin writes (tests).

Decodes what a driver clocks out, by the datasheet and not by the driver's code:
    chip = HT1621Model(); HT1621(chip.cs, chip.wr, chip.data, glass)
A frame is CS low .. CS high; a bit is the DATA level at a WR rising edge while CS is
low. ID 100: commands of 9 bits (C8..C1 the code, C0 don't care), any number per frame.
ID 101: address A5..A0 (MSB first), then nibbles D0 D1 D2 D3 (D0 first) to successive
addresses (wrapping 31 -> 0). ram[a] holds the nibble of address a as an int with bit
k = Dk (COMk). ID 110 (READ) cannot be used without an RD line and is an error here.
Protocol errors are appended to `errors` (text), never raised: a WR rising edge with CS
high, a frame ending mid-ID, mid-command, mid-address or mid-nibble, an unknown ID or
command, a 4-commons-invalid BIAS code (ab = 11).
Power-on state as the datasheet's "Def." column: SYS DIS, LCD OFF, RC 256K; the RAM
is unknown at power-on, modelled as 0xF in every nibble (so a driver must clear it).

decode_pdc6x1(ram) reads the PDC-6X1 module's glass from RAM with a table written here
from the module's public description (independent of firmware/display/glass_pdc6x1.py):
-> (text, bars), text the 6 digits with their points (blanks kept), e.g. " 12.345",
bars (bar1, bar2, bar3) as booleans; a segment pattern outside the font reads as "?".
"""

RAM_NIBBLES = 32

# command codes (C8..C1) with their datasheet names
_NAMES = {0x00: "SYS DIS", 0x01: "SYS EN", 0x02: "LCD OFF", 0x03: "LCD ON",
          0x04: "TIMER DIS", 0x05: "WDT DIS", 0x06: "TIMER EN", 0x07: "WDT EN",
          0x08: "TONE OFF", 0x09: "TONE ON", 0xE0: "TEST", 0xE3: "NORMAL"}


def command_name(c):
    """The datasheet name of command code c (8 bits C8..C1), or None if unknown."""
    if c in _NAMES:
        return _NAMES[c]
    hi = c >> 4
    if hi == 0:
        if c & 0x0C == 0x0C:
            return "CLR WDT" if c & 0x0E == 0x0E else "CLR TIMER"
        return None
    if hi == 1:
        return {1: "XTAL 32K", 2: "RC 256K", 3: "EXT 256K"}.get((c >> 2) & 3)
    if hi == 2:
        ab = (c >> 2) & 3
        if ab == 3:
            return None
        return "BIAS 1/%d %d COM" % (3 if c & 1 else 2, ab + 2)
    if c >> 5 == 2:
        return "TONE 4K"
    if c >> 5 == 3:
        return "TONE 2K"
    if c >> 5 == 4:
        return "IRQ EN" if c & 0x08 else "IRQ DIS"
    if c >> 5 == 5:
        return "F%d" % (1 << (c & 7))
    return None


class _Pin:
    def __init__(self, chip, name):
        self._chip = chip
        self._name = name

    def value(self, x=None):
        if x is None:
            return getattr(self._chip, "_" + self._name)
        self._chip._set(self._name, 1 if x else 0)


class HT1621Model:
    def __init__(self):
        self.cs = _Pin(self, "cs")
        self.wr = _Pin(self, "wr")
        self.data = _Pin(self, "data")
        self._cs = 1  # the chip's inputs have pull-ups
        self._wr = 1
        self._data = 1
        self.ram = bytearray(b"\x0f" * RAM_NIBBLES)
        self.errors = []
        self.commands = []  # names of the commands executed, in order
        self.system = False  # SYS EN / SYS DIS
        self.lcd_on = False
        self.clock = "RC 256K"
        self.bias = None  # 2 (1/2) or 3 (1/3), None until a BIAS command
        self.commons = None
        self.frames = 0  # CS low .. CS high frames that clocked at least one bit
        self.write_frames = 0
        self.bits = 0  # WR rising edges with CS low, in all
        self._framebits = 0
        self._reset()

    def _reset(self):
        self._state = "id"
        self._acc = 0
        self._n = 0
        self._addr = 0

    def _set(self, name, level):
        old = getattr(self, "_" + name)
        setattr(self, "_" + name, level)
        if name == "cs":
            if old == 1 and level == 0:
                self._reset()
                self._framebits = 0
            elif old == 0 and level == 1:
                self._end()
        elif name == "wr" and old == 0 and level == 1:
            if self._cs:
                self.errors.append("WR rising edge with CS high")
            else:
                self._bit(self._data)

    def _end(self):
        if self._framebits:
            self.frames += 1
        st = self._state
        if st == "id" and self._n:
            self.errors.append("frame ended inside the mode ID (%d bits)" % self._n)
        elif st == "command" and self._n:
            self.errors.append("frame ended mid-command (%d of 9 bits)" % self._n)
        elif st == "address":
            self.errors.append("frame ended mid-address (%d of 6 bits)" % self._n)
        elif st == "data" and self._n:
            self.errors.append("frame ended mid-nibble (%d of 4 bits)" % self._n)
        self._reset()

    def _bit(self, b):
        self.bits += 1
        self._framebits += 1
        st = self._state
        if st == "id":
            self._acc = self._acc << 1 | b
            self._n += 1
            if self._n == 3:
                mode = self._acc
                self._acc = self._n = 0
                if mode == 0b100:
                    self._state = "command"
                elif mode == 0b101:
                    self._state = "address"
                    self.write_frames += 1
                elif mode == 0b110:
                    self.errors.append("READ mode (ID 110): no RD line")
                    self._state = "ignore"
                else:
                    self.errors.append("unknown mode ID %d%d%d"
                                       % (mode >> 2, mode >> 1 & 1, mode & 1))
                    self._state = "ignore"
        elif st == "command":
            self._acc = self._acc << 1 | b
            self._n += 1
            if self._n == 9:
                self._command(self._acc >> 1)
                self._acc = self._n = 0
        elif st == "address":
            self._acc = self._acc << 1 | b
            self._n += 1
            if self._n == 6:
                self._addr = self._acc
                self._state = "data"
                self._acc = self._n = 0
        elif st == "data":
            self._acc |= b << self._n  # D0 first
            self._n += 1
            if self._n == 4:
                self.ram[self._addr] = self._acc
                self._addr = (self._addr + 1) % RAM_NIBBLES
                self._acc = self._n = 0

    def _command(self, c):
        name = command_name(c)
        if name is None:
            self.errors.append("unknown command 0x%02x" % c)
            return
        self.commands.append(name)
        if c == 0x00:
            self.system = False
            self.lcd_on = False  # SYS DIS turns off the oscillator and the bias generator
        elif c == 0x01:
            self.system = True
        elif c == 0x02:
            self.lcd_on = False
        elif c == 0x03:
            self.lcd_on = True
        elif c >> 4 == 1:
            self.clock = name
        elif c >> 4 == 2:
            self.bias = 3 if c & 1 else 2
            self.commons = ((c >> 2) & 3) + 2

    def visible(self):
        """The glass shows the RAM: oscillator on, bias generator on, 1/3 bias, 4 commons
        (the PDC-6X1 glass is a 1/3-bias, 4-common panel)."""
        return self.system and self.lcd_on and self.bias == 3 and self.commons == 4


# The PDC-6X1 module, from its public description: digit i (0 leftmost) is the byte
# at RAM 10-2i (bits 7..4 = D0..D3) and 11-2i (bits 3..0 = D0..D3); segment bits below;
# bit 0x80: digits 3..5 the point before the digit, digits 2, 1, 0 battery bars 1, 2, 3.
_SEG = {"a": 0x10, "b": 0x20, "c": 0x40, "d": 0x08, "e": 0x04, "f": 0x01, "g": 0x02}
_FONT = {" ": "", "0": "abcdef", "1": "bc", "2": "abdeg", "3": "abcdg", "4": "bcfg",
         "5": "acdfg", "6": "acdefg", "7": "abc", "8": "abcdefg", "9": "abcdfg",
         "-": "g", "_": "d", "A": "abcefg", "b": "cdefg", "C": "adef", "c": "deg",
         "d": "bcdeg", "E": "adefg", "F": "aefg", "H": "bcefg", "h": "cefg", "L": "def",
         "n": "ceg", "o": "cdeg", "P": "abefg", "r": "eg", "t": "defg", "U": "bcdef",
         "u": "cde", "y": "bcdfg"}
_READ = {}
for _ch, _segs in _FONT.items():
    _v = 0
    for _s in _segs:
        _v |= _SEG[_s]
    _READ[_v] = _ch


def _rev4(n):
    """Nibble with bit k = Dk -> the byte bits as sent MSB first (D0 is the high bit)."""
    return (n & 1) << 3 | (n & 2) << 1 | (n & 4) >> 1 | (n & 8) >> 3


def pdc6x1_bytes(ram):
    """The six digit bytes of the module (index 0 = leftmost digit)."""
    return [_rev4(ram[10 - 2 * i]) << 4 | _rev4(ram[11 - 2 * i]) for i in range(6)]


def decode_pdc6x1(ram):
    byts = pdc6x1_bytes(ram)
    text = ""
    for i in range(6):
        if i >= 3 and byts[i] & 0x80:
            text += "."
        text += _READ.get(byts[i] & 0x7F, "?")
    bars = (bool(byts[2] & 0x80), bool(byts[1] & 0x80), bool(byts[0] & 0x80))
    return text, bars


def frame(value="      ", dots=0, ident="", mains=(0,), since=0):
    """A 6-wide LCD frame for the PDC-6X1 tests (firmware/display/lcd.py Frame)."""
    from mpmeter.display.lcd import Frame

    f = Frame(width=6)
    f.value = value
    f.dots = dots
    f.ident = ident
    f.mains = mains
    f.since = since
    return f

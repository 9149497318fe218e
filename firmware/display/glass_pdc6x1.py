"""Segment map of the PDC-6X1 glass: the 2.4-inch 6-digit 7-segment HT1621 LCD module.

The ubiquitous module sold as "6-digit 7-segment LCD module HT1621" (blue backlight,
battery icon with three bars), driven by display/ht1621.py. The map is the one the
public Arduino libraries for the module use (e.g. valerionew/ht1621-7-seg): digit i
(0 = leftmost) lives in RAM addresses 10-2i and 11-2i as one byte whose bit 7 is D0
of address 10-2i (bits 7..4 -> D0..D3 there, bits 3..0 -> D0..D3 of 11-2i); byte bits
a 0x10, b 0x20, c 0x40, d 0x08, e 0x04, f 0x01, g 0x02, and 0x80: for digits 3, 4, 5
the decimal point left of the digit (= after digit 2, 3, 4), for digits 0, 1, 2 a bar
of the battery icon. Addresses 12..31 drive nothing.

Battery bars, numbered as the libraries' battery level lights them (level 1 lights
bar 1 only, level 3 all): bar 1 = bit 0x80 of digit 2, bar 2 = digit 1, bar 3 =
digit 0. Whether the battery outline is a separate segment the libraries do not say
(none is addressed).

What the glass shows of a Frame (display/lcd.py):
    value    the meter builds frames of WIDTH = 6 for this glass (ht1621.HT1621.width);
             points only after positions 2, 3 and 4: a frame of another width, or a
             point elsewhere, raises ValueError (never drawn in a wrong place)
    ident    there is no identification field: the OBIS id (split_dots, right
             aligned) is shown in the value digits for the first ID_MS after
             frame.since, then the value; id points the glass has no segment for are
             dropped ("1.8.0*01" shows as "180-01"); an id of more than 6 positions
             raises ValueError
    mains    L1, L2, L3 on battery bars 1, 2, 3 (lcd.lit: BLINK lit in the first half
             of every second); a single-phase frame uses bar 1
Not shown, the glass has no segment for them: unit, quadrant, tariff, the status bits
(ERROR, MAGNET, DATA_LOST), breaker, manual. A character outside the font raises
ValueError (segments.bits).
"""

from . import lcd, segments
from .lists import diff

WIDTH = 6
ID_MS = 2000

# (address, k): bit k = Dk of that RAM address (the nibble's bit k)
#       a        b        c        d        e        f        g
DIGITS = (
    ((10, 3), (10, 2), (10, 1), (11, 0), (11, 1), (11, 3), (11, 2)),  # digit 0 (leftmost)
    ((8, 3), (8, 2), (8, 1), (9, 0), (9, 1), (9, 3), (9, 2)),  # digit 1
    ((6, 3), (6, 2), (6, 1), (7, 0), (7, 1), (7, 3), (7, 2)),  # digit 2
    ((4, 3), (4, 2), (4, 1), (5, 0), (5, 1), (5, 3), (5, 2)),  # digit 3
    ((2, 3), (2, 2), (2, 1), (3, 0), (3, 1), (3, 3), (3, 2)),  # digit 4
    ((0, 3), (0, 2), (0, 1), (1, 0), (1, 1), (1, 3), (1, 2)),  # digit 5 (rightmost)
)
# the point after position k (None: the glass has none there)
POINTS = (None, None, (4, 0), (2, 0), (0, 0), None)
POINT_MASK = 0b011100  # bit k set: a point after position k exists
BARS = ((6, 0), (8, 0), (10, 0))  # battery bars 1, 2, 3: mains L1, L2, L3

def paint(frame, ram, now_ms):
    """Overwrite the RAM image `ram` (32 nibbles, bit k = Dk) with the frame's picture."""
    for i in range(len(ram)):
        ram[i] = 0
    if frame.ident and diff(now_ms, frame.since) < ID_MS:
        text, dots = segments.split_dots(frame.ident)
        pad = WIDTH - len(text)
        if pad < 0:
            raise ValueError("glass_pdc6x1: id %r is longer than %d positions"
                             % (frame.ident, WIDTH))
        text = " " * pad + text
        dots = (dots << pad) & POINT_MASK
    else:
        if frame.width != WIDTH:
            raise ValueError("glass_pdc6x1: frame width %d, the glass has %d"
                             % (frame.width, WIDTH))
        text = frame.value
        dots = frame.dots
        if dots & ~POINT_MASK:
            raise ValueError("glass_pdc6x1: points 0x%x: the glass has points only after "
                             "positions 2, 3, 4" % dots)
    for k in range(WIDTH):
        s = segments.bits(text[k])
        seg = DIGITS[k]
        j = 0
        while s:
            if s & 1:
                a, b = seg[j]
                ram[a] |= 1 << b
            s >>= 1
            j += 1
        if dots >> k & 1:
            a, b = POINTS[k]
            ram[a] |= 1 << b
    mains = frame.mains
    for n in range(min(len(mains), 3)):
        if lcd.lit(mains[n], now_ms):
            a, b = BARS[n]
            ram[a] |= 1 << b

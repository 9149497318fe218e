"""Seven-segment font: the segments lit for each character the value and id fields show.

Bits: a=1 (top), b=2 (upper right), c=4 (lower right), d=8 (bottom), e=16 (lower left),
f=32 (upper left), g=64 (middle). The decimal point is not part of a character (each
field position has its own point; see display/lcd.py Frame.dots).
"""

A = 1
B = 2
C = 4
D = 8
E = 16
F = 32
G = 64

FONT = {
    " ": 0,
    "0": A | B | C | D | E | F,
    "1": B | C,
    "2": A | B | D | E | G,
    "3": A | B | C | D | G,
    "4": B | C | F | G,
    "5": A | C | D | F | G,
    "6": A | C | D | E | F | G,
    "7": A | B | C,
    "8": A | B | C | D | E | F | G,
    "9": A | B | C | D | F | G,
    "-": G,
    "_": D,
    "A": A | B | C | E | F | G,
    "b": C | D | E | F | G,
    "C": A | D | E | F,
    "c": D | E | G,
    "d": B | C | D | E | G,
    "E": A | D | E | F | G,
    "F": A | E | F | G,
    "H": B | C | E | F | G,
    "h": C | E | F | G,
    "L": D | E | F,
    "n": C | E | G,
    "O": A | B | C | D | E | F,
    "o": C | D | E | G,
    "P": A | B | E | F | G,
    "r": E | G,
    "t": D | E | F | G,
    "U": B | C | D | E | F,
    "u": C | D | E,
    "y": B | C | D | F | G,
}


def bits(ch):
    """The segments of one character; a character the glass cannot show is an error."""
    try:
        return FONT[ch]
    except KeyError:
        raise ValueError("segments: no seven-segment form for %r" % (ch,))


def split_dots(text):
    """'1.8.0*01' -> ('180-01', dots): each '.' becomes the point after the character
    before it (bit k of dots: point after position k); '*' (historical) shows as '-'."""
    out = ""
    dots = 0
    for ch in text:
        if ch == ".":
            if out:
                dots |= 1 << (len(out) - 1)
            continue
        out += "-" if ch == "*" else ch
    return out, dots

"""The value-field rule: how a number is put into a field of N seven-segment digits.

number(value, scale, decimals, width, wrap, pad) -> (text, dots)
    value     int, the quantity in units of 10**scale of its display unit
              (e.g. mWh with scale -6 for kWh)
    decimals  digits after the point wanted
    width     character positions of the field (8 on a meter's glass)
    wrap      a cumulative register (energy, hours, counters): it rolls over like a
              register of `pad` digits: the leading digits are dropped (value modulo
              10**digits), and it is zero-padded to `pad` digits, as a meter shows it
    pad       register digits (the A code: 6.1 -> 7); 0 for a plain number
Every number is truncated toward zero (a register never shows energy not yet
counted). A plain number that does not fit first loses decimals; if its integer part
still does not fit it is shown as OVERFLOW ("-OFL-"), never as a wrong number.
A negative number takes one position for its sign; "-0" is shown as "0".
"""

OVERFLOW = "-OFL-"


def scaled(value, shift):
    """value * 10**shift, truncated toward zero (exact, integers only)."""
    if shift >= 0:
        return value * 10 ** shift
    d = 10 ** -shift
    return value // d if value >= 0 else -((-value) // d)


def number(value, scale, decimals, width=8, wrap=False, pad=0):
    n = scaled(value, scale + decimals)
    neg = n < 0
    a = -n if neg else n
    if wrap:
        digits = min(pad, width) if pad else width
        if neg:
            digits = min(digits, width - 1)
        if decimals >= digits:
            decimals = digits - 1
            a = scaled(value if not neg else -value, scale + decimals)
        a %= 10 ** digits
        s = str(a)
        s = "0" * (digits - len(s)) + s
    else:
        s = str(a)
        while len(s) + (1 if neg else 0) > width and decimals > 0:
            a //= 10
            decimals -= 1
            s = str(a)
        if len(s) + (1 if neg else 0) > width:
            return _right(OVERFLOW, width), 0
        if len(s) <= decimals:
            s = "0" * (decimals + 1 - len(s)) + s
    if neg and a:
        s = "-" + s
    text = _right(s, width)
    dots = 1 << (width - decimals - 1) if decimals > 0 else 0
    return text, dots


def _right(s, width):
    s = s[-width:]
    return " " * (width - len(s)) + s


def two(n):
    return ("0" + str(n))[-2:]


def date(y, m, d, width=8):
    """YY-MM-DD in the value field."""
    return _right("%s-%s-%s" % (two(y % 100), two(m), two(d)), width), 0


def clock(hh, mm, ss, width=8):
    """hh-mm-ss in the value field (the glass has no colons; the unit says hh:mm:ss)."""
    return _right("%s-%s-%s" % (two(hh), two(mm), two(ss)), width), 0


def plain(value, scale, decimals, width=16, wrap=False, pad=0):
    """The number as text with its point ('00012345.6'), by the same rule (readout)."""
    text, dots = number(value, scale, decimals, width, wrap, pad)
    out = ""
    for k in range(width):
        out += text[k]
        if dots >> k & 1:
            out += "."
    return out.strip()

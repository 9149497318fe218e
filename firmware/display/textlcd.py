"""Text renderer of the LCD: the glass drawn in ASCII (three-row seven-segment digits).

TextLcd is an LCD driver like the others (width, show(frame, now_ms)): it keeps the
picture as lines of plain ASCII, so it works over a pipe, a serial REPL or a log; the
simulator's terminal draws them (redrawn in place with ANSI, or as plain lines).

    +--------------------------------------------------+
    | Q1  T2   L1 L2 L3              ERR MAG DATA  MAN  |
    |      _   _       _   _   _   _                   |
    |  |   _|  _| |_| |_  |_    | |_|                   |
    |  |  |_   _|   |  _| |_|.  | |_|   kWh             |
    |  1.8.0                                  [BRK on]  |
    +--------------------------------------------------+
Blinking indicators are drawn per lcd.lit(state, now_ms).
"""

from .lcd import DATA_LOST, ERROR, MAGNET, blink_on, lit
from .segments import A, B, C, D, E, F, G, bits

INNER = 50


def digit_rows(ch, dot):
    """The three text rows (4 columns each: 3 for the digit, 1 for its point)."""
    s = bits(ch)
    r0 = " " + ("_" if s & A else " ") + "  "
    r1 = ("|" if s & F else " ") + ("_" if s & G else " ") + ("|" if s & B else " ") + " "
    r2 = (("|" if s & E else " ") + ("_" if s & D else " ") + ("|" if s & C else " ")
          + ("." if dot else " "))
    return r0, r1, r2


def _pad(s, n):
    return (s + " " * n)[:n]


def render(frame, now_ms):
    """The picture of `frame` as a list of equal-length ASCII lines."""
    f = frame
    top = "Q%d" % f.quadrant if f.quadrant else "  "
    top += "  " + ("T%d" % f.tariff if f.tariff else "  ") + "  "
    for k in range(len(f.mains)):
        top += " " + ("L%d" % (k + 1) if lit(f.mains[k], now_ms) else "  ")
    flags = ""
    if f.status & ERROR:
        flags += " ERR"
    if f.status & MAGNET:
        flags += " MAG"
    if f.status & DATA_LOST:
        flags += " DATA"
    if f.manual:
        flags += "  MAN"
    top = _pad(top, INNER - 2 - len(flags)) + flags
    r = ["", "", ""]
    for k in range(f.width):
        rows = digit_rows(f.value[k], f.dots >> k & 1)
        for j in range(3):
            r[j] += rows[j]
    r[2] += "  " + f.unit
    bottom = _pad(f.ident, 24)
    if f.breaker is not None:
        bottom += "[BRK %s]" % ("on" if f.breaker else "off")
    edge = "+" + "-" * INNER + "+"
    out = [edge]
    for ln in (top, r[0], r[1], r[2], bottom):
        out.append("| " + _pad(ln, INNER - 2) + " |")
    out.append(edge)
    return out


class TextLcd:
    """The text 'glass': show() keeps the frame; `lines` draws it when someone looks (the
    simulator's terminal, a few times a second of real time), so a fast simulation does
    not pay for pictures nobody sees."""

    def __init__(self, width=8):
        self.width = width
        self._frame = None
        self._now = 0
        self._key = None

    def show(self, frame, now_ms):
        key = (frame.key(), blink_on(now_ms))
        self._frame = frame
        self._now = now_ms
        if key == self._key:
            return False
        self._key = key
        return True

    @property
    def lines(self):
        return [] if self._frame is None else render(self._frame, self._now)

"""The LCD model: one picture of the meter's glass (Frame), the same for every renderer.

Fields and indicators, as the Kamstrup 162/351B datasheets lay out the glass:
    value     `width` characters of the value field (right aligned, seven-segment
              characters of display/segments.py); `dots` bit k: the point after
              character k (k = 0 leftmost)
    ident     the identification field: the OBIS code of the value, e.g. "1.8.0",
              "1.8.0*01" (historical value of the last billing stop); at most 7
              character positions, points riding on the character before them
    unit      "kWh" "kvarh" "MWh" "Mvarh" "kW" "kvar" "MW" "Mvar" "V" "A" "Hz" "h"
              "m3" "L" "" and the date/time forms "YY-MM-DD" and "hh:mm:ss"
    quadrant  1..4: the quadrant of the total load now (0: no load)
    tariff    1..8: the active tariff (0: indicator off: the meter has no tariffs)
    mains     one state per phase L1..L3 (1 for the 162): OFF, ON (voltage above its
              limit) or BLINK (voltage present and current below its limit)
    status    bits: ERROR (critical internal error), MAGNET (magnetic influence),
              DATA_LOST (the store found corrupt or unusable data)
    breaker   None: no breaker (351B, 162 without); True connected; False disconnected
    manual    True while the manual list is shown (the button was pressed)
    since     ticks_ms when this entry came on the glass (a narrow glass that must show
              the id and the value one after the other times the two from it)
Renderers draw a Frame; they never read the meter. BLINK is drawn lit in the first
half of every second (blink_on).
"""

OFF = 0
ON = 1
BLINK = 2

ERROR = 1
MAGNET = 2
DATA_LOST = 4

ID_POSITIONS = 7
BLINK_MS = 500


class Frame:
    def __init__(self, width=8):
        self.width = width
        self.value = " " * width
        self.dots = 0
        self.ident = ""
        self.unit = ""
        self.quadrant = 0
        self.tariff = 0
        self.mains = (OFF,)
        self.status = 0
        self.breaker = None
        self.manual = False
        self.since = 0

    def key(self):
        """Everything drawn, as one comparable value (a renderer redraws on change)."""
        return (self.value, self.dots, self.ident, self.unit, self.quadrant, self.tariff,
                self.mains, self.status, self.breaker, self.manual)

    def text(self):
        """The value field as text with its points, e.g. '  1234.5' -> '1234.5'."""
        out = ""
        for k in range(self.width):
            out += self.value[k]
            if self.dots >> k & 1:
                out += "."
        return out.strip()


def blink_on(now_ms):
    """Whether a BLINK indicator is lit at ticks_ms `now_ms` (1 Hz, half on)."""
    return (now_ms // BLINK_MS) % 2 == 0


def lit(state, now_ms):
    return state == ON or (state == BLINK and blink_on(now_ms))

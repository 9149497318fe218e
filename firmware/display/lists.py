"""The two display lists and the scroll: automatic every 10 s, manual on the push button.

As the 162/351B datasheets describe the display:
- the automatic list (up to 16 entries, no historical values) scrolls every 10 s in
  its configured order; a list of one entry is a fixed display;
- the manual list (up to 40 entries, historical values allowed, e.g. 1.8.0*01) is
  entered by the first press and advanced each time the button is released;
- the legal entries (comms/obis.py MANDATORY: 1.8.0 and 2.8.0) cannot be left off the
  manual list: a configuration without them is refused;
- two minutes after the last press the display returns to automatic scroll.
check() validates a configuration; Lists is the state (which entry is shown since
when), driven by ticks_ms and button events (display/button.py).
"""

from ..comms import obis

AUTO_MAX = 16
MANUAL_MAX = 40
SCROLL_MS = 10000
RETURN_MS = 120000

_PERIOD = 1 << 30        # MicroPython's ticks_ms period
_HALF = 1 << 29


def diff(a, b):
    """ticks_ms a - b, correct across the wrap of a board's ticks_ms."""
    return ((a - b + _HALF) & (_PERIOD - 1)) - _HALF


def check(auto, manual, phases=3):
    """Raise ValueError naming the problem in a pair of display lists."""
    for name, lst, most in (("display_auto", auto, AUTO_MAX),
                            ("display_manual", manual, MANUAL_MAX)):
        if not isinstance(lst, (list, tuple)):
            raise ValueError("config.%s: a list of OBIS codes" % name)
        if not 1 <= len(lst) <= most:
            raise ValueError("config.%s: 1..%d entries, got %d" % (name, most, len(lst)))
        seen = []
        for k, code in enumerate(lst):
            try:
                row, n = obis.parse(code)
            except ValueError as e:
                raise ValueError("config.%s[%d]: %s" % (name, k, e))
            if not obis.available(row, phases):
                raise ValueError("config.%s[%d]: %s needs a 3-phase meter" % (name, k, code))
            if n and name == "display_auto":
                raise ValueError("config.display_auto[%d]: %s is a historical value; the "
                                 "automatic scroll shows none (manual list only)" % (k, code))
            if code in seen:
                raise ValueError("config.%s[%d]: %s is listed twice" % (name, k, code))
            seen.append(code)
    for code in obis.mandatory():
        if code not in manual:
            raise ValueError("config.display_manual: %s is a legal display and cannot be "
                             "removed from the manual list" % code)


class Lists:
    def __init__(self, auto, manual, now_ms=0):
        self.auto = tuple(auto)
        self.manual_list = tuple(manual)
        self.manual = False
        self.index = 0
        self.since = now_ms      # when the shown entry came on
        self.pressed = now_ms    # last button activity (manual mode)

    def current(self):
        return (self.manual_list if self.manual else self.auto)[self.index]

    def tick(self, now_ms):
        """Advance the scroll by the clock; True when the shown entry changed."""
        if self.manual:
            if diff(now_ms, self.pressed) >= RETURN_MS:
                self.manual = False
                self.index = 0
                self.since = now_ms
                return True
            return False
        if len(self.auto) > 1 and diff(now_ms, self.since) >= SCROLL_MS:
            steps = diff(now_ms, self.since) // SCROLL_MS
            self.index = (self.index + steps) % len(self.auto)
            # keep the 10 s grid when a caller polls late
            self.since = now_ms - diff(now_ms, self.since) % SCROLL_MS
            return True
        return False

    def release(self, now_ms):
        """A short press ended: enter the manual list, or go to its next entry."""
        if self.manual:
            self.index = (self.index + 1) % len(self.manual_list)
        else:
            self.manual = True
            self.index = 0
        self.since = now_ms
        self.pressed = now_ms

    def activity(self, now_ms):
        """A long press: keeps the manual list up, does not advance it."""
        self.pressed = now_ms

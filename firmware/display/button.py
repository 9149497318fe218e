"""The push button: debounced, a short press reported at release, a long press while held.

Button(pin, active=0) reads pin.value() (active: the level while pressed; a button to
ground with a pull-up is active 0). poll(now_ms) is called from the main loop (never
from an interrupt) and returns SHORT once when a press shorter than LONG_MS is
released, LONG once when a press has lasted LONG_MS (its release then gives nothing),
else None. A level change counts only after it has been stable for DEBOUNCE_MS;
contact bounce and spikes shorter than that are ignored. The main loop must poll at
least every DEBOUNCE_MS / 2 for the shortest press to be seen.
"""

from .lists import diff

SHORT = 1
LONG = 2
DEBOUNCE_MS = 30
LONG_MS = 3000


class Button:
    def __init__(self, pin, active=0, debounce_ms=DEBOUNCE_MS, long_ms=LONG_MS):
        self.pin = pin
        self.active = active
        self.debounce_ms = debounce_ms
        self.long_ms = long_ms
        self.down = False        # debounced state
        self._raw = False
        self._raw_at = 0         # when the raw level last changed
        self._down_at = 0
        self._long = False       # LONG already reported for this press
        self._started = False

    def poll(self, now_ms):
        raw = self.pin.value() == self.active
        if not self._started:
            self._started = True
            self._raw = raw
            self.down = raw
            self._raw_at = now_ms
            self._long = raw      # held at power-up: not a press
            return None
        if raw != self._raw:
            self._raw = raw
            self._raw_at = now_ms
        ev = None
        if raw != self.down and diff(now_ms, self._raw_at) >= self.debounce_ms:
            self.down = raw
            if raw:
                self._down_at = self._raw_at
                self._long = False
            else:
                if not self._long:
                    ev = SHORT
                self._long = False
        if self.down and not self._long and diff(now_ms, self._down_at) >= self.long_ms:
            self._long = True
            ev = LONG
        return ev

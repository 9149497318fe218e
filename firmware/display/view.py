"""The meter's display: the lists, the button and the catalogue turned into LCD frames.

Display(meter, lcd, button) is polled from the main loop with update(now_ms), outside
every interrupt: it reads the button, advances the lists, rebuilds the Frame from the
catalogue (comms/obis.py) once a second or when the entry changes, and hands it to the
LCD driver (which writes the glass only when its picture changed; blinking indicators
are redrawn every BLINK_MS). Nothing here knows a quantity: each entry is a catalogue
code; its Reading says how to put it in the value field (display/field.py).

Indicators (display/lcd.py):
    quadrant  the quadrant of the total load in the last measurement period
    tariff    the active tariff, when the meter has tariffs (a calendar table, the
              DD inputs or communication); off with a single tariff
    mains     per phase: ON when the voltage is above MAINS_V x Un; BLINK when it is and
              the current is below the starting current (ist); OFF below the limit.
              Aron wiring (two elements, L1-L2 and L3-L2): L1 and L3 from the
              elements, L2 lit when both line voltages are present
    status    ERROR: the registers rejected a measurement period, a store write
              failed, or the meter caught an error in its own work (meter.faults);
              MAGNET: the board's magnet sensor; DATA_LOST: the store found corrupt
              or unusable data (storage/persist.py)
    breaker   the board's relay state (162 with breaker), else None
"""

from ..comms import obis
from . import field
from .button import LONG, SHORT, Button
from .lcd import BLINK, BLINK_MS, DATA_LOST, ERROR, MAGNET, OFF, ON, Frame
from .lists import Lists, diff

MAINS_V = 0.6
REFRESH_MS = 1000


class Display:
    def __init__(self, meter, lcd=None, button=None, now_ms=0):
        cfg = meter.cfg
        self.meter = meter
        self.lcd = lcd
        self.cat = obis.Catalogue(meter)
        self.lists = Lists(cfg.display_auto, cfg.display_manual, now_ms)
        self.button = button if button is None or hasattr(button, "poll") else Button(button)
        self.frame = Frame(getattr(lcd, "width", 8) if lcd is not None else 8)
        self.on_long = None      # f(now_ms): a long press (the 162's breaker)
        self.tariffs = cfg.tariff_control != "calendar" or cfg.tariff_table is not None
        self._built = None       # ticks_ms of the last frame build (None: never)
        self._shown = None       # ticks_ms of the last lcd.show
        self._hist = None        # (code, stops, snapshot, row): a historical value, cached
        self.redraws = 0

    # -- inputs ------------------------------------------------------------------------
    def press(self, now_ms, long=False):
        """A button event (from the button, or a test/simulator)."""
        if long:
            self.lists.activity(now_ms)
            if self.on_long is not None:
                self.on_long(now_ms)
        else:
            self.lists.release(now_ms)
        self._built = None

    def update(self, now_ms):
        """Poll the button, scroll, rebuild and draw as due; True when the frame was
        rebuilt."""
        b = self.button
        if b is not None:
            ev = b.poll(now_ms)
            if ev == SHORT:
                self.press(now_ms)
            elif ev == LONG:
                self.press(now_ms, True)
        if self.lists.tick(now_ms):
            self._built = None
        built = False
        if self._built is None or diff(now_ms, self._built) >= REFRESH_MS:
            self.build(now_ms)
            built = True
        lcd = self.lcd
        if lcd is not None and (built or self._shown is None
                                or diff(now_ms, self._shown) >= BLINK_MS // 2):
            self._shown = now_ms
            if lcd.show(self.frame, now_ms):
                self.redraws += 1
        return built

    # -- the frame ---------------------------------------------------------------------
    def status(self):
        m = self.meter
        s = 0
        p = m.persist
        if m.errors or m.faults or (p is not None and p.errors):
            s |= ERROR
        mag = getattr(m.board, "magnet", None)
        if mag is not None and mag.value():
            s |= MAGNET
        if m.data_lost:
            s |= DATA_LOST
        return s

    def mains(self):
        m = self.meter
        cfg = m.cfg
        vlim = MAINS_V * cfg.un
        st = []
        mm = m.m
        for k in range(len(mm.vrms)):
            v = mm.vrms[k]
            if cfg.wiring == "aron":
                v = v / 1.7320508          # line voltage -> the phase limit applies
            st.append(OFF if v <= vlim else (BLINK if mm.irms[k] < cfg.ist else ON))
        if cfg.wiring == "aron" and len(st) == 2:
            both = st[0] != OFF and st[1] != OFF
            st = [st[0], ON if both else OFF, st[1]]
        return tuple(st)

    def build(self, now_ms):
        lists = self.lists
        code = lists.current()
        f = self.frame
        f.since = lists.since
        f.ident = code
        f.manual = lists.manual
        r = self._read(code)
        w = f.width
        if r.value is None:
            f.value, f.dots = "-" * w, 0
        elif r.kind == obis.DATE or r.kind == obis.TIME:
            from ..time import civil

            y, mo, d, hh, mi, ss = civil.split(r.value)
            if r.kind == obis.DATE:
                f.value, f.dots = field.date(y, mo, d, w)
            else:
                f.value, f.dots = field.clock(hh, mi, ss, w)
        else:
            f.value, f.dots = field.number(r.value, r.scale, r.decimals, w, r.wrap, r.pad)
        f.unit = r.unit
        m = self.meter
        f.quadrant = m.registers.quadrant
        f.tariff = m.logbook.tariff if self.tariffs else 0
        f.mains = self.mains()
        f.status = self.status()
        relay = getattr(m.board, "relay", None)
        f.breaker = None if relay is None else bool(relay.value())
        self._built = now_ms
        return f

    def _read(self, code):
        cat = self.cat
        if "*" not in code:
            return cat.read(code)
        stops = self.meter.logbook.stops
        h = self._hist
        if h is None or h[0] != code or h[1] != stops:
            row, n = obis.parse(code)
            h = (code, stops, cat.snapshot(n), row)
            self._hist = h
        if h[2] is None:
            return cat.shape(h[3], None)     # that billing stop is not held (yet)
        return cat.read(code, h[2])

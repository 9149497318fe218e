"""Display redraw costs on the MicroPython unix port (`make bench` runs it).

For each renderer, the time of one full redraw (a frame whose every field changed),
and what it puts on its bus, so the RP2040 cost can be estimated from the bus:
    frame build  the catalogue read and value-field rule for one entry (351B, manual list)
    text LCD     the ASCII picture (simulator terminal, REPL)
    HT1621       the PDC-6X1 glass: paint + one 137-clock RAM write, bit-banged on pins
    OLED         SSD1306 128x64: framebuf drawing + the changed pages over I2C
Figures only; nothing here fails on a slow machine.
"""

import sys
import time

if "" not in sys.path:
    sys.path.insert(0, "")

from boards.sim import scenario as scn  # noqa: E402
from boards.sim.board import make_board  # noqa: E402
from mpmeter.config import Config  # noqa: E402
from mpmeter.display import glass_pdc6x1  # noqa: E402
from mpmeter.display.field import number  # noqa: E402
from mpmeter.display.ht1621 import HT1621  # noqa: E402
from mpmeter.display.lcd import BLINK, ON, Frame  # noqa: E402
from mpmeter.display.oled import Oled  # noqa: E402
from mpmeter.display.textlcd import TextLcd  # noqa: E402
from mpmeter.meter import Meter  # noqa: E402


class CountPin:
    def __init__(self):
        self.n = 0

    def value(self, x=None):
        self.n += 1


class CountI2C:
    def __init__(self):
        self.writes = 0
        self.bytes = 0

    def writeto(self, addr, buf):
        self.writes += 1
        self.bytes += len(buf)


def us(t0):
    return time.ticks_diff(time.ticks_us(), t0)


def frames(width, n):
    out = []
    for k in range(n):
        f = Frame(width)
        f.value, f.dots = number(123456 + 1111 * k, -1, 1, width)
        f.ident = "1.8.%d" % (k % 9)
        f.unit = "kWh" if k % 2 else "kvarh"
        f.quadrant = 1 + k % 4
        f.tariff = 1 + k % 2
        f.mains = (ON, BLINK, ON)
        f.status = k % 8
        f.manual = bool(k % 2)
        f.since = 0
        out.append(f)
    return out


def main():
    n = 200
    sc = scn.validate({"start": "2026-06-21T10:00:00Z", "profile": "351", "segments": [
        {"duration_s": 20, "phases": [{"v_rms": 230.0, "i_rms": 5.0, "phi_deg": 20.0}] * 3}]})
    cfg = Config("351", {"ct": [100, 5]})
    m = Meter(make_board(cfg, sc, "phasor"), cfg)
    while m.step():
        pass
    d = m.display
    codes = list(cfg.display_manual)
    codes = [c for c in codes if "*" not in c]
    t0 = time.ticks_us()
    for k in range(n):
        d.lists.manual = True
        d.lists.manual_list = codes
        d.lists.index = k % len(codes)
        d.build(k)
    print("frame build (catalogue read + field rule), 351B manual list: %.0f us per frame"
          % (us(t0) / n))

    fs = frames(8, n)
    t = TextLcd()
    t0 = time.ticks_us()
    for f in fs:
        t.show(f, 0)
    print("text LCD: %.0f us per full redraw (%d lines)" % (us(t0) / n, len(t.lines)))

    cs, wr, data = CountPin(), CountPin(), CountPin()
    h = HT1621(cs, wr, data, glass_pdc6x1)
    h.init()
    fs6 = frames(6, n)
    for f in fs6:
        f.value, f.dots = number(12345, -1, 1, 6)   # points this glass has
    base = wr.n + cs.n + data.n
    wrote = 0
    t0 = time.ticks_us()
    for k in range(n):
        f = fs6[k]
        f.value, f.dots = number(100000 + k * 7, -1, 1, 6)
        if h.show(f, 5000):
            wrote += 1
    dt = us(t0)
    calls = (wr.n + cs.n + data.n - base) // max(1, wrote)
    print("HT1621 + PDC-6X1: %.0f us per full redraw, %d pin writes (137 WR clocks); "
          "%d of %d frames written" % (dt / n, calls, wrote, n))

    i2c = CountI2C()
    o = Oled(i2c)
    o.init()
    i2c.writes = i2c.bytes = 0
    t0 = time.ticks_us()
    for f in fs:
        o.show(f, 0)
    dt = us(t0)
    print("OLED SSD1306 128x64: %.0f us per full redraw (every field changed), %d I2C "
          "bytes per redraw (%.1f ms of bus at 400 kHz)"
          % (dt / n, i2c.bytes // n, i2c.bytes / n * 9 / 400.0))
    f = fs[0]
    i2c.writes = i2c.bytes = 0
    t0 = time.ticks_us()
    for k in range(n):
        f.value, f.dots = number(1234567 + k, -1, 1, 8)
        o.show(f, 0)
    dt = us(t0)
    print("OLED, the value alone changing (the usual second): %.0f us, %d I2C bytes"
          % (dt / n, i2c.bytes // n))


main()

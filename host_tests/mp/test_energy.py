"""On-MicroPython tests of the energy layer: exact registers; pulse trains that never allocate."""

import array
import unittest

import micropython
from mpmeter.energy import pulses as P
from mpmeter.energy import registers as R

NAMES = ("a_plus", "a_minus", "r_plus", "r_minus", "r1", "r2", "r3", "r4")


def regs(e, primary=False):
    return [e.mwh(n, primary) for n in NAMES]


class TestRegisters(unittest.TestCase):
    def test_quadrants_one_hour(self):
        for p, q, quad, expect in (
                (1000, 500, 1, [1000000, 0, 500000, 0, 500000, 0, 0, 0]),
                (-1000, 500, 2, [0, 1000000, 500000, 0, 0, 500000, 0, 0]),
                (-1000, -500, 3, [0, 1000000, 0, 500000, 0, 0, 500000, 0]),
                (1000, -500, 4, [1000000, 0, 0, 500000, 0, 0, 0, 500000]),
                (0, 300, 1, [0, 0, 300000, 0, 300000, 0, 0, 0]),
                (0, 0, 0, [0] * 8)):
            e = R.EnergyRegisters(1)
            for _ in range(60):
                e.integrate(float(p), float(q), 60)
            self.assertEqual(regs(e), expect)
            self.assertEqual(regs(e, True), expect)
            self.assertEqual(e.quadrant, quad)

    def test_ct_vt_ratio_exact(self):
        e = R.EnergyRegisters(1, ct=(3000, 5), vt=(20000, 100))
        for _ in range(7200):
            e.integrate(0.5, 0.0, 1)  # 0.5 W for 2 h = 1 Wh
        self.assertEqual(e.mwh("a_plus", False), 1000)
        self.assertEqual(e.mwh("a_plus"), 1000 * 600 * 200)
        f = R.EnergyRegisters(1, ct=(7, 3))
        for want in (2333, 4666, 7000):
            f.integrate(1.0, 0.0, 3600)
            self.assertEqual(f.mwh("a_plus"), want)

    def test_ratio_change_midway(self):
        e = R.EnergyRegisters(1, ct=(3000, 5))
        e.integrate(1000.0, 0.0, 1800)
        e.set_ratio((1500, 5))
        self.assertEqual(e.mwh("a_plus"), 300000000)
        e.integrate(1000.0, 0.0, 1800)
        self.assertEqual(e.mwh("a_plus"), 450000000)
        self.assertEqual(e.mwh("a_plus", False), 1000000)

    def test_exact_against_integer_truth(self):
        # powers are multiples of 1/8 W, so the exact mW*tick increment is a*125*ticks
        tick_hz = 8000
        unit = 3600 * tick_hz
        e = R.EnergyRegisters(tick_hz, ct=(3000, 5))
        sp = 0
        sn = 0
        x = 12345
        prev = regs(e, True)
        for _ in range(3000):
            x = (x * 1103515245 + 12345) & 0x7FFFFFFF
            a = (x >> 8) % 80001 - 40000
            ticks = 150 + x % 21
            e.integrate(a / 8, 0.0, ticks)
            if a >= 0:
                sp += a * 125 * ticks
            else:
                sn += -a * 125 * ticks
            now = regs(e, True)
            for k in range(8):
                self.assertTrue(now[k] >= prev[k])
            prev = now
        self.assertEqual(e.exact("a_plus", False), (sp, unit))
        self.assertEqual(e.exact("a_minus", False), (sn, unit))
        self.assertEqual(e.mwh("a_plus"), sp * 600 // unit)
        self.assertEqual(e.mwh("a_minus"), sn * 600 // unit)

    def test_restore_and_bad_input(self):
        e = R.EnergyRegisters(8000, ct=(11, 5))
        for i in range(200):
            e.integrate(100.0 + i * 0.37, -5.0 + i * 0.1, 160)
        s = e.state()
        f = R.EnergyRegisters(8000)
        f.restore(s)
        self.assertEqual(f.state(), s)
        e.integrate(77.7, 3.3, 999)
        f.integrate(77.7, 3.3, 999)
        self.assertEqual(f.state(), e.state())
        good = f.state()
        for p, q, t in ((float("nan"), 0.0, 1), (1.0, float("inf"), 1), (1.0, 1.0, -1)):
            self.assertRaises(ValueError, f.integrate, p, q, t)
            self.assertEqual(f.state(), good)
        bad = list(good)
        bad[15] = 3600 * 8000
        self.assertRaises(ValueError, f.restore, tuple(bad))
        self.assertRaises(ValueError, f.restore, good[:-1])
        self.assertEqual(f.state(), good)


class Pin:
    """Records rise/fall times into preallocated arrays: safe under heap_lock."""

    def __init__(self, cap):
        self.t = array.array("i", [0] * cap)
        self.lv = array.array("b", [0] * cap)
        self.n = 0
        self.now = 0

    def value(self, x):
        self.t[self.n] = self.now
        self.lv[self.n] = x
        self.n += 1


def drive(out, pin, t, t1):
    while t < t1:
        pin.now = t
        out.tick(t & 0x3FFFFFFF)
        t += 1
    return t


class TestPulses(unittest.TestCase):
    def test_quanta(self):
        self.assertEqual(P.PulseOutput(Pin(2), 1000).quantum, 1000)
        self.assertEqual(P.PulseOutput(Pin(2), 10000).quantum, 100)
        self.assertEqual(P.PulseOutput(Pin(2), 5000).quantum, 200)
        self.assertRaises(ValueError, P.PulseOutput, Pin(2), 3)

    def test_spread_widths_and_counts_under_heap_lock(self):
        pin = Pin(2000)
        out = P.PulseOutput(pin, 1000, width_ms=30)
        fed = 0
        t = (1 << 30) - 600  # crosses the 2**30 wrap
        t0 = t
        feeds = (3500, 0, 2500, 7000, 0, 0, 0)
        micropython.heap_lock()
        try:
            i = 0
            while i < 7:
                out.feed(feeds[i], 1000)
                fed += feeds[i]
                t = drive(out, pin, t, t + 1000)
                i += 1
        finally:
            micropython.heap_unlock()
        self.assertEqual(out.emitted, fed // 1000)
        self.assertEqual(out.pending, 0)
        self.assertEqual(out.residue, fed % 1000)
        n = pin.n
        self.assertEqual(n, 1 + 2 * (fed // 1000))
        rises = [pin.t[k] - t0 for k in range(1, n, 2)]
        self.assertEqual(rises[:3], [0, 333, 666])
        for k in range(1, n - 1, 2):
            self.assertEqual(pin.lv[k], 1)
            self.assertEqual(pin.t[k + 1] - pin.t[k], 30)
            if k + 2 < n:
                self.assertTrue(pin.t[k + 2] - pin.t[k + 1] >= 30)

    def test_overrun_queues_without_loss_under_heap_lock(self):
        pin = Pin(4000)
        s0 = P.PulseOutput(pin, 5000, width_ms=30, idle_on=True)
        e = R.EnergyRegisters(1, ct=(3000, 5))
        e.integrate(4140.0, 0.0, 1)  # 351 at full load: 690 kWh primary per second
        inc = e.inc_primary[R.A_PLUS]
        self.assertEqual(inc, 690000)
        inc //= 1000  # keep the drain short: 3 pulses' worth per period, still overrun
        micropython.heap_lock()
        try:
            s0.feed(inc * 100, 50)
            t = drive(s0, pin, 0, 50)
            over = s0.overrun
            queued = s0.pending
            while s0.pending or s0.active:
                t = drive(s0, pin, t, t + 1)
        finally:
            micropython.heap_unlock()
        self.assertEqual(over, 1)
        self.assertTrue(queued > 300)
        self.assertEqual(s0.emitted, inc * 100 // 200)
        self.assertEqual(pin.lv[0], 1)  # idle level: lit
        for k in range(1, pin.n - 1, 2):
            self.assertEqual(pin.lv[k], 0)
            self.assertEqual(pin.t[k + 1] - pin.t[k], 30)
            if k + 2 < pin.n:
                self.assertEqual(pin.t[k + 2] - pin.t[k + 1], 30)

    def test_registers_to_pulses_exact(self):
        e = R.EnergyRegisters(1)
        pin = Pin(2000)
        led = P.PulseOutput(pin, 10000, width_ms=5)
        t = 0
        for k in range(100):
            e.integrate(3000.0 + 37.3 * (k % 11), 0.0, 1)
            led.feed(e.inc_secondary[R.A_PLUS], 1000)
            t = drive(led, pin, t, t + 1000)
        while led.pending or led.active:
            t = drive(led, pin, t, t + 1)
        self.assertEqual(led.emitted, e.mwh("a_plus", False) // 100)
        self.assertEqual((pin.n - 1) // 2, led.emitted)


class TestPulseCounterForYears(unittest.TestCase):
    def test_tick_stays_allocation_free_with_a_huge_total(self):
        # ten years at full load on the 351 LED is ~4e9 pulses: past small ints on the RP2040
        pin = Pin(16)
        out = P.PulseOutput(pin, 10000, 30)
        out._epoch = 4 * 10 ** 9
        out._count = 0x100000
        before = out.emitted
        out.feed(300, 1000)              # folds the small counter into the epoch
        self.assertEqual(out.emitted, before)
        self.assertEqual(out._count, 0)
        micropython.heap_lock()
        try:
            drive(out, pin, 0, 1000)
        finally:
            micropython.heap_unlock()
        self.assertEqual(out.emitted, before + 3)

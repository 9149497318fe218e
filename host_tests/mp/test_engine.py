"""On-MicroPython engine test: feed() allocates nothing between period closes; results sane."""

import array
import math
import unittest

import micropython


class Sampler:
    def __init__(self):
        self.fs, self.frames, self.stride = 8000, 160, 8
        self.systems = [{"v": k, "i": 3 + k, "v_lsb": 400 / 32768, "i_lsb": 10 / 32768,
                         "v_bias": 0, "i_bias": 0, "skew": 0.0} for k in range(3)]
        self.neutral = {"ch": 6, "lsb": 10 / 32768, "bias": 0}
        # one 50 Hz cycle per block, so three preallocated blocks repeat exactly
        self.ring = []
        for _ in range(3):
            b = array.array("h", [0] * (160 * 8))
            for n in range(160):
                for k in range(3):
                    a = 2 * math.pi * n / 160 - 2 * math.pi * k / 3
                    b[n * 8 + k] = int(26000 * math.cos(a))
                    b[n * 8 + 3 + k] = int(16000 * math.cos(a - math.pi / 3))
            self.ring.append(b)
        self.k = 0

    def read(self):
        self.k += 1
        return self.ring[self.k % 3]


class TestEngine(unittest.TestCase):
    def test_feed_allocates_nothing_between_closes(self):
        from mpmeter.metrology.engine import Engine

        got = []
        smp = Sampler()
        eng = Engine(smp, cycles=50, on_period=lambda m: got.append(m.p_total))
        for _ in range(60):                 # past the first (partial) and one whole period
            eng.feed(smp.read())
        self.assertEqual(len(got), 2)
        micropython.heap_lock()
        try:
            for _ in range(40):             # 40 crossings < 50: no period closes
                eng.feed(smp.read())
        finally:
            micropython.heap_unlock()
        self.assertEqual(len(got), 2)
        # 3 x (26000 * 400/32768 / sqrt2) V x (16000 * 10/32768 / sqrt2) A x cos 60
        v = 26000 * 400 / 32768 / math.sqrt(2)
        i = 16000 * 10 / 32768 / math.sqrt(2)
        self.assertAlmostEqual(got[1] / (3 * v * i * 0.5), 1.0, 3)
        self.assertAlmostEqual(eng.m.freq, 50.0, 3)

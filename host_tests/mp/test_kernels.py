"""On-MicroPython tests of the metrology kernels: viper == plain twin, and no allocation."""

import array
import random
import unittest

import micropython
from mpmeter.metrology import kernels as K


def block(frames, stride, rnd, lo=-32768, hi=32767):
    return array.array("h", [rnd(lo, hi) for _ in range(frames * stride)])


def params(frames, stride, v, i, vb, ib, d):
    return array.array("i", [frames, stride, v, i, vb, ib, d])


class TestAccumulate(unittest.TestCase):
    def test_viper_equals_twin_random(self):
        self.assertTrue(K.VIPER)
        random.seed(7)
        r = random.randint
        for stride, frames, d, vb, ib, lo, hi in ((8, 160, 40, 0, 0, -32768, 32767),
                                                 (2, 80, 20, 2048, 2048, 0, 4095),
                                                 (3, 80, 20, 2051, 2046, 0, 4095)):
            prev = block(frames, stride, r, lo, hi)
            cur = block(frames, stride, r, lo, hi)
            par = params(frames, stride, 0, stride - 1, vb, ib, d)
            a = array.array("i", [0] * K.ACC_WORDS)
            b = array.array("i", [0] * K.ACC_WORDS)
            for start, end in ((0, frames), (0, 7), (7, frames), (d, d), (0, d + 3)):
                K._accumulate(cur, prev, start, end, par, a)
                K.ref_accumulate(cur, prev, start, end, par, b)
                self.assertEqual(list(a), list(b))

    def test_full_scale_extremes(self):
        # all samples at -32768 / +32767: largest products, both signs
        frames, stride = 160, 8
        for val_v, val_i in ((-32768, -32768), (-32768, 32767), (32767, 32767)):
            cur = array.array("h", [val_v, 0, 0, val_i, 0, 0, 0, 0] * frames)
            par = params(frames, stride, 0, 3, 0, 0, 40)
            a = array.array("i", [0] * K.ACC_WORDS)
            b = array.array("i", [0] * K.ACC_WORDS)
            for _ in range(50):  # 8000 frames in the pairs
                K._accumulate(cur, cur, 0, frames, par, a)
                K.ref_accumulate(cur, cur, 0, frames, par, b)
            self.assertEqual(list(a), list(b))
            n = 50 * frames
            self.assertEqual(K.pair(a, K.ACC_SVI), n * val_v * val_i)
            self.assertEqual(K.pair(a, K.ACC_SVV), n * val_v * val_v)
            self.assertEqual(K.pair(a, K.ACC_SV), n * val_v)

    def test_no_allocation(self):
        frames, stride = 160, 8
        cur = array.array("h", [1000] * (frames * stride))
        par = params(frames, stride, 0, 3, 0, 0, 40)
        acc = array.array("i", [0] * K.ACC_WORDS)
        st = array.array("i", [0, 100, 0, 0, 4])
        out = array.array("i", [0] * 12)
        K._accumulate(cur, cur, 0, frames, par, acc)   # warm up
        micropython.heap_lock()
        try:
            K._accumulate(cur, cur, 0, frames, par, acc)
            K.accumulate(cur, cur, 0, frames, par, acc)
            K._crossings(cur, 0, frames, stride, 0, st, out)
            K.crossings(cur, 0, frames, stride, 0, st, out)
        finally:
            micropython.heap_unlock()


class TestCrossings(unittest.TestCase):
    def test_viper_equals_twin(self):
        import math
        frames, stride = 160, 2
        st_a = array.array("i", [0, 200, 0, 0, 4])
        st_b = array.array("i", [0, 200, 0, 0, 4])
        out_a = array.array("i", [0] * 12)
        out_b = array.array("i", [0] * 12)
        random.seed(3)
        total = 0
        for blk in range(20):
            buf = array.array("h", [0] * (frames * stride))
            for n in range(frames):
                t = (blk * frames + n) / 8000
                buf[n * stride] = int(20000 * math.sin(2 * math.pi * 50.3 * t)
                                      + random.randint(-300, 300))
            ca = K._crossings(buf, 0, frames, stride, 0, st_a, out_a)
            cb = K.ref_crossings(buf, 0, frames, stride, 0, st_b, out_b)
            self.assertEqual(ca, cb)
            self.assertEqual(list(out_a[:3 * ca]), list(out_b[:3 * cb]))
            self.assertEqual(list(st_a), list(st_b))
            total += ca
        # 20 blocks of 20 ms at 50.3 Hz: 20 rising crossings (0.4 s * 50.3 = 20.1)
        self.assertTrue(20 <= total <= 21)

    def test_negative_level_and_last(self):
        buf = array.array("h", [-500, -100, 300, -600, 50])
        st = array.array("i", [-200, 100, 0, -700, 4])
        out = array.array("i", [0] * 12)
        c = K._crossings(buf, 0, 5, 1, 0, st, out)
        # armed by -500 (< -300) ... -100 >= -200 crossing at n=1; re-armed at -600; 50 at n=4
        self.assertEqual(c, 2)
        self.assertEqual(list(out[:6]), [1, -500, -100, 4, -600, 50])
        self.assertEqual(st[3], 50)


class TestAccumulateI(unittest.TestCase):
    def test_viper_equals_twin_and_full_kernel(self):
        random.seed(11)
        r = random.randint
        frames, stride = 160, 8
        cur = block(frames, stride, r)
        par = params(frames, stride, 0, 6, 0, 0, 40)
        a = array.array("i", [0] * K.ACC_WORDS)
        b = array.array("i", [0] * K.ACC_WORDS)
        c = array.array("i", [0] * K.ACC_WORDS)
        for start, end in ((0, frames), (3, 99)):
            K._accumulate_i(cur, start, end, par, a)
            K.ref_accumulate_i(cur, start, end, par, b)
            K._accumulate(cur, cur, start, end, par, c)
        self.assertEqual(list(a), list(b))
        for w in (K.ACC_SI, K.ACC_SII):
            self.assertEqual(K.pair(a, w), K.pair(c, w))
        micropython.heap_lock()
        try:
            K._accumulate_i(cur, 0, frames, par, a)
        finally:
            micropython.heap_unlock()


class TestLinearize(unittest.TestCase):
    def test_viper_equals_twin_no_alloc(self):
        lut = array.array("h", bytes(8192))
        for c in range(4096):
            lut[c] = (c - 2048) * 8 + (c % 7)
        a = array.array("h", [c * 37 % 4096 for c in range(480)])
        b = array.array("h", a)
        K._linearize(a, 480, lut)
        K.ref_linearize(b, 480, lut)
        self.assertEqual(list(a), list(b))
        self.assertEqual(a[1], (37 - 2048) * 8 + 37 % 7)
        micropython.heap_lock()
        try:
            K._linearize(a, 480, lut)
        finally:
            micropython.heap_unlock()

"""On-MicroPython test of the ADS131M08 sampler: the viper frame kernel against its Python twin,
and convert() / read() allocate nothing (heap locked).

The chip, PIO and DMA are stubs here (host_tests/test_ads131m08.py runs the sampler on
the models under CPython); the test writes the raw frames and stamps the DMA would.
"""

import array
import unittest

import micropython

from rp2_stubs import DMA, NOW, Time, Uctypes
T = 40000


def crc(words):
    c = 0xFFFF
    for w in words:
        for b in (w >> 8, w & 0xFF):
            c ^= b << 8
            for _ in range(8):
                c = ((c << 1) ^ 0x1021) if c & 0x8000 else c << 1
            c &= 0xFFFF
    return c


def frames(n, seed):
    """n raw frames: mostly good, some with a flipped bit, some with a bad STATUS."""
    out = []
    x = seed
    for f in range(n):
        codes = []
        for _ in range(8):
            x = (x * 1103515245 + 12345) & 0x7FFFFFFF
            codes.append((x >> 8) & 0xFFFF)
        st = 0x00FF if f % 7 else 0x04FF
        words = [st] + codes
        c = crc(words)
        if f % 5 == 3:
            c ^= 0x0010
        out += words + [c]
    return out


class Mem:
    def __getitem__(self, a):
        return 0

    def __setitem__(self, a, v):
        pass


class Pin:
    OUT = 1
    IN = 0

    def __init__(self, *a, **k):
        pass


class SPI:
    MSB = 0

    def __init__(self, *a, **k):
        pass

    def deinit(self):
        pass


class Machine:
    Pin = Pin
    SPI = SPI

    def __init__(self):
        self.mem32 = Mem()

    def freq(self):
        return 125000000


class SM:
    def __init__(self, *a, **k):
        pass

    def active(self, *a):
        return 0


class Rp2:
    DMA = DMA
    StateMachine = SM

    class PIO:
        OUT_HIGH = 3
        OUT_LOW = 2
        SHIFT_LEFT = 0
        JOIN_RX = 2

    @staticmethod
    def asm_pio(**kw):
        return lambda f: [f]


class TestAds131m08(unittest.TestCase):
    def test_viper_kernel_equals_its_twin_and_allocates_nothing(self):
        from boards.pico_ads131m08 import ads131m08 as reg
        from boards.pico_ads131m08 import sampler as sp

        self.assertTrue(sp.VIPER)
        tab = reg.crc_table(array.array("H", bytearray(512)))
        n = 64
        raw = array.array("H", frames(n, 7))
        a = array.array("h", bytearray(16 * n))
        b = array.array("h", bytearray(16 * n))
        sa = array.array("i", bytearray(48))
        sb = array.array("i", bytearray(48))
        for s in (sa, sb):
            s[10] = 0x4FFF
            s[11] = 0x00FF
        micropython.heap_lock()
        try:
            ba = sp.convert(raw, a, n, tab, sa)
            ba += sp.convert(raw, a, n, tab, sa)
        finally:
            micropython.heap_unlock()
        bb = sp.ref_convert(raw, b, n, tab, sb)
        bb += sp.ref_convert(raw, b, n, tab, sb)
        self.assertEqual(list(a), list(b))
        self.assertEqual(list(sa), list(sb))
        self.assertEqual(ba, bb)
        self.assertEqual((sa[8], sa[9]), (2 * 13, 2 * 8))     # f % 5 == 3; f % 7 == 0
        # a good frame's codes come out as signed 16-bit values
        good = [w - 65536 if w & 0x8000 else w for w in raw[11:19]]
        self.assertEqual(list(a[8:16]), good)

    def test_read_without_allocation(self):
        from boards.pico_ads131m08 import sampler as sp

        saved = sp.ads131m08.configure
        sp.ads131m08.configure = lambda *a, **k: {}
        try:
            NOW[0] = (1 << 30) - 100000                  # ticks wrap during the test
            s = sp.AdsSampler(Machine(), Rp2, Uctypes(0x2000), Time, None, 333.3, 2500, 300,
                              frames=16)
        finally:
            sp.ads131m08.configure = saved
        exp = s._exp
        lists = s._lists
        so = s._so
        for k in range(8):
            s._raw[k][:] = array.array("H", frames(16, k))
        self.assertIsNone(s.read())
        t = 16 * 125
        got = 0
        micropython.heap_lock()
        try:
            for k in range(40):
                lists[so + (k & 7)] = (exp + k * t + 3) & 0x3FFFFFFF
                NOW[0] = (exp + k * t + 500) & 0x3FFFFFFF
                if s.read() is not None:
                    got += 1
        finally:
            micropython.heap_unlock()
        self.assertEqual((got, s.seq, s.overruns), (40, 39, 0))
        self.assertTrue(s.crc_errors > 0 and s.status_errors > 0)

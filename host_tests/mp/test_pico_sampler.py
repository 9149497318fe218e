"""On-MicroPython test of the Pico sampler: its viper stamp helper, and read() allocates nothing.

The DMA is a stub here (host_tests/test_pico_sampler.py runs the sampler on the
register-level model under CPython); the test writes the stamps the DMA would write.
"""

import unittest

import micropython

from rp2_stubs import DMA, NOW, Time, Uctypes
T = 20000


class Mem:
    """mem32: every read says READY (CS), EMPTY (FCS), no OVER."""

    def __init__(self):
        self.w = {}

    def __getitem__(self, a):
        return 0x100

    def __setitem__(self, a, v):
        self.w[a] = v


class Machine:
    def __init__(self):
        self.mem32 = Mem()

    def Pin(self, p):
        return p

    def ADC(self, p):
        return p


class Rp2:
    DMA = DMA


class TestPicoSampler(unittest.TestCase):
    def test_stamp_helper_and_read_without_allocation(self):
        from boards.pico import sampler as sp

        st = sp.array.array("I", [0xFFFFFFFF, 0x40000005])
        self.assertEqual(sp._stamp(st, 0), 0x3FFFFFFF)
        self.assertEqual(sp._stamp(st, 1), 5)
        NOW[0] = (1 << 30) - 50000                   # ticks wrap during the test
        s = sp.PicoSampler(Machine(), Rp2, Uctypes(), Time, 450 / 1.65, 2000, 25.4)
        exp = s._exp
        lists = s._lists
        so = s._so
        blocks = s._blocks
        self.assertIsNone(s.read())
        micropython.heap_lock()
        try:
            bad = 0
            for k in range(100):                     # a DMA that keeps up
                lists[so + (k & 31)] = (exp + k * T + 3) & 0x3FFFFFFF
                NOW[0] = (exp + k * T + 500) & 0x3FFFFFFF
                if s.read() is not blocks[k & 31] or s.read() is not None:
                    bad += 1
            for k in range(100, 200):                # then the consumer is 1 s late
                lists[so + (k & 31)] = (exp + k * T + 3) & 0x3FFFFFFF
            NOW[0] = (exp + 199 * T + 500) & 0x3FFFFFFF
            b = s.read()
        finally:
            micropython.heap_unlock()
        self.assertEqual(bad, 0)
        # 100..199 done, ~1 s late: the oldest block at most 29 T old is 171 (170 is
        # 29 T + 497 us old)
        self.assertIs(b, blocks[171 & 31])
        self.assertEqual((s.seq, s.overruns), (171, 71))


class TestE11Table(unittest.TestCase):
    def test_the_constant_is_the_rule_and_costs_no_computing(self):
        import time

        from boards.pico import adc_dnl

        t0 = time.ticks_us()
        t = adc_dnl.table()
        t1 = time.ticks_us()
        c = adc_dnl.compute()
        t2 = time.ticks_us()
        self.assertEqual(len(t), 4096)
        same = 0
        for k in range(4096):
            same += t[k] == c[k]
        self.assertEqual(same, 4096)
        print("E11 table on the unix port: constant %d us, computed %d us"
              % (time.ticks_diff(t1, t0), time.ticks_diff(t2, t1)))

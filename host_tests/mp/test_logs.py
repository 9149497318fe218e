"""On-MicroPython tests of the load profile and billing loggers on a small RAM store, 192k heap."""

import gc
import unittest
from array import array

from mpmeter.logs import billing as bl
from mpmeter.logs import profile as lp
from mpmeter.storage.ramflash import RamFlash
from mpmeter.storage.store import Store, blocks

SMALL = (("profile", 2, 32), ("billing", 2, 256), ("billing2", 2, 256))
T0 = 1767225600        # 2026-01-01 00:00 UTC


def store(dev=None):
    if dev is None:
        dev = RamFlash(blocks(SMALL))
    s = Store(dev, SMALL)
    s.mount()
    return dev, s


class TestProfile(unittest.TestCase):
    def test_round_trip_with_wrap(self):
        """400 intervals on a 256-slot ring (depth 128): the held entries are the
        newest, with their status, and sum exactly to the register differences."""
        gc.collect()
        dev, s = store()
        p = lp.LoadProfile(s, "A+A-R+R-", 900)
        mwh = [0] * 8
        # whole Wh of A+, A-, R+, R- at each interval end (k = 0..400), flat, one allocation
        ends = array("i", bytes(4 * 4 * 401))
        p.start((0,) * 8)
        x = 12345
        for k in range(1, 401):
            for i in range(8):
                x = (x * 1103515245 + 12345) & 0x7FFFFFFF
                mwh[i] += x % 3000000 + (10 ** 11 if k == 200 else 0)   # one huge step
            wh = tuple(v // 1000 for v in mwh)
            p.close(T0 + 900 * k, wh, k % 32)
            for i in range(4):
                ends[4 * k + i] = wh[i]
        del mwh, wh
        gc.collect()
        again = lp.LoadProfile(store(dev)[1], "A+A-R+R-", 900)
        n = 0
        for _e in again.entries():
            n += 1
        self.assertTrue(n >= p.depth())
        sums = [0, 0, 0, 0]
        j = 0
        for e in again.entries():       # streamed, as the P.01 readout reads it
            k = 400 - n + 1 + j
            self.assertEqual(e[0], T0 + 900 * k)
            self.assertEqual(e[1], k % 32)
            for i in range(4):
                self.assertEqual(e[2][i], ends[4 * k + i] - ends[4 * (k - 1) + i])
                sums[i] += e[2][i]
            j += 1
        for i in range(4):
            self.assertEqual(sums[i], ends[1600 + i] - ends[4 * (400 - n) + i])
        sel = list(p.entries(T0 + 900 * 390, T0 + 900 * 395))
        self.assertEqual([e[0] for e in sel], [T0 + 900 * k for k in range(390, 396)])
        self.assertEqual(lp.depth_days(300, 1, 10880), 37)


class TestBilling(unittest.TestCase):
    def test_round_trip_worst_case_and_newest(self):
        gc.collect()
        dev, s = store()
        b = bl.BillingLogger(s, "billing2", depth=16)
        w = bl.worst()
        self.assertTrue(len(bl.encode(w)) <= s.area("billing2").capacity)
        for i in range(1, 41):
            d = dict(w)
            d["stops"] = i
            d["a_plus"] = 10 ** 11 - i
            b.freeze(d)
        b2 = bl.BillingLogger(store(dev)[1], "billing2", depth=16)
        self.assertEqual(b2.count, 16)
        for n in range(1, 17):
            d = b2.get(n)
            self.assertEqual(d["stops"], 41 - n)
            self.assertEqual(d["a_plus"], 10 ** 11 - (41 - n))
            self.assertEqual(d["pmax_t2_time"], 2 ** 32 - 1)
        self.assertEqual([d["stops"] for d in b2.snapshots()], list(range(25, 41)))
        bad = dict(w)
        del bad["r_minus"]
        with self.assertRaises(ValueError):
            b.freeze(bad)
        self.assertEqual(bl.BillingLogger(s, "billing", depth=16).count, 0)

    def test_due(self):
        day = 86400
        mon = 20178 * day                    # 2025-03-31, a Monday
        self.assertTrue(bl.due(mon - 1, mon, 2))
        self.assertFalse(bl.due(mon, mon + day - 1, 1))
        self.assertTrue(bl.due(mon, mon + day, 3))      # 2025-04-01
        self.assertFalse(bl.due(mon + day, mon, 1))
        self.assertEqual(bl.u_period(3), "month")

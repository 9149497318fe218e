"""On-MicroPython power-cut torture of the record store (a test harness: it keeps flash
images, so it runs in the simulator's heap, not the RP2040-sized one)."""

import sys
import unittest

if "host_tests" not in sys.path:
    sys.path.append("host_tests")

import storage_torture as T  # noqa: E402


class TestTorture(unittest.TestCase):
    def test_power_cut_at_every_byte(self):
        """Writes 71..100 of the torture workload (the register ring wraps there), the
        power cut at every byte of every operation of each, here on MicroPython."""
        writes, cuts = T.run(100, cut_from=70)
        print("micropython storage torture: writes 71..100, %d power cuts checked (every "
              "byte of every operation), every invariant held" % cuts)
        self.assertEqual(writes, 100)
        self.assertTrue(cuts >= 30 * 256)

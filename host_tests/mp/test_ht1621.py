"""On-MicroPython tests of the HT1621 driver and the PDC-6X1 glass, against the chip model."""

import sys
import unittest

if "host_tests" not in sys.path:
    sys.path.append("host_tests")

import micropython  # noqa: E402
from ht1621_model import HT1621Model, decode_pdc6x1, frame  # noqa: E402

from mpmeter.display import glass_pdc6x1  # noqa: E402
from mpmeter.display.ht1621 import HT1621  # noqa: E402
from mpmeter.display.lcd import BLINK, OFF, ON  # noqa: E402




class _Null:
    def value(self, x):
        pass


class TestHT1621(unittest.TestCase):
    def setUp(self):
        self.chip = HT1621Model()
        self.lcd = HT1621(self.chip.cs, self.chip.wr, self.chip.data, glass_pdc6x1)
        self.lcd.init()

    def tearDown(self):
        self.assertEqual(self.chip.errors, [])

    def test_init(self):
        self.assertEqual(self.chip.commands,
                         ["SYS EN", "RC 256K", "BIAS 1/3 4 COM", "WDT DIS", "LCD ON"])
        self.assertTrue(self.chip.visible())
        self.assertEqual(bytes(self.chip.ram), bytes(32))

    def test_value_ident_and_bars(self):
        f = frame("123456", 1 << 3, ident="1.8.0*01", since=100, mains=(ON, BLINK, OFF))
        self.assertTrue(self.lcd.show(f, 100))
        self.assertEqual(decode_pdc6x1(self.chip.ram), ("180-01", (True, True, False)))
        self.assertTrue(self.lcd.show(f, 2100))
        self.assertEqual(decode_pdc6x1(self.chip.ram), ("1234.56", (True, True, False)))
        self.assertTrue(self.lcd.show(f, 2600))  # BLINK dark
        self.assertEqual(decode_pdc6x1(self.chip.ram)[1], (True, False, False))
        bits = self.chip.bits
        self.assertFalse(self.lcd.show(f, 2999))  # unchanged: not rewritten
        self.assertEqual(self.chip.bits, bits)

    def test_errors(self):
        with self.assertRaises(ValueError):
            self.lcd.show(frame("12x456"), 0)
        with self.assertRaises(ValueError):
            self.lcd.show(frame("123456", 1), 0)  # no point after position 0
        self.lcd.clear()
        self.assertEqual(bytes(self.chip.ram), bytes(32))

    def test_write_allocates_nothing(self):
        """The bit-bang itself (137 WR clocks) runs with the heap locked."""
        d = HT1621(_Null(), _Null(), _Null(), glass_pdc6x1)
        micropython.heap_lock()
        try:
            d.clear()
        finally:
            micropython.heap_unlock()

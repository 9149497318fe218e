"""On-MicroPython tests of the display logic: value field, lists, button, text picture."""

import unittest

from mpmeter.comms import obis
from mpmeter.display import field, lists
from mpmeter.display.button import LONG, SHORT, Button
from mpmeter.display.lcd import BLINK, ON, Frame
from mpmeter.display.textlcd import render


def shown(value, scale, dec, width=8, wrap=False, pad=0):
    f = Frame(width)
    f.value, f.dots = field.number(value, scale, dec, width, wrap, pad)
    return f.text()


class Pin:
    level = 1

    def value(self):
        return self.level


class TestDisplay(unittest.TestCase):
    def test_field(self):
        self.assertEqual(shown(12345678901, -6, 1, 8, True, 7), "012345.6")
        self.assertEqual(shown(1234567800000, -6, 1, 8, True, 7), "234567.8")
        self.assertEqual(shown(-12345678, -3, 3), "-12345.67")
        self.assertEqual(shown(123456789012, -3, 3), "-OFL-")
        self.assertEqual(shown(-4, -3, 2), "0.00")
        # 2**40 mWh: beyond a small int on a 32-bit port, exact all the same
        self.assertEqual(shown(1 << 40, -6, 1, 8, True, 8), "1099511.6")

    def test_lists(self):
        li = lists.Lists(["1.8.0", "2.8.0"], ["1.8.0", "2.8.0", "3.8.0"], 0)
        li.tick(10000)
        self.assertEqual(li.current(), "2.8.0")
        li.release(11000)
        li.release(12000)
        self.assertEqual((li.manual, li.current()), (True, "2.8.0"))
        li.tick(12000 + lists.RETURN_MS)
        self.assertFalse(li.manual)
        with self.assertRaises(ValueError):
            lists.check(["1.8.0"], ["1.8.0"])
        with self.assertRaises(ValueError):
            lists.check(["1.8.0*01"], ["1.8.0", "2.8.0"])
        self.assertEqual(obis.parse("1.8.0*12")[1], 12)

    def test_button(self):
        pin = Pin()
        b = Button(pin)
        evs = []
        for t in range(0, 5000, 5):
            pin.level = 0 if 100 <= t < 300 or 1000 <= t < 4500 else 1
            e = b.poll(t)
            if e:
                evs.append(e)
        self.assertEqual(evs, [SHORT, LONG])

    def test_text_picture(self):
        f = Frame()
        f.value, f.dots = field.number(-1234, -3, 3)
        f.ident = "1.7.0"
        f.unit = "kW"
        f.quadrant = 2
        f.mains = (ON, BLINK, ON)
        lines = render(f, 600)
        self.assertEqual(lines[1].split()[1:4], ["Q2", "L1", "L3"])
        self.assertTrue(lines[5].startswith("| 1.7.0"))
        self.assertEqual(len(set(len(x) for x in lines)), 1)


if __name__ == "__main__":
    unittest.main()

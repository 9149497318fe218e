"""On-MicroPython tests of tariffs: calendar, leap day, DD input codes, bad tables, registers."""

import unittest

import micropython

from mpmeter.energy.tariffs import TariffControl, TariffRegisters, TariffTable
from mpmeter.time import civil, zone

TABLE = {
    "days": {
        "work": [["00:00", 1], ["06:00", 2], ["11:30", 3], ["13:00", 2], ["22:00", 1]],
        "sat": [["00:00", 1], ["09:00", 4], ["13:00", 1]],
        "rest": [["00:00", 5]],
    },
    "seasons": [
        {"from": "01-01", "weekday": "work", "saturday": "sat", "sunday": "rest"},
        {"from": "03-01", "weekday": "sat", "saturday": "sat", "sunday": "rest",
         "holiday": "work"},
    ],
    "holidays": ["02-29", "12-25", "2026-04-03"],
}


def at(y, m, d, hh=0, mm=0, ss=0):
    return civil.seconds(y, m, d, hh, mm, ss)


class TestTariffs(unittest.TestCase):
    def test_calendar(self):
        t = TariffTable(TABLE)
        # 2024-02-28 is a Wednesday, 2024-02-29 a Thursday (fixed holiday, season 1: sunday)
        self.assertEqual(t.tariff_at(at(2024, 2, 28, 11, 29, 59)), 2)
        self.assertEqual(t.tariff_at(at(2024, 2, 28, 11, 30)), 3)
        self.assertEqual(t.tariff_at(at(2024, 2, 29, 12)), 5)
        self.assertEqual(t.tariff_at(at(2025, 2, 28, 12)), 3)       # a Friday
        self.assertEqual(t.tariff_at(at(2026, 4, 3, 12)), 3)        # one-off, season 2: work
        self.assertEqual(t.tariff_at(at(2027, 4, 2, 12)), 4)        # a Friday in season 2
        self.assertEqual(t.next_switch(at(2024, 2, 28, 11, 30)), at(2024, 2, 28, 13))
        self.assertEqual(t.next_switch(at(2024, 2, 28, 22)), at(2024, 2, 29))
        # Sunday 2024-03-03 (5) -> Monday in season 2 = "sat" profile, 1 until 09:00
        self.assertEqual(t.next_switch(at(2024, 3, 3, 8)), at(2024, 3, 4))
        self.assertEqual(t.next_switch(at(2024, 3, 4, 0)), at(2024, 3, 4, 9))

    def test_dst_local_wall_clock(self):
        z = zone.Zone(1, zone.DST_EU)
        t = TariffTable(TABLE)
        start = zone.eu_changes(2026)[0]     # Sunday 2026-03-29 01:00 UTC: 02:00 -> 03:00
        self.assertEqual(z.local(start), at(2026, 3, 29, 3))
        self.assertEqual(t.tariff_at(z.local(start)), 5)

    def test_no_allocation_within_a_day(self):
        t = TariffTable(TABLE)
        base = at(2024, 2, 28)
        t.tariff_at(base)
        t.next_switch(base + 1)
        micropython.heap_lock()
        try:
            for s in range(0, 86400, 97):
                t.tariff_at(base + s)
            for s in range(2, 6 * 3600, 101):
                t.next_switch(base + s)   # cached answer
        finally:
            micropython.heap_unlock()

    def test_dd_codes(self):
        tc = TariffControl("inputs", dd=1)
        self.assertEqual([tc.active(0, i) for i in ((0, 0), (1, 0), (0, 1), (1, 1))],
                         [1, 2, 3, 4])
        tc = TariffControl("inputs", dd=2)
        self.assertEqual([tc.active(0, i) for i in ((0, 0), (1, 0), (0, 1), (1, 1))],
                         [4, 3, 2, 1])
        tc = TariffControl("inputs", dd=14, n_tariffs=2)
        self.assertEqual([tc.active(0, i) for i in ((0, 0), (1, 0), (0, 1), (1, 1))],
                         [2, 2, 1, 1])
        with self.assertRaises(ValueError):
            TariffControl("inputs", dd=3)
        with self.assertRaises(ValueError):
            TariffControl("calendar", dd=7)
        tc = TariffControl("comms", n_tariffs=4)
        tc.set(4)
        self.assertEqual(tc.active(0), 4)

    def test_bad_tables(self):
        for path, value, field in (
                (("days", "sat"), [["00:00", 1], ["13:00", 2], ["09:00", 3]],
                 "config.tariff_table.days.sat[2]"),
                (("days", "sat"), [["00:00", 9]], "config.tariff_table.days.sat[0]"),
                (("seasons", 1, "saturday"), "weekend",
                 "config.tariff_table.seasons[1].saturday"),
                (("holidays", 1), "02-30", "config.tariff_table.holidays[1]")):
            cfg = {"days": dict(TABLE["days"]),
                   "seasons": [dict(s) for s in TABLE["seasons"]],
                   "holidays": list(TABLE["holidays"])}
            d = cfg
            for k in path[:-1]:
                d = d[k]
            d[path[-1]] = value
            try:
                TariffTable(cfg)
            except ValueError as e:
                self.assertTrue(str(e).startswith(field + ":"), str(e))
            else:
                self.fail("accepted " + field)

    def test_registers(self):
        r = TariffRegisters(4)
        tot = 0
        for k in range(100):
            r.add(k % 4 + 1, k * 7, k)
            tot += k * 7
        self.assertEqual(sum(r.a_plus), tot)
        s = r.state()
        b = TariffRegisters(4)
        b.restore(s)
        self.assertEqual(b.state(), s)
        with self.assertRaises(ValueError):
            b.restore(s[:-1])
        self.assertEqual(b.state(), s)

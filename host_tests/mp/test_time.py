"""On-MicroPython tests of meter time: calendar, EU summer time, billing stops, demand."""

import unittest

from mpmeter.logs.demand import Demand
from mpmeter.time import civil, schedule, zone


class TestTime(unittest.TestCase):
    def test_calendar(self):
        # 2024-02-29 12:34:56 UTC is 1709210096 (independently: date -u -d @1709210096)
        self.assertEqual(civil.split(1709210096), (2024, 2, 29, 12, 34, 56))
        self.assertEqual(civil.seconds(2024, 2, 29, 12, 34, 56), 1709210096)
        self.assertEqual(civil.weekday(civil.days_from_civil(2026, 11, 26)), 4)  # Thursday

    def test_eu_summer_time_2026(self):
        z = zone.Zone(1, zone.DST_EU)
        start, end = zone.eu_changes(2026)
        self.assertEqual(civil.split(start), (2026, 3, 29, 1, 0, 0))
        self.assertEqual(civil.split(end), (2026, 10, 25, 1, 0, 0))
        self.assertEqual(z.offset(start - 1), 3600)
        self.assertEqual(z.offset(start), 7200)
        self.assertEqual(z.offset(end), 3600)

    def test_billing_stop_and_demand(self):
        t = civil.seconds(2026, 1, 31, 12)
        self.assertEqual(schedule.next_stop(t, 28, 3), civil.seconds(2026, 2, 28))
        d = Demand(900)
        for s in range(1, 1801):
            d.add(t + s, 1000, 0)
        self.assertEqual(d.pmax[0], 3_600_000)

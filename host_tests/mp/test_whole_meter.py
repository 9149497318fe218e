"""On-MicroPython: the whole meter (registers, logbook, store on a file), fed by a minimal
phasor source: two days of coarse steps, a billing stop at midnight; prints the heap the
imported firmware and the meter's objects take.

It runs with the sim's heap: compiled from source on the 64-bit unix port, the whole
firmware's bytecode takes about 110 KB of heap, which an RP2040 build must keep out of
RAM (frozen modules or ROMFS, issue 7); the meter's own objects take about 30 KB."""

import gc
import os
import time
import unittest

from mpmeter.config import Config
from mpmeter.hal import Board
from mpmeter.meter import Meter
from mpmeter.storage.store import REGION_BLOCKS, Store

T0 = 1772319600            # 2026-03-01 00:00 local (CET) = 2026-02-28 23:00 UTC


class Clock:
    def __init__(self, src, t0=T0):
        self.src = src
        self.start = t0

    def now(self):
        return self.start + self.src.t

    def ticks_ms(self):
        return self.src.t * 1000

    def set(self, utc):
        self.start += utc - self.now()


class Power:
    """2.3 kW for `seconds`, in steps of at most max_s (the board.power contract)."""
    fs = 4000
    nsys = 1

    def __init__(self, seconds):
        self.t = 0
        self.end = seconds

    def read(self, max_s=1):
        if self.t >= self.end:
            return None
        n = min(max_s, self.end - self.t)
        self.t += n
        return n, [(2300.0, 0.0, 230.0, 10.0)], 50.0


class TestMeter(unittest.TestCase):
    def test_two_days_with_a_daily_stop(self):
        from boards.sim.fileflash import FileFlash

        path = "/tmp/mpmeter_mp_logbook_%d.bin" % (time.ticks_us() & 0xFFFFFF)
        try:
            gc.collect()
            free0 = gc.mem_free()
            src = Power(2 * 86400)
            board = Board("mp-test", clock=Clock(src), power=src)
            cfg = Config("162", {"billing_day": 2, "billing_interval": 1})
            m = Meter(board, cfg, None, Store(FileFlash(path, REGION_BLOCKS)))
            m.coarse = True
            gc.collect()
            print("whole meter on the heap: %d bytes of objects (meter, logbook, store)"
                  % (free0 - gc.mem_free()))
            steps = 0
            while m.step():
                steps += 1
            lb = m.logbook
            self.assertEqual(steps, 2 * 96)                 # 15-min steps, no other events
            self.assertEqual(lb.stops, 1)                   # 2 March 00:00 local
            b = list(lb.billing.snapshots())
            self.assertEqual(b[0]["a_plus"], 2300 * 24)     # one day at 2.3 kW, Wh
            self.assertEqual(b[0]["pmax"], 2300)
            self.assertEqual(len(list(lb.billing2.snapshots())), 2)   # daily values
            self.assertEqual(lb.hours_s, 2 * 86400)
            ent = list(lb.profile.entries())
            self.assertEqual(len(ent), 2 * 96 - 1)          # the first step starts it
            self.assertEqual(sum(e[2][0] for e in ent), 2300 * 48 - 575)
        finally:
            try:
                os.remove(path)
            except OSError:
                pass

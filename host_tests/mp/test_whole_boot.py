"""On-MicroPython: the meter boots at every phase of the mains cycle (80 start phases, one
frame apart), with the viper kernels, and a power-down closes a period of any length.

The first period runs from the start of sampling to the first zero crossing: 2 to 81
frames here, 0 whole ms of pulse time for the shortest. host_tests/test_short_periods.py
checks the same under CPython against the analytic truth in more detail.
"""

import gc
import os
import sys
import time
import unittest

from boards.sim import scenario as scn
from boards.sim.board import SimPin, make_board
from mpmeter.config import Config
from mpmeter.meter import Meter

PHASES = 80


def board_at(phase, seconds):
    sc = scn.validate({"start": "2026-03-01T12:00:00Z", "profile": "162", "segments": [
        {"duration_s": seconds, "phases": [{"v_rms": 230.0, "i_rms": 85.0,
                                            "v_angle_deg": phase}]}]})
    cfg = Config("162")
    b = make_board(cfg, sc, "waveform", noise=False)
    b.power_fail = SimPin("power fail")
    return cfg, b


class TestBoot(unittest.TestCase):
    def test_every_start_phase(self):
        firsts = {}
        for k in range(PHASES):
            gc.collect()
            cfg, b = board_at(360.0 * k / PHASES, 1.2)
            m = Meter(b, cfg)
            seen = []
            real = m.engine.on_period

            def on(mm, real=real, seen=seen):
                seen.append(mm.frames)
                real(mm)

            m.engine.on_period = on
            while m.step():
                m.tick(b.clock.ms())
            m.finish()
            if m.faults:
                sys.print_exception(m.last_fault[1])
            self.assertEqual(m.faults, 0, (k, m.last_fault))
            self.assertEqual(sum(seen), 4800)
            firsts[seen[0]] = k
            wh = m.registers.mwh("a_plus", False) / 1000
            self.assertTrue(abs(wh - 230.0 * 85.0 * 1.2 / 3600) < 0.01, (k, wh))
            led = m.led_p
            self.assertEqual(led.emitted + led.owed(), int(wh * 1000) // 1000)
            self.assertEqual(led.overrun, 0)
        self.assertTrue(2 in firsts and 3 in firsts, sorted(firsts))
        self.assertEqual(len(firsts), PHASES)

    def test_power_down_closes_a_period_of_any_length(self):
        from boards.sim.fileflash import FileFlash
        from mpmeter.logs import events as ev
        from mpmeter.storage.store import REGION_BLOCKS, Store

        path = "/tmp/mpmeter_mp_boot_%d.bin" % (time.ticks_us() & 0xFFFFFF)
        lengths = {}
        state = None
        try:
            for k in range(0, PHASES, 4):      # every 4th phase: the store mount is slow
                gc.collect()
                cfg, b = board_at(360.0 * k / PHASES, 1.1)
                m = Meter(b, cfg, None, Store(FileFlash(path, REGION_BLOCKS)))
                if state is not None:
                    self.assertEqual(m.registers.state(), state)
                for _ in range(51):            # the close of the first whole period, then
                    m.step()                   # the block it fell in
                lengths[m.engine._fill] = k
                b.power_fail.value(1)
                m.step()
                self.assertTrue(m.down)
                self.assertEqual(m.faults, 0, (k, m.last_fault))
                self.assertEqual(m.persist.events()[-1][1], ev.POWER_DOWN)
                state = m.registers.state()
                m.persist.store.dev.close()
        finally:
            try:
                os.remove(path)
            except OSError:
                pass
        self.assertTrue(min(lengths) <= 4, sorted(lengths))
        self.assertEqual(len(lengths), PHASES // 4)

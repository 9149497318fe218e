"""On-MicroPython tests of the record store in an RP2040-sized heap: bit rot, codec, and the
persistence of the registers (the same code as on the RP2040)."""

import gc
import time
import struct
import unittest

from mpmeter.storage.codec import pack_uints, unpack_uints
from mpmeter.storage.ramflash import RamFlash
from mpmeter.storage.records import RecordArea
from mpmeter.storage.store import Store
from mpmeter.storage.persist import Persistence
from mpmeter.energy.registers import EnergyRegisters
from mpmeter.config import Config
from mpmeter.logs import events as ev

SMALL = (("registers", 2, 256), ("events", 2, 32))


class Clock:
    t = 1782000000

    def now(self):
        return self.t


class TestBitRot(unittest.TestCase):
    def test_every_rotted_record_is_detected(self):
        for bit in range(0, 256 * 8, 61):
            dev = RamFlash(2)
            a = RecordArea(dev, 0, 2)
            a.mount()
            for v in range(1, 6):
                a.append(1, struct.pack("<Q", v))
            dev.flip(2 * 256 * 8 + bit)              # record 3 of 5
            b = RecordArea(dev, 0, 2)
            self.assertEqual(b.mount(), (0, 1))
            got = [struct.unpack("<Q", p)[0] for _q, p in b.iter(1)]
            self.assertEqual(got, [1, 2, 4, 5])


class TestCodec(unittest.TestCase):
    def test_big_ints(self):
        vals = (0, 127, 128, 2 ** 40 + 3, 10 ** 20)
        self.assertEqual(unpack_uints(pack_uints(vals)), vals)


class TestPersistence(unittest.TestCase):
    def test_saves_at_every_shown_change_and_resumes_exactly(self):
        """162 at 85 A for 20 min: 6.5167 kWh in 0.1 kWh steps = 65 saves."""
        gc.collect()
        # the RAM stand-in for the flash chip first: 16 KB in one piece, which a board
        # never allocates (its flash is not in RAM)
        dev = RamFlash(4)
        cfg = Config("162")
        reg = EnergyRegisters(4000)
        p = Persistence(Store(dev, SMALL), reg, cfg, Clock())
        p.mount()
        for _ in range(1200):
            reg.integrate(230.0 * 85.0, 0.0, 4000)
            p.period()
        self.assertEqual(p.saves, 65)
        p.power_down()
        reg2 = EnergyRegisters(4000)
        p2 = Persistence(Store(dev, SMALL), reg2, cfg, Clock())
        p2.mount()
        self.assertEqual(reg2.state(), reg.state())
        self.assertEqual([e[1] for e in p2.events()], [ev.POWER_UP, ev.POWER_DOWN, ev.POWER_UP])
        self.assertFalse(p2.data_lost)


class TestProductStore(unittest.TestCase):
    def test_product_layout_on_a_file_in_an_rp2040_heap(self):
        """The product's 1016 KiB layout (flash outside the heap, as the RP2040's XIP flash
        is): mount, a year of events, saves; the store's RAM is a few buffers."""
        import os

        from boards.sim.fileflash import FileFlash
        from mpmeter.storage.store import REGION_BLOCKS

        path = "/tmp/mpmeter_mp_store_%d.bin" % (time.ticks_us() & 0xFFFFFF)
        try:
            gc.collect()
            free0 = gc.mem_free()
            dev = FileFlash(path, REGION_BLOCKS)
            st = Store(dev)
            reg = EnergyRegisters(8000, (3000, 5))
            p = Persistence(st, reg, Config("351", {"ct": [3000, 5]}), Clock())
            p.mount()
            gc.collect()
            used = free0 - gc.mem_free()
            print("product store on the heap: %d bytes (MicroPython, 1016 KiB layout mounted)"
                  % used)
            self.assertTrue(used < 24 * 1024, used)
            for _ in range(3600):
                reg.integrate(3 * 230.0 * 6.0, 0.0, 8000)   # an hour at Imax, 1-s periods
                p.period()
            p.power_down()
            reg2 = EnergyRegisters(8000, (3000, 5))
            p2 = Persistence(Store(dev), reg2, Config("351", {"ct": [3000, 5]}), Clock())
            p2.mount()
            self.assertEqual(reg2.state(), reg.state())
            # primary 2.484 MW = 690,000 mWh/s in 10 kWh steps, secondary 4140 W = 1150
            # mWh/s in 0.1 kWh steps: a save in every second where either shown value moves
            want = 0
            for t in range(1, 3601):
                if (690000 * t // 10 ** 7 != 690000 * (t - 1) // 10 ** 7
                        or 1150 * t // 10 ** 5 != 1150 * (t - 1) // 10 ** 5):
                    want += 1
            self.assertEqual(p.saves, want + 1)      # + the power-down save
            dev.close()
        finally:
            try:
                os.remove(path)
            except OSError:
                pass

"""On-MicroPython tests of the record store in an RP2040-sized heap: bit rot, codec, and the
persistence of the registers (the same code as on the RP2040)."""

import gc
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
        cfg = Config("162")
        dev = RamFlash(4)
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

"""Record store on flash: power-cut torture, bit rot, flash rules (CPython)."""

import random
import struct

import pytest
import storage_torture as T

from mpmeter.storage.ramflash import PowerCut, RamFlash
from mpmeter.storage.records import RecordArea

TORTURE_WRITES = 1000   # make test; `make torture` runs 10,000 with every erase byte


CHUNKS = 4


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_power_cut_at_every_byte_of_1000_writes(chunk):
    """Chunk c cuts power at every byte of writes c*250 .. c*250+249 (all 1000 together)."""
    per = TORTURE_WRITES // CHUNKS
    writes, cuts = T.run(per * (chunk + 1), erase_stride=16, cut_from=per * chunk)
    print("storage torture chunk %d: %d writes, %d power cuts checked" % (chunk, per, cuts))
    assert writes == per * (chunk + 1)
    assert cuts >= per * 256              # every byte of every page program


def test_bit_rot_falls_back_to_previous_good_record():
    rnd = random.Random(5)
    for trial in range(40):
        dev = RamFlash(3)
        a = RecordArea(dev, 0, 3)
        a.mount()
        n = rnd.randint(2, 60)
        slots = []
        for v in range(1, n + 1):
            slots.append(a.head)
            a.append(1, struct.pack("<Q", v))
        live = {s: v for s, v in zip(slots, range(1, n + 1), strict=True)}
        # rot 1..3 valid records (any bit of the slot, CRC included)
        hit = rnd.sample(sorted(live), rnd.randint(1, min(3, len(live))))
        for s in hit:
            dev.flip(s * 256 * 8 + rnd.randrange(256 * 8))
        b = RecordArea(dev, 0, 3)
        assert b.mount() >= len(hit), trial      # every corrupted record detected
        good = [live[s] for s in live if s not in hit]
        got = b.latest(1)
        if good:
            assert struct.unpack("<Q", got[1])[0] == max(good)
        else:
            assert got is None
        # and the store writes on after the rot
        b.append(1, struct.pack("<Q", n + 1))
        assert struct.unpack("<Q", RecordArea(dev, 0, 3).latest(1)[1])[0] == n + 1


def test_flash_rules_of_the_device():
    dev = RamFlash(2)
    with pytest.raises(ValueError, match="pages"):
        dev.writeblocks(0, bytearray(100), 0)
    with pytest.raises(ValueError, match="pages"):
        dev.writeblocks(0, bytearray(256), 128)
    dev.writeblocks(0, bytearray(b"\x0f" * 256), 0)
    dev.writeblocks(0, bytearray(b"\xf0" * 256), 0)      # bits only go 1 -> 0
    buf = bytearray(4)
    dev.readblocks(0, buf, 0)
    assert buf == b"\x00\x00\x00\x00"
    dev.cut(0, 10)
    with pytest.raises(PowerCut):
        dev.ioctl(6, 0)
    dev.readblocks(0, buf, 8)
    assert buf == b"\xff\xff\x00\x00" and dev.erase_counts == [1, 0]


def test_wear_levelling_spreads_erases():
    dev = RamFlash(4)
    a = RecordArea(dev, 0, 4)
    a.mount()
    for v in range(16 * 4 * 10):
        a.append(1, struct.pack("<Q", v))
    assert max(dev.erase_counts) - min(dev.erase_counts) <= 1
    assert sum(dev.erase_counts) == 36     # 10 passes of 64 slots; the first found all blank


def test_area_arguments_are_checked():
    dev = RamFlash(4)
    with pytest.raises(ValueError, match="2 erase blocks"):
        RecordArea(dev, 0, 1)
    with pytest.raises(ValueError, match="outside"):
        RecordArea(dev, 3, 2)
    with pytest.raises(ValueError, match="slot size"):
        RecordArea(dev, 0, 2, slot=300)
    a = RecordArea(dev, 0, 2)
    with pytest.raises(ValueError, match="capacity"):
        a.append(1, bytes(300))

"""Record store on flash: power-cut torture, bit rot, flash rules, layout (CPython)."""

import random
import struct

import pytest
import storage_torture as T
from conftest import record_figure

from mpmeter.storage import codec
from mpmeter.storage.ramflash import PowerCut, RamFlash
from mpmeter.storage.records import PAGE, RecordArea
from mpmeter.storage.store import LAYOUT, REGION_BLOCKS, Store

TORTURE_WRITES = 1000   # make test; `make torture` runs 10,000
CHUNKS = 4


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_power_cut_at_every_byte_of_1000_writes(chunk):
    """Chunk c cuts power at every byte of every program of writes c*250 .. c*250+249 (the
    four chunks together: all of the first 1000 writes), and at every 16th byte of every
    erase (twice inside each 32-byte slot; `make torture` cuts every erase byte too)."""
    per = TORTURE_WRITES // CHUNKS
    writes, cuts = T.run(per * (chunk + 1), cut_from=per * chunk, erase_every=16)
    record_figure("torture_%d" % chunk,
                  "power-cut torture (CPython): writes %4d..%4d, %6d power cuts checked, "
                  "every invariant held" % (per * chunk + 1, per * (chunk + 1), cuts))
    assert writes == per * (chunk + 1)
    assert cuts >= per * PAGE              # at least every byte of every page program


def _fill(dev, slot, n, blocks=3):
    a = RecordArea(dev, 0, blocks, slot)
    a.mount()
    slots = []
    for v in range(1, n + 1):
        slots.append(a.head)
        a.append(1, struct.pack("<Q", v))
    return a, dict(zip(slots, range(1, n + 1), strict=True))


@pytest.mark.parametrize("slot", [32, 256, 4096])
def test_bit_rot_is_detected_and_the_previous_good_record_stands(slot):
    rnd = random.Random(slot)
    blocks = 3
    rotted = 0
    for trial in range(30):
        dev = RamFlash(blocks)
        n = rnd.randint(2, min(60, blocks * 4096 // slot - 4096 // slot))
        _a, live = _fill(dev, slot, n, blocks)
        # rot 1..3 valid records (any bit of the slot, CRC and header included)
        hit = rnd.sample(sorted(live), rnd.randint(1, min(3, len(live))))
        for s in hit:
            dev.flip(s * slot * 8 + rnd.randrange(slot * 8))
        b = RecordArea(dev, 0, blocks, slot)
        torn, corrupt = b.mount()
        assert corrupt + torn == len(hit), trial     # every corrupted record detected
        rotted += len(hit)
        good = [live[s] for s in live if s not in hit]
        got = b.latest(1)
        if good and max(good) > max(live[s] for s in hit):
            assert struct.unpack("<Q", got[1])[0] == max(good)
        elif good:
            # the newest record rotted: the previous good one is found by walking the log
            assert [struct.unpack("<Q", p)[0] for _q, p in b.iter(1)] == sorted(good)
        # and the store writes on after the rot
        b.append(1, struct.pack("<Q", n + 1))
        c = RecordArea(dev, 0, blocks, slot)
        c.mount()
        assert struct.unpack("<Q", c.latest(1)[1])[0] == n + 1
    record_figure("bitrot_%04d" % slot, "bit rot, %4d-byte slots: %d records rotted in 30 "
                  "areas, %d detected, the newest good record stood each time"
                  % (slot, rotted, rotted))


def test_a_rotted_newest_record_looks_like_a_torn_write():
    """Rot in the newest record of an area cannot be told from a write cut by a power
    failure (a cut page program may leave any bits): it is counted as torn, skipped, and
    the previous record stands; rot anywhere else is reported as corrupt."""
    dev = RamFlash(2)
    a, live = _fill(dev, 256, 5, 2)
    newest = max(live, key=live.get)
    dev.flip(newest * 256 * 8 + 100)
    b = RecordArea(dev, 0, 2)
    assert b.mount() == (1, 0)
    assert b.latest(1)[1] == struct.pack("<Q", 4)
    dev.flip(min(live) * 256 * 8 + 3)
    c = RecordArea(dev, 0, 2)
    assert c.mount() == (1, 1)


def test_torn_write_is_retired_and_not_reported_again():
    dev = RamFlash(2)
    a, _live = _fill(dev, 256, 3, 2)
    dev.cut(0, 40)
    with pytest.raises(PowerCut):
        a.append(1, struct.pack("<Q", 4))
    b = RecordArea(dev, 0, 2)
    assert b.mount() == (1, 0)
    assert b.latest(1)[1] == struct.pack("<Q", 3)
    b.append(1, struct.pack("<Q", 5))          # the torn slot is zeroed, then skipped
    c = RecordArea(dev, 0, 2)
    assert c.mount() == (0, 0)
    assert [p for _q, p in c.iter(1)] == [struct.pack("<Q", v) for v in (1, 2, 3, 5)]


def test_sub_page_slots_leave_their_neighbours_alone():
    dev = RamFlash(2)
    a = RecordArea(dev, 0, 2, 32)
    a.mount()
    for v in range(20):
        a.append(v % 3, bytes([v]) * 10)
    b = RecordArea(dev, 0, 2, 32)
    b.mount()
    assert [p for _q, p in b.iter()] == [bytes([v]) * 10 for v in range(20)]
    assert [p for _q, p in b.iter(2)] == [bytes([v]) * 10 for v in range(2, 20, 3)]
    assert b.latest(1)[1] == bytes([19]) * 10
    assert b.capacity == 22                     # a 4-channel load-profile entry fits


def test_log_ring_keeps_its_depth_in_order_across_wraps():
    dev = RamFlash(3)
    a = RecordArea(dev, 0, 3, 32)
    a.mount()
    for v in range(1, 1000):
        a.append(0, struct.pack("<I", v))
        if v % 97 == 0:
            b = RecordArea(dev, 0, 3, 32)
            b.mount()
            got = [struct.unpack("<I", p)[0] for _q, p in b.iter()]
            assert got == list(range(got[0], v + 1)) and len(got) >= min(v, b.depth())
    assert a.depth() == 256
    got = [struct.unpack("<I", p)[0] for _q, p in a.iter(after=a.seq - 5)]
    assert got == [995, 996, 997, 998, 999]


def test_flash_rules_of_the_device():
    dev = RamFlash(2)
    with pytest.raises(ValueError, match="pages"):
        dev.writeblocks(0, bytearray(100), 0)
    with pytest.raises(ValueError, match="pages"):
        dev.writeblocks(0, bytearray(256), 128)
    with pytest.raises(ValueError, match="erase block"):
        dev.writeblocks(0, bytearray(512), 3840)
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


def test_every_area_programs_whole_pages_only():
    dev = RamFlash(REGION_BLOCKS)
    dev.log = []
    st = Store(dev, LAYOUT)
    st.mount()
    for name, _b, _slot in LAYOUT:
        cap = st.area(name).capacity
        for v in range(3):
            st.append(name, bytes([v]) * min(cap, 20))
    programs = [size for op, size in dev.log if op == "program"]
    assert programs and all(size % 256 == 0 for size in programs)


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
    with pytest.raises(ValueError, match="power of two"):
        RecordArea(dev, 0, 2, slot=300)
    a = RecordArea(dev, 0, 2)
    with pytest.raises(ValueError, match="capacity"):
        a.append(1, bytes(300))
    with pytest.raises(ValueError, match="kind"):
        a.append(16, b"x")
    with pytest.raises(ValueError, match="needs 254"):
        Store(RamFlash(100))


def test_layout_depths_meet_the_datasheets():
    st = Store(RamFlash(REGION_BLOCKS))
    # load profile: 162J/351B A+ at 5 min for 37 days; 4 channels at 60 min for 200 days
    assert st.depth("profile") >= 37 * 24 * 12 and st.depth("profile") >= 200 * 24
    assert st.depth("billing") >= 36                      # debiteringslogger depth 36
    assert st.area("profile").capacity >= 4 + 1 + 4 * 4   # time, status, 4 channels
    assert REGION_BLOCKS * 4096 == 1016 * 1024


def test_varint_codec_round_trips_big_ints():
    vals = (0, 1, 127, 128, 2 ** 32, 2 ** 63 + 5, 10 ** 30)
    assert codec.unpack_uints(codec.pack_uints(vals)) == vals
    assert codec.pack_uints((300,)) == b"\xac\x02"        # LEB128, as in the spec example
    with pytest.raises(ValueError, match="ends inside"):
        codec.unpack_uints(b"\x80")
    with pytest.raises(ValueError, match="negative"):
        codec.pack_uints((-1,))


def test_impossible_sequence_is_reported_as_corrupt():
    """Two valid records with the same sequence number (or numbers out of ring order)
    cannot come from this store: bit rot that kept the CRC, or a foreign writer."""
    dev = RamFlash(2)
    a = RecordArea(dev, 0, 2)
    a.mount()
    for v in range(1, 4):
        a.append(1, struct.pack("<Q", v))
    a.seq = 1                                   # the next record repeats sequence 2
    a.append(1, struct.pack("<Q", 99))
    b = RecordArea(dev, 0, 2)
    torn, corrupt = b.mount()
    assert torn == 0 and corrupt == 1


def test_first_uint_reads_only_the_head():
    assert codec.first_uint(codec.pack_uints((300, 7)) + b"\x80") == 300
    assert codec.first_uint(b"") == -1 and codec.first_uint(b"\x80\x80") == -1

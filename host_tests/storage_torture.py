"""Power-cut torture for firmware/storage/records.py (shared by pytest and `make torture`).

Workload: a register area (an increasing energy value, one record per change) and a
log area (numbered entries, one every 3rd step) on one RAM flash. For every step
(an append = possibly an erase, then a page program) the flash image is saved,
then for every device operation of that append and every byte offset of it the
power is cut there, the meter "reboots" (fresh mount) and the invariants are
checked; then the reboot must accept a new write that becomes the newest. Finally
the step is done without a cut and the workload goes on.

Invariants after each cut:
- the register never goes backwards and is either the last acknowledged value or
  the one in flight (at most the change in flight is lost, nothing unwritten appears);
- every acknowledged log entry within the guaranteed depth is readable, entries are
  in order, and none is newer than the one in flight.
"""

import struct

from mpmeter.storage.ramflash import PowerCut, RamFlash
from mpmeter.storage.records import RecordArea

REG, LOG = 1, 2
REG_BLOCKS, LOG_BLOCKS = 3, 3


def areas(dev):
    a = RecordArea(dev, 0, REG_BLOCKS)
    b = RecordArea(dev, REG_BLOCKS, LOG_BLOCKS)
    a.mount()
    b.mount()
    return a, b


def mounted(dev, state):
    """Areas with the mount result of the saved image (saves a scan per cut point)."""
    a = RecordArea(dev, 0, REG_BLOCKS)
    b = RecordArea(dev, REG_BLOCKS, LOG_BLOCKS)
    (a.seq, a.head), (b.seq, b.head) = state
    return a, b


def reg_value(area):
    top = area.latest(REG)
    return None if top is None else struct.unpack("<Q", top[1][:8])[0]


def log_ids(area):
    return [struct.unpack("<I", p[:4])[0] for _seq, p in area.records(LOG)]


def payload_reg(v):
    return struct.pack("<Q", v) + bytes(range(40))


def payload_log(i):
    return struct.pack("<I", i) + b"event %06d" % i


def check(dev, acked_reg, inflight_reg, acked_log, inflight_log, depth):
    a = RecordArea(dev, 0, REG_BLOCKS)
    b = RecordArea(dev, REG_BLOCKS, LOG_BLOCKS)
    v = reg_value(a)
    allowed = {acked_reg, inflight_reg} - {None}
    if acked_reg is None and v is None:
        pass
    elif v not in allowed:
        raise AssertionError("register %r after cut; acked %r, in flight %r"
                             % (v, acked_reg, inflight_reg))
    ids = log_ids(b)
    if ids != sorted(ids):
        raise AssertionError("log out of order: %r" % ids)
    if ids and ids[-1] not in (acked_log[-1] if acked_log else None, inflight_log):
        raise AssertionError("log entry %d appeared (acked up to %r, in flight %r)"
                             % (ids[-1], acked_log[-1] if acked_log else None, inflight_log))
    must = acked_log[-depth:] if depth else []
    missing = [i for i in must if i not in ids]
    if missing:
        raise AssertionError("acknowledged log entries lost: %r" % missing[:5])
    return a, b


def run(steps, erase_stride=1, seed_value=1000, cut_from=0):
    """Returns (writes done, cut points checked). Steps before `cut_from` run without
    cuts (so a long run can be split into chunks that check different writes)."""
    dev = RamFlash(REG_BLOCKS + LOG_BLOCKS)
    a, b = areas(dev)
    depth = b.depth()
    acked_reg = None
    acked_log = []
    value = seed_value
    cuts = 0
    writes = 0
    for step in range(steps):
        is_log = step % 3 == 2
        value += 7
        area_index = 1 if is_log else 0
        kind = LOG if is_log else REG
        data = payload_log(len(acked_log) + 1) if is_log else payload_reg(value)
        image = dev.image()
        pa, pb = areas(dev)
        state = ((pa.seq, pa.head), (pb.seq, pb.head))
        # dry run to learn the device operations of this append
        dev.log = []
        probe_a, probe_b = areas(dev)
        (probe_b if is_log else probe_a).append(kind, data)
        ops = dev.log
        dev.log = None
        for j, (op, size) in enumerate(ops if step >= cut_from else ()):
            stride = erase_stride if op == "erase" else 1
            for k in range(0, size, stride):
                dev.load(image)
                a, b = mounted(dev, state)
                dev.cut(j, k)
                try:
                    (b if is_log else a).append(kind, data)
                    raise AssertionError("no power cut at op %d byte %d" % (j, k))
                except PowerCut:
                    pass
                cuts += 1
                inflight_reg = None if is_log else value
                inflight_log = len(acked_log) + 1 if is_log else None
                check(dev, acked_reg, inflight_reg, acked_log, inflight_log, depth)
                # the rebooted meter (fresh mount) writes on: the new record is the newest
                a = RecordArea(dev, 0, REG_BLOCKS)
                a.mount()
                a.append(REG, payload_reg(value + 1))
                if reg_value(a) != value + 1:
                    raise AssertionError("write after a cut at op %d byte %d is not newest"
                                         % (j, k))
        dev.load(image)
        a, b = areas(dev)
        (b if is_log else a).append(kind, data)
        writes += 1
        if is_log:
            acked_log.append(len(acked_log) + 1)
        else:
            acked_reg = value
        check(dev, acked_reg, None, acked_log, None, depth)
        _ = area_index
    return writes, cuts

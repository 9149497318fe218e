"""Power-cut torture for the record store (shared by pytest, `make torture` and MicroPython).

Workload (a meter's writes, in a fixed mix): the energy register record (an
increasing value, every step), load-profile entries (every 3rd step), events
(every 5th) and the settings record (a 4096-byte record, every 97th), on a
Store with the product's area types and slot sizes but few blocks, so the rings
wrap and erase all the time.

For every write: the flash image is kept, then for every device operation of
that write (erases, the retiring of a torn slot, the page program) and every
byte offset of it, the power is cut there, the meter reboots (a fresh mount of
the area) and the invariants are checked; the rebooted store must then accept a
new record that becomes the newest. Finally the write is done without a cut and
the workload goes on.

Invariants after each cut:
- the register (and the settings) never go backwards: the newest is the last
  acknowledged value or the one in flight (at most the change in flight is lost,
  nothing unwritten appears);
- every acknowledged log entry within the guaranteed depth is readable, entries
  come oldest first, each is exactly what was written, and none is newer than
  the one in flight;
- a power cut is never reported as corruption (the data-lost indication is for
  bit rot, not for the cuts a meter meets every day).
"""

import struct

from mpmeter.storage.ramflash import PowerCut, RamFlash
from mpmeter.storage.store import Store

LAYOUT = (("registers", 3, 256), ("settings", 2, 4096), ("events", 2, 32), ("profile", 2, 32))
LOGS = ("events", "profile")


def blocks():
    n = 0
    for _a, b, _s in LAYOUT:
        n += b
    return n


def payload(area, n):
    """The n-th record of an area (n >= 1), recognisable and of the area's size."""
    if area == "registers":
        return struct.pack("<Q", n) + bytes(range(100))       # ~ a packed register state
    if area == "settings":
        return struct.pack("<Q", n) + b"s" * 3000
    if area == "events":
        return struct.pack("<IHii", n, 7, n, -n)
    return struct.pack("<IB", n, 0) + struct.pack("<IIII", n, 2 * n, 3 * n, 4 * n)


def number(area, p):
    n = struct.unpack_from("<Q" if area in ("registers", "settings") else "<I", p, 0)[0]
    if p != payload(area, n):
        raise AssertionError("%s: record %d does not hold what was written" % (area, n))
    return n


def plan(step):
    if step % 97 == 50:
        return "settings"
    if step % 5 == 2:
        return "events"
    if step % 3 == 1:
        return "profile"
    return "registers"


def check(store, area, acked, inflight):
    """Invariants of `area` after a mount; returns the newest number. acked: last
    acknowledged number (0 = none), inflight: the one being written."""
    a = store.area(area)
    torn, corrupt = a.mount()
    if corrupt:
        raise AssertionError("%s: a power cut reported as %d corrupt slots" % (area, corrupt))
    if area in LOGS:
        ids = [number(area, p) for _seq, p in a.iter()]
        for j in range(1, len(ids)):
            if ids[j] != ids[j - 1] + 1:
                raise AssertionError("%s: entries not consecutive: %r" % (area, ids[j - 1:j + 1]))
        last = ids[-1] if ids else 0
        if last not in (acked, inflight):
            raise AssertionError("%s: last entry %d (acked %d, in flight %d)"
                                 % (area, last, acked, inflight))
        first_needed = max(1, acked - a.depth() + 1)
        if acked and (not ids or ids[0] > first_needed):
            raise AssertionError("%s: acknowledged entries lost (have %r.., need %d..%d)"
                                 % (area, ids[:1], first_needed, acked))
    else:
        top = a.latest(0)
        v = 0 if top is None else number(area, top[1])
        if v not in (acked, inflight):
            raise AssertionError("%s: value %d after a cut (acked %d, in flight %d)"
                                 % (area, v, acked, inflight))
        last = v
    if torn and inflight == acked:
        raise AssertionError("%s: %d torn slots without a cut" % (area, torn))
    return last


def run(steps, cut_from=0, erase_every=1, report=None):
    """Returns (writes, cuts). Writes before `cut_from` run without cuts, so a long run can
    be split into chunks. Programs are cut at every byte; erases at every `erase_every`-th
    byte (1 in `make torture`; 16 in `make test`, which still cuts inside every slot)."""
    dev = RamFlash(blocks())
    st = Store(dev, LAYOUT)
    st.mount()
    acked = {"registers": 0, "settings": 0, "events": 0, "profile": 0}
    cuts = 0
    writes = 0
    image = bytearray(len(dev.mem))      # one copy, reused (fits a 192 KB MicroPython heap)
    for step in range(steps):
        area = plan(step)
        n = acked[area] + 1
        data = payload(area, n)
        if step >= cut_from:
            image[:] = dev.mem
            dev.log = []
            st.area(area).mount()
            st.append(area, data)
            ops = dev.log
            dev.log = None
            for j in range(len(ops)):
                op, size = ops[j]
                for k in range(0, size, erase_every if op == "erase" else 1):
                    dev.load(image)
                    st.area(area).mount()
                    dev.cut(j, k)
                    try:
                        st.append(area, data)
                        raise AssertionError("%s: no power cut at op %d byte %d" % (area, j, k))
                    except PowerCut:
                        pass
                    cuts += 1
                    v = check(st, area, acked[area], n)
                    # the rebooted meter writes on: its new record is the newest
                    a = st.area(area)
                    a.append(0, payload(area, v + 1))
                    a.mount()
                    top = a.latest(0)
                    if a.corrupt or a.torn or number(area, top[1]) != v + 1:
                        raise AssertionError("%s: the write after a cut at op %d byte %d is "
                                             "not the newest" % (area, j, k))
            dev.load(image)
        st.area(area).mount()
        st.append(area, data)
        acked[area] = n
        writes += 1
        check(st, area, n, n)
        if report is not None and writes % 1000 == 0:
            report(writes, cuts)
    return writes, cuts

"""Code for the emulated chip used by the store, DMA and boot tests (host_tests/test_rp2_*.py).

Sent through the raw REPL like onchip.py (rp2emu.py's onchip_source() is that file;
checks_source() here is this one). Each function prints one JSON line.

store_state(board_module)
    boots the meter's store and registers exactly as boards/pico/main.py's boot() does
    (flash.open_store, Store, mount, the configuration, Meter: registers restored) and
    prints the registers (exact (numerator, denominator) of mWh, primary and secondary),
    the store's mount ((torn, corrupt) per area), the persistence's data_lost, restored
    save, errors, the event log, the meter's faults and errors. The sampler and the
    watchdog are stopped again before it returns.

dma_trace(board_module, total_s, max_age_us=None)
    boots the meter (main.boot) and runs main.run (the loop, unchanged) for total_s of
    ticks after the loop starts; the meter's step is wrapped to check every block the
    sampler returns: its stamp follows the last one by T times (1 + blocks skipped)
    (never twice, never out of order, never a gap not counted in overruns), and once
    the engine has processed it the DMA is not writing into it and its stamp is
    unchanged (not torn). Printed: a snapshot at every period close (registers, us,
    seq, overruns, resyncs, blocks returned), the loop's gaps longer than 200 ms (the
    host's stalls), the first block's expected stamp (blocks since start), the check
    counts, faults, errors. max_age_us replaces the sampler's age rule (a test that the
    torn check sees a block the DMA is writing).

period_recorder(meter)
    wraps the engine's period callback to keep (frames, whole) of the first periods in
    meter._first_periods (the boot test: the length of the short first period).
"""

import gc
import json
import time

import machine

NAMES = ("a_plus", "a_minus", "r_plus", "r_minus")
DMA_BASE = 0x50000000
CH_WRITE_ADDR = 0x04
CALIB = 0xE000E01C


def _stop(meter, board):
    wdt = getattr(board, "wdt", None)
    if wdt is not None and hasattr(wdt, "stop"):
        wdt.stop()
    s = getattr(board, "sampler", None)
    if s is not None and hasattr(s, "close"):
        s.close()


def _regs(meter):
    reg = meter.registers
    return {"primary": dict((n, list(reg.exact(n, True))) for n in NAMES),
            "secondary": dict((n, list(reg.exact(n, False))) for n in NAMES)}


def store_state(board_module):
    from boards.pico import main as M

    meter, board, store = M.boot(board_module)
    p = meter.persist
    out = _regs(meter)
    out.update({"data_lost": p.data_lost, "restored": p.restored, "save_no": p.save_no,
                "store_errors": p.errors,
                "mount": dict((k, list(v)) for k, v in store.boot.items()),
                "events": [list(e) for e in p.events()],
                "faults": meter.faults, "errors": meter.errors})
    _stop(meter, board)
    gc.collect()
    print(json.dumps(out))


def period_recorder(meter, keep=4):
    eng = meter.engine
    first = []
    orig = eng.on_period

    def on_period(m):
        if len(first) < keep:
            first.append((m.frames, m.whole))
        orig(m)

    eng.on_period = on_period
    meter._first_periods = first
    return first


def dma_trace(board_module, total_s, max_age_us=None):
    from boards.pico import main as M

    meter, board, _store = M.boot(board_module)
    s = board.sampler
    if max_age_us is not None:
        s._max_age = max_age_us        # the negative control: a wrong age rule
    mem = machine.mem32
    reg = meter.registers
    t = s._t
    ht = s._half_t
    exp0 = s._exp                      # the first block's expected stamp (no read yet)
    waddr = DMA_BASE + 0x40 * s._dma[0].channel + CH_WRITE_ADDR
    nbytes = 2 * s._len
    # the ring's blocks by address: a returned block is one of them
    addrs = {}
    import uctypes

    for b in s._blocks:
        addrs[id(b)] = uctypes.addressof(b)
    ck = {"returned": 0, "order_bad": 0, "torn": 0, "stamp_changed": 0,
          "last_s": None, "last_over": 0, "first_s": None}
    step0 = meter.step
    read0 = s.read
    cur = [None, 0, 0]                 # block returned, its ring index, its stamp

    def read():
        b = read0()
        if b is not None:
            ck["returned"] += 1
            st = s._s
            if ck["first_s"] is None:
                ck["first_s"] = st
            last = ck["last_s"]
            if last is not None:
                skipped = s.overruns - ck["last_over"]
                d = ((st - last + 0x20000000) & 0x3FFFFFFF) - 0x20000000
                if not (t * (1 + skipped) - ht < d < t * (1 + skipped) + ht):
                    ck["order_bad"] += 1
            ck["last_s"] = st
            ck["last_over"] = s.overruns
            k = s._k - 1 if s._k > 0 else s._n - 1
            cur[0] = b
            cur[1] = k
            cur[2] = st
        else:
            cur[0] = None
        return b

    s.read = read

    def step():
        r = step0()
        b = cur[0]
        if r and b is not None:
            a = addrs[id(b)]
            w = mem[waddr] & 0xFFFFFFFF
            if a <= w < a + nbytes:
                ck["torn"] += 1
            if (s._lists[s._so + cur[1]] & 0x3FFFFFFF) != cur[2]:
                ck["stamp_changed"] += 1
            cur[0] = None
        return r

    meter.step = step
    snaps = []
    gaps = []
    st = {"key": None, "last": None}
    t0 = time.ticks_ms()

    def key():
        return tuple(reg.exact(n, False)[0] for n in NAMES)

    def snap():
        return {"reg": dict((n, list(reg.exact(n, False))) for n in NAMES),
                "us": time.ticks_us(), "seq": s.seq, "overruns": s.overruns,
                "resyncs": getattr(s, "resyncs", 0), "returned": ck["returned"]}

    def stop(_it):
        now = time.ticks_us()
        last = st["last"]
        if last is not None and time.ticks_diff(now, last) > 200000:
            gaps.append((last, now))
        st["last"] = now
        k = key()
        if k != st["key"]:
            st["key"] = k
            snaps.append(snap())
        return time.ticks_diff(time.ticks_ms(), t0) >= total_s * 1000

    M.run(meter, board, stop=stop)
    end = snap()
    out = {"snaps": snaps, "gaps": gaps, "end": end, "exp0": exp0, "t_us": t,
           "nblocks": s._n, "max_age_us": s._max_age, "fs": s.fs,
           "cycles_cfg": meter.cfg.cycles, "faults": meter.faults, "errors": meter.errors,
           "errors_ui": getattr(meter, "errors_ui", 0), "first_s": ck["first_s"],
           "last_s": ck["last_s"], "returned": ck["returned"], "order_bad": ck["order_bad"],
           "torn": ck["torn"], "stamp_changed": ck["stamp_changed"]}
    meter.power_down()
    _stop(meter, board)
    gc.collect()
    print(json.dumps(out))

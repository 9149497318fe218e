"""Code for the emulated chip (sent by tools/rp2emu.py): the meter as main.py runs it, measured.

meter_window(board_module, warm_s, window_s, timed) boots the meter with
boards/pico/main.py's boot() and runs main.run() (the loop itself, unchanged) with a
stop() that watches the registers: after warm_s it waits for a measurement period to
close (a register changes), snapshots, lets window_s pass, waits for the next period to
close and snapshots again. Printed as one JSON line: the registers' exact values
(secondary, (numerator, denominator) of mWh) at both snapshots, the periods that closed
between them, the time between them (time.ticks_us), the executed-cycle counter
(SYST_CALIB, answered by the harness) at both, the sampler's blocks and overruns, the
meter's faults and errors, the heap free, and with timed=True the cycles of every
step() that returned a block (main.run is given a meter whose step is wrapped).
"""

import gc
import json
import time

import machine

CALIB = 0xE000E01C          # SYST_CALIB: the harness's executed-cycle counter
NAMES = ("a_plus", "a_minus", "r_plus", "r_minus")


def cycles():
    return machine.mem32[CALIB] & 0xFFFFFFFF


def snapshot(meter):
    reg = meter.registers
    s = meter.board.sampler
    return {"reg": dict((n, list(reg.exact(n, False))) for n in NAMES),
            "us": time.ticks_us(), "cyc": cycles(), "seq": s.seq,
            "overruns": s.overruns, "resyncs": getattr(s, "resyncs", 0)}


def meter_window(board_module, warm_s, window_s, timed=False):
    from boards.pico import main as M

    t_boot = cycles()
    us_boot = time.ticks_us()
    meter, board, _store = M.boot(board_module)
    boot = {"cycles": (cycles() - t_boot) & 0xFFFFFFFF,
            "us": time.ticks_diff(time.ticks_us(), us_boot)}
    reg = meter.registers
    steps = []
    if timed:
        step0 = meter.step

        def step():
            c = cycles()
            r = step0()
            if r:
                steps.append((cycles() - c) & 0xFFFFFFFF)
            return r

        meter.step = step
    st = {"phase": 0, "key": None, "a": None, "b": None, "periods": 0}
    t0 = time.ticks_ms()

    def key():
        return tuple(reg.exact(n, False)[0] for n in NAMES)

    def stop(_it):
        ph = st["phase"]
        if ph == 0:
            if time.ticks_diff(time.ticks_ms(), t0) >= warm_s * 1000:
                st["phase"] = 1
                st["key"] = key()
            return False
        k = key()
        if k == st["key"]:
            return False
        st["key"] = k                      # a measurement period closed
        if ph == 1:
            st["a"] = snapshot(meter)
            st["phase"] = 2
            del steps[:]
            gc.collect()
            return False
        st["periods"] += 1
        if time.ticks_diff(time.ticks_us(), st["a"]["us"]) >= window_s * 1000000:
            st["b"] = snapshot(meter)
            return True
        return False

    M.run(meter, board, stop=stop)
    gc.collect()
    a, b = st["a"], st["b"]
    out = {"a": a, "b": b, "periods": st["periods"], "cycles_cfg": meter.cfg.cycles,
           "us": time.ticks_diff(b["us"], a["us"]),
           "cyc": (b["cyc"] - a["cyc"]) & 0xFFFFFFFF, "blocks": b["seq"] - a["seq"],
           "faults": meter.faults, "errors": meter.errors,
           "errors_ui": getattr(meter, "errors_ui", 0), "mem_free": gc.mem_free(),
           "boot": boot, "fs": board.sampler.fs,
           "frames": getattr(board.sampler, "frames", None)}
    if timed:
        out["steps"] = steps
    meter.power_down()
    wdt = getattr(board, "wdt", None)
    if wdt is not None and hasattr(wdt, "stop"):
        wdt.stop()
    print(json.dumps(out))

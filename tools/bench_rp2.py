"""`make bench`, emulator part: CPU and heap of the frozen images on the emulated RP2040.

For the 162 (build/firmware/pico) and the 351 (build/firmware/pico_ads131m08 with the
harness's ADS131M08), each at steady load (230 V, 5 A, PF 0.5 L; the 351 balanced on
three phases):
  boot       emulated time and executed cycles of boards/pico/main.py's boot()
  step       cycles per block of meter.step() (median, mean, max: the max is a period
             close with its register and log work), and the metrology's share of the
             core (the steps' cycles over the window's elapsed cycles)
  whole      executed over elapsed cycles of the unchanged loop (main.run: metrology,
             registers, pulses, display, button, optical port idle, watchdog; USB CDC
             connected) over STEADY_S seconds, and its heap free after EMU_MINUTES
             minutes of emulated running (default 10; 60 for the hour of the issue)
Budgets (issue 14): whole meter < 10 % (162) / < 20 % (351); metrology alone < 10 % (351).
rp2040js counts Cortex-M0+ cycles with zero-wait memory: code running from flash XIP
is slower on silicon (cache misses), so these are lower bounds. Figures only.
"""

import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
for _p in (ROOT, os.path.join(ROOT, "host_tests", "compat")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import rp2emu  # noqa: E402

STEADY_S = float(os.environ.get("EMU_STEADY_S", "60"))
MINUTES = float(os.environ.get("EMU_MINUTES", "10"))
CYCLE_HZ = 125e6

HEAP = "import gc\na = gc.mem_free()\ngc.collect()\nprint(a, gc.mem_free())\n"


def new_chip(board):
    uf2 = os.path.join(ROOT, "build", "firmware", board, "firmware.uf2")
    why = rp2emu.missing(uf2)
    if why:
        return None, why
    if board == "pico":
        c = rp2emu.Chip(uf2)
        c.boot()
        c.analog(**rp2emu.pico_analog(230.0, 5.0, 60.0))
    else:
        c = rp2emu.Chip(uf2, device="ads131m08")
        c.boot()
        from boards.pico_ads131m08.board import FRONT_END

        c.afe(**rp2emu.ads131m08_afe(FRONT_END, phi_deg=60.0))
    return c, None


def steps(board, module, block_ms):
    c, why = new_chip(board)
    if c is None:
        print("%s: skipped: %s" % (board, why))
        return None
    with c:
        code = rp2emu.onchip_source() + "import %s as _bm\nmeter_window(_bm, 2.0, %r, True)\n" % (
            module, 10.0)
        r = c.exec_json(code, 60000)
    s = r["steps"]
    busy = sum(s) / (r["us"] * CYCLE_HZ / 1e6) * 100
    print("%s boot: %.0f ms emulated, %.1f M cycles" % (board, r["boot"]["us"] / 1000,
                                                     r["boot"]["cycles"] / 1e6))
    print("%s step: %d blocks of %d ms; cycles per block median %d (%.2f %% of a block), "
          "mean %d, max %d; metrology %.2f %% of the core"
          % (board, len(s), block_ms, statistics.median(s),
             statistics.median(s) / (block_ms * CYCLE_HZ / 1000) * 100,
             statistics.mean(s), max(s), busy))
    return busy


def whole(board, module):
    c, why = new_chip(board)
    if c is None:
        print("%s: skipped: %s" % (board, why))
        return
    with c:
        c.start(rp2emu.meter_loop(module))
        c.run(ms=3000)
        a = c.status()
        t = time.time()
        c.run(ms=STEADY_S * 1000)
        b = c.status()
        load = (b["executed"] - a["executed"]) / ((b["ns"] - a["ns"]) / 8) * 100
        print("%s whole meter: %.2f %% of the core over %.0f s (%.1f M cycles/s); "
              "emulated %.1fx real time" % (board, load, STEADY_S,
                                            (b["executed"] - a["executed"]) / STEADY_S / 1e6,
                                            STEADY_S / max(time.time() - t, 1e-9)))
        left = MINUTES * 60 - STEADY_S - 3
        if left > 0:
            c.run(ms=left * 1000)
        c.write("\x03")
        try:
            c.result(10000)
        except rp2emu.EmuError:
            pass                       # the KeyboardInterrupt's traceback
        before, free = c.exec(HEAP).split()
        print("%s heap after %.0f emulated minutes: %s bytes free after a collection "
              "(%s before it: gc.threshold(-1) lets garbage fill the heap)"
              % (board, MINUTES, free, before))


def main():
    print("emulated RP2040 (rp2040js 1.4.1, 125 MHz, zero-wait memory)")
    steps("pico", "boards.pico.board", 20)
    whole("pico", "boards.pico.board")
    steps("pico_ads131m08", "boards.pico_ads131m08.board", 40)
    whole("pico_ads131m08", "boards.pico_ads131m08.board")
    return 0


if __name__ == "__main__":
    sys.exit(main())

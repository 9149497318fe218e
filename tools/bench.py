"""`make bench`: metrology figures under the MicroPython unix port, plus the static M0+ count.

Runs tools/bench_mp.py on the real MicroPython (RP2040-sized heap) with the default
measurement period (50 cycles) and with 10-cycle periods for comparison, then
tools/m0cycles.py (needs arm-none-eabi-objdump), then tools/bench_store.py (record
store: flash endurance at maximum load in the simulator, and throughput) under
the MicroPython unix port with a 2 MB heap (its RAM flash model is the whole
1016 KiB region), tools/bench_display.py (time per full redraw of each
display renderer), tools/bench_rp2.py (the frozen images on the emulated RP2040: CPU
load, cycles per block, heap, boot; needs make firmware and make rp2emu). Figures
only: nothing here fails on a slow machine.
"""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)


def main():
    env = dict(os.environ, MICROPYPATH=".frozen:.")
    mp = os.path.join(BIN, "micropython")
    for cycles in ("50", "10"):
        print("\n## measurement period %s cycles\n" % cycles, flush=True)
        subprocess.run([mp, "-X", "heapsize=192k", "tools/bench_mp.py", cycles], cwd=ROOT,
                       env=env, check=True)
    print("\n## static Cortex-M0+ count (mpy-cross -march=armv6m)\n", flush=True)
    subprocess.run([sys.executable, "tools/m0cycles.py"], cwd=ROOT, check=True)
    print("\n## record store (endurance and throughput)\n", flush=True)
    subprocess.run([mp, "-X", "heapsize=2m", "tools/bench_store.py"], cwd=ROOT, env=env,
                   check=True)
    print("\n## display redraw costs\n", flush=True)
    subprocess.run([mp, "-X", "heapsize=2m", "tools/bench_display.py"], cwd=ROOT, env=env,
                   check=True)
    print("\n## the frozen images on the emulated RP2040 (CPU, heap, boot)\n", flush=True)
    subprocess.run([sys.executable, "tools/bench_rp2.py"], cwd=ROOT, check=True)
    print("\n## a simulated year (phasor, coarse steps, store on a file)\n", flush=True)
    subprocess.run([sys.executable, "tools/bench_year.py"], cwd=ROOT, check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

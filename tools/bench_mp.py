"""Metrology benchmark, run under the MicroPython unix port (tools/bench.py starts it).

Prints samples per second through each kernel (viper vs the plain-Python twin),
the whole metrology path per frame for the 351 (3 systems + neutral, 8 channels
at 8 kSa/s) and the 162 on the RP2040 ADC, and an RP2040 estimate: the two loops
measured on a real RP2040 in shared/reference/rp2040-measurements.md (viper ptr16
three-product loop: 142 cycles/sample; bytecode loop: 3136 cycles/sample) are
re-run here, and their ratio to this host scales our viper and bytecode times.
"""

import array
import math
import sys
import time

import micropython

sys.path.append("")
from mpmeter.metrology import kernels as K  # noqa: E402
from mpmeter.metrology.engine import Engine  # noqa: E402

RP2040_HZ = 125_000_000
CYCLES = int(sys.argv[1]) if len(sys.argv) > 1 else 50


def now_us():
    return time.ticks_us()


def since(t0):
    return time.ticks_diff(time.ticks_us(), t0)


def best(fn, reps=9):
    b = None
    for _ in range(reps):
        t0 = now_us()
        fn()
        dt = since(t0)
        b = dt if b is None or dt < b else b
    return b


# -- the reference loops of rp2040-measurements.md ----------------------------------
@micropython.viper
def ref_viper_3sums(buf: ptr16, n: int, out: ptr32):
    svv = 0
    sii = 0
    svi = 0
    k = 0
    while k < n:
        v = ((buf[2 * k] ^ 0x8000) - 0x8000)
        i = ((buf[2 * k + 1] ^ 0x8000) - 0x8000)
        svv += v * v
        sii += i * i
        svi += v * i
        k += 1
    out[0] = svv
    out[1] = sii
    out[2] = svi


def ref_bytecode_3sums(buf, n):
    svv = sii = svi = 0
    for k in range(n):
        v = buf[2 * k]
        i = buf[2 * k + 1]
        svv += v * v
        sii += i * i
        svi += v * i
    return svv, sii, svi


def sine_block(frames, stride, chans, amp, fs=8000, f=50.0, bias=0):
    b = array.array("h", [bias] * (frames * stride))
    for n in range(frames):
        for c in chans:
            b[n * stride + c] = bias + int(amp * math.sin(2 * math.pi * f * n / fs + c))
    return b


class BenchSampler:
    def __init__(self, fs, frames, stride, systems, neutral, blocks):
        self.fs, self.frames, self.stride = fs, frames, stride
        self.systems, self.neutral = systems, neutral
        self.blocks = blocks
        self.k = 0

    def read(self):
        self.k += 1
        return self.blocks[self.k % len(self.blocks)]


def main():
    print("mpmeter metrology benchmark (MicroPython %s, %s)"
          % (".".join(str(x) for x in sys.implementation.version[:3]), sys.platform))
    out = array.array("i", [0] * 3)
    n250 = 250
    blk = sine_block(n250, 2, (0, 1), 1500, bias=0)
    reps = 400
    t_v = best(lambda: [ref_viper_3sums(blk, n250, out) for _ in range(reps)]) / (reps * n250)
    t_b = best(lambda: [ref_bytecode_3sums(blk, n250) for _ in range(40)]) / (40 * n250)
    scale_v = 142 / t_v     # RP2040 cycles per host-us, for viper code
    scale_b = 3136 / t_b    # ... for bytecode
    print("reference loops on this host: viper %.4f us/sample, bytecode %.3f us/sample"
          % (t_v, t_b))
    print("  -> RP2040 scale: viper %.0f cycles/host-us, bytecode %.0f cycles/host-us"
          % (scale_v, scale_b))

    rows = []
    for name, frames, stride in (("ads131m08 block 320x8", 320, 8), ("rp2040 block 80x2", 80, 2)):
        cur = sine_block(frames, stride, range(stride), 12000)
        par = array.array("i", [frames, stride, 0, stride - 1, 0, 0, frames // 4])
        acc = array.array("i", [0] * K.ACC_WORDS)
        reps = 200
        tv = best(lambda: [K._accumulate(cur, cur, 0, frames, par, acc)
                           for _ in range(reps)]) / (reps * frames)
        tr = best(lambda: [K.ref_accumulate(cur, cur, 0, frames, par, acc)
                           for _ in range(4)], 3) / (4 * frames)
        zs = array.array("i", [0, 1000, 0, 0, 8])
        zo = array.array("i", [0] * 24)
        tz = best(lambda: [K._crossings(cur, 0, frames, stride, 0, zs, zo)
                           for _ in range(reps)]) / (reps * frames)
        tzr = best(lambda: [K.ref_crossings(cur, 0, frames, stride, 0, zs, zo)
                            for _ in range(4)], 3) / (4 * frames)
        rows.append((name, tv, tr, tz, tzr))
    print()
    print("| kernel (one system) | viper Msamples/s | plain twin Msamples/s | ratio |"
          " RP2040 est. cycles/sample |")
    print("|---|---|---|---|---|")
    for name, tv, tr, tz, tzr in rows:
        print("| accumulate, %s | %.2f | %.3f | %.0fx | %.0f |"
              % (name, 1 / tv, 1 / tr, tr / tv, tv * scale_v))
        print("| crossings, %s | %.2f | %.3f | %.0fx | %.0f |"
              % (name, 1 / tz, 1 / tzr, tzr / tz, tz * scale_v))

    # whole metrology path: engine.feed per block, periods closed every 10 cycles
    print()
    print("| whole path | host us/frame | of which kernels | RP2040 est. cycles/frame |"
          " RP2040 est. CPU at fs |")
    print("|---|---|---|---|---|")
    for label, fs, frames, stride, systems, neutral, amp, bias in (
            ("351: 3 systems + neutral, 8 ch, 8 kSa/s", 8000, 320, 8,
             [{"v": k, "i": 3 + k, "v_lsb": 400 / 32768, "i_lsb": 10 / 32768, "v_bias": 0,
               "i_bias": 0, "skew": 0.0} for k in range(3)],
             {"ch": 6, "lsb": 10 / 32768, "bias": 0}, 20000, 0),
            ("162: 1 system, RP2040 ADC, 4 kSa/s", 4000, 80, 2,
             [{"v": 0, "i": 1, "v_lsb": 450 / 2048, "i_lsb": 130 / 2048, "v_bias": 2048,
               "i_bias": 2048, "skew": 0.5}], None, 1400, 2048)):
        blocks = []
        for b in range(10):
            blk = array.array("h", [bias] * (frames * stride))
            for n in range(frames):
                t = (b * frames + n) / fs
                for c in range(stride):
                    blk[n * stride + c] = bias + int(amp * math.sin(2 * math.pi * 50 * t
                                                                    - 0.5 * (c % 3)))
            blocks.append(blk)
        smp = BenchSampler(fs, frames, stride, systems, neutral, blocks)
        eng = Engine(smp, v_nominal=230.0, cycles=CYCLES)
        nblk = 250
        t = best(lambda: [eng.feed(smp.read()) for _ in range(nblk)], 3) / (nblk * frames)
        # kernel share: accumulate per system per frame + crossings per frame
        par = array.array("i", [frames, stride, 0, 1, bias, bias, frames // 4])
        acc = array.array("i", [0] * K.ACC_WORDS)
        cur = blocks[0]
        tk = best(lambda: [K._accumulate(cur, cur, 0, frames, par, acc)
                           for _ in range(100)]) / (100 * frames)
        zs = array.array("i", [bias, 1000, 0, bias, 8])
        zo = array.array("i", [0] * 24)
        tz = best(lambda: [K._crossings(cur, 0, frames, stride, 0, zs, zo)
                           for _ in range(100)]) / (100 * frames)
        tki = best(lambda: [K._accumulate_i(cur, 0, frames, par, acc)
                            for _ in range(100)]) / (100 * frames)
        tker = len(systems) * tk + (tki if neutral else 0.0) + tz
        est = tker * scale_v + max(0.0, t - tker) * scale_b
        print("| %s | %.3f | %.3f | %.0f | %.1f %% |"
              % (label, t, tker, est, 100 * est * fs / RP2040_HZ))
    print()
    print("Budget (issue 2): the 351's path at 8 kSa/s in at most 10 % of the 125 MHz core.")


main()

"""The asm_thumb kernels against their viper kernels and plain twins, on the emulated RP2040.

On the rp2 port firmware/metrology/kernels.py compiles asm_thumb versions of accumulate
and accumulate_i, and boards/pico_ads131m08/sampler.py one of convert (the ADS131M08
frame check), and selects them (K.THUMB, S.THUMB). They promise the same words as the
viper kernels, which promise the plain twins' (host_tests/mp/test_kernels.py on the unix
port). Here all three variants run on the chip (the 3-phase image,
build/firmware/pico_ads131m08/firmware.uf2, which freezes both modules) on the same blocks:
random codes, full scale +32767 and -32768, all zero, +-32767 alternating frame by frame,
with biases 0, small, +-2048 and the int16 extremes, whole blocks and partial ranges
(start inside the quarter-cycle delay d, end before it, empty), fresh accumulators holding
nonzero pairs; convert on random, all-0xFFFF and all-zero frames with good frames, a bad
CRC (a data bit flipped after the CRC) and a bad STATUS. Every accumulator word (the
scratch word acc[12] included), every output sample, every state word and every return
value must be identical.

Printed: cycles per 320-frame, 8-channel block of each variant (the harness's executed-
cycle counter, one call, median of three), with the share of a 40 ms block at 125 MHz.
Part of `make rp2test` (MPMETER_RP2=1).
"""

import json

from rp2_support import chip, full, image

CPU_HZ = 125e6
BLOCK_CYC = CPU_HZ * 0.040

CODE = r'''
import array, gc, json, machine, random
from mpmeter.metrology import kernels as K
from boards.pico_ads131m08 import sampler as S
from boards.pico_ads131m08 import ads131m08 as A

def cycles():
    return machine.mem32[0xE000E01C] & 0xFFFFFFFF

random.seed(14)
F = 320
FAIL = []
CYC = {}

def timed(name, f):
    c = []
    for _ in range(3):
        c0 = cycles()
        f()
        c.append((cycles() - c0) & 0xFFFFFFFF)
    c.sort()
    CYC[name] = c[1]

def block(kind):
    b = array.array("h", bytearray(2 * F * 8))
    for j in range(len(b)):
        if kind == "random":
            b[j] = random.getrandbits(16) - 32768
        elif kind == "+fs":
            b[j] = 32767
        elif kind == "-fs":
            b[j] = -32768
        elif kind == "alt":
            b[j] = 32767 if (j // 8) & 1 else -32767
    return b

KINDS = ("random", "+fs", "-fs", "zero", "alt")
BLOCKS = dict((k, block(k)) for k in KINDS)
RANGES = ((0, F, 40), (0, F, 1), (0, F, F), (13, 200, 40), (50, 60, 100), (7, 7, 40),
          (39, 41, 40), (0, 40, 40))
BIASES = ((0, 0), (-5, 7), (2048, -2048), (32767, -32768))
CHANNELS = ((0, 3), (2, 5), (6, 1))
PLAIN = ((0, F, 40), (13, 200, 40))      # the slow plain twin: a subset
n_acc = n_plain = 0
par = array.array("i", bytearray(4 * 7))
r = [array.array("i", bytearray(4 * 13)) for _ in range(3)]
for kc in KINDS:
    for kp in KINDS:
        cur = BLOCKS[kc]
        prev = BLOCKS[kp]
        gc.collect()
        for a, b, d in RANGES:
            for vb, ib in BIASES:
                for v, i in CHANNELS:
                    for k, x in enumerate((F, 8, v, i, vb, ib, d)):
                        par[k] = x
                    seed = [random.getrandbits(12) for _ in range(13)]
                    plain = ((a, b, d) in PLAIN and kp in ("random", kc) and v == 0
                             and vb in (0, 2048))
                    fs = [K._accumulate_m0, K._accumulate_viper, K.ref_accumulate]
                    fi = [K._accumulate_i_m0, K._accumulate_i_viper, K.ref_accumulate_i]
                    for j in range(3 if plain else 2):
                        for k in range(13):
                            r[j][k] = seed[k]
                        fs[j](cur, prev, a, b, par, r[j])
                    ok = r[0] == r[1] and (not plain or r[1] == r[2])
                    for j in range(3 if plain else 2):
                        for k in range(13):
                            r[j][k] = seed[k]
                        fi[j](cur, a, b, par, r[j])
                    ok = ok and r[0] == r[1] and (not plain or r[1] == r[2])
                    n_acc += 1
                    n_plain += plain
                    if not ok:
                        FAIL.append(["acc", kc, kp, a, b, d, vb, ib, v, i])

cur = block("random")
prev = block("random")
par = array.array("i", [F, 8, 0, 3, 0, 0, 40])
acc = array.array("i", [0] * 13)
timed("accumulate thumb", lambda: K._accumulate_m0(cur, prev, 0, F, par, acc))
timed("accumulate viper", lambda: K._accumulate_viper(cur, prev, 0, F, par, acc))
timed("accumulate plain", lambda: K.ref_accumulate(cur, prev, 0, F, par, acc))
timed("accumulate_i thumb", lambda: K._accumulate_i_m0(cur, 0, F, par, acc))
timed("accumulate_i viper", lambda: K._accumulate_i_viper(cur, 0, F, par, acc))
timed("accumulate_i plain", lambda: K.ref_accumulate_i(cur, 0, F, par, acc))

tab = A.crc_table(array.array("H", bytearray(512)))

def frames(kind):
    raw = array.array("H", bytearray(2 * F * 10))
    for f in range(F):
        bad_status = kind == "status" and f % 7 == 3
        w = [0x04FF if bad_status else 0x00FF]
        for _ in range(8):
            w.append(0xFFFF if kind == "ones" else 0 if kind == "zeros"
                     else random.getrandbits(16))
        crc = 0xFFFF
        for x in w:
            crc = ((crc << 8) & 0xFFFF) ^ tab[((crc >> 8) ^ (x >> 8)) & 0xFF]
            crc = ((crc << 8) & 0xFFFF) ^ tab[((crc >> 8) ^ x) & 0xFF]
        w.append(crc)
        if kind == "crc" and f % 5 == 1:
            w[1 + f % 8] ^= 1 << (f % 16)
        for k in range(10):
            raw[f * 10 + k] = w[k]
    return raw

n_conv = 0
gc.collect()
outs = [array.array("h", bytearray(2 * F * 8)) for _ in range(3)]
for kind in ("random", "ones", "zeros", "crc", "status", "crc"):
    raw = frames(kind)
    gc.collect()
    st0 = [random.getrandbits(16) for _ in range(8)] + [3, 4, 0x4FFF, 0x00FF]
    r = []
    for f in (S._convert_m0, S._convert_viper, S.ref_convert):
        out = outs[len(r)]
        st = array.array("i", st0)
        bad = f(raw, out, F, tab, st)
        r.append((bad, out, list(st)))
    n_conv += 1
    if not (r[0] == r[1] == r[2]):
        FAIL.append(["convert", kind, [x[0] for x in r], [x[2] for x in r]])

raw = frames("random")
out = outs[0]
st = array.array("i", [0] * 10 + [0x4FFF, 0x00FF])
timed("convert thumb", lambda: S._convert_m0(raw, out, F, tab, st))
timed("convert viper", lambda: S._convert_viper(raw, out, F, tab, st))
timed("convert plain", lambda: S.ref_convert(raw, out, F, tab, st))
print(json.dumps({"thumb": [K.THUMB, K.THUMB_ERROR, S.THUMB, S.THUMB_ERROR],
                  "selected": [K._accumulate is K._accumulate_m0,
                               K._accumulate_i is K._accumulate_i_m0,
                               S._convert is S._convert_m0],
                  "n_acc": n_acc, "n_plain": n_plain, "n_conv": n_conv, "fail": FAIL[:3],
                  "n_fail": len(FAIL),
                  "cyc": CYC}))
'''


@full
def test_thumb_kernels_match_viper_and_plain_on_chip():
    uf2 = image("pico_ads131m08")
    with chip(uf2) as c:
        res = json.loads([ln for ln in c.exec(CODE, 600000).splitlines() if ln.strip()][-1])
    print()
    for name, cyc in sorted(res["cyc"].items()):
        print("%-20s %9d cycles per 320-frame block (%.2f %% of a 40 ms block)"
              % (name, cyc, 100 * cyc / BLOCK_CYC))
    print("compared: %d accumulate / accumulate_i cases (thumb = viper; = plain in %d of "
          "them), %d convert blocks (thumb = viper = plain)"
          % (res["n_acc"], res["n_plain"], res["n_conv"]))
    assert res["thumb"] == [True, None, True, None], res["thumb"]
    assert res["selected"] == [True, True, True]
    assert res["n_fail"] == 0, res["fail"]
    assert res["n_acc"] == 5 * 5 * 8 * 4 * 3 and res["n_conv"] == 6
    assert res["n_plain"] == (1 + 4 * 2) * 2 * 2
    cyc = res["cyc"]
    assert cyc["accumulate thumb"] < cyc["accumulate viper"] / 3
    assert cyc["convert thumb"] < cyc["convert viper"] / 3

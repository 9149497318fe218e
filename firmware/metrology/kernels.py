"""Metrology hot-path kernels: viper sample-block sums and zero-crossing search, with plain twins.

This module imports nothing from the firmware, so it can be copied alone to an
RP2040 and benchmarked (tools/bench.py does the same on the unix port).

Block layout: array('h'), frame-interleaved: sample of channel c in frame n is
buf[n * stride + c]. ptr16 loads are zero-extended by viper, so every load is
sign-extended with ((x ^ 0x8000) - 0x8000), which is exact on 32-bit (RP2040)
and 64-bit (unix port) viper alike; `(x << 16) >> 16` is not (64-bit words).
ptr32 loads are zero-extended on the 64-bit unix port: words that may be
negative are only ever added to (stores wrap mod 2**32 on both), or hold
16-bit quantities that are sign-extended the same way as samples.

Accumulator layout (array('i'), ACC_WORDS per measuring system): six sums, each
a (hi, lo) word pair with value = hi * 65536 + lo and 0 <= lo < 65536:
    ACC_SV, ACC_SI     sum v, sum i                      (bias removed)
    ACC_SVV, ACC_SII   sum v*v, sum i*i
    ACC_SVI            sum v*i
    ACC_SQI            sum v[n-d]*i[n]  (v delayed a quarter cycle: reactive power)
    ACC_SCRATCH        one scratch word used by the fold
The pairs keep every intermediate below 2**31 on a 32-bit core (proof in the
docstring of `accumulate` and in host_tests/test_kernels.py).

Parameter layout (array('i'), PAR_WORDS per system):
    PAR_FRAMES, PAR_STRIDE, PAR_V, PAR_I, PAR_VBIAS, PAR_IBIAS, PAR_D
"""

import sys

import micropython
from micropython import const

ACC_SV = const(0)
ACC_SI = const(2)
ACC_SVV = const(4)
ACC_SII = const(6)
ACC_SVI = const(8)
ACC_SQI = const(10)
ACC_SCRATCH = const(12)
ACC_WORDS = const(13)

PAR_FRAMES = const(0)
PAR_STRIDE = const(1)
PAR_V = const(2)
PAR_I = const(3)
PAR_VBIAS = const(4)
PAR_IBIAS = const(5)
PAR_D = const(6)
PAR_WORDS = const(7)

# Bounds that keep all intermediates below 2**31 on a 32-bit core.
MAX_CALL = const(32767)     # frames per accumulate() call
MAX_PERIOD = const(65535)   # frames accumulated before the pairs are read and cleared

ZC_LEVEL = const(0)   # crossing state words (array('i'))
ZC_HYST = const(1)
ZC_ARMED = const(2)
ZC_LAST = const(3)
ZC_MAX = const(4)     # capacity of the output array, in crossings
ZC_WORDS = const(5)

VIPER = sys.implementation.name == "micropython"


@micropython.viper
def _accumulate(cur: ptr16, prev: ptr16, start: int, end: int, par: ptr32, acc: ptr32):
    frames = par[0]
    stride = par[1]
    # sign extension and bias removal in one step: x16 -> (x16 ^ 0x8000) - (0x8000 + bias)
    vb = (((par[4] & 0xFFFF) ^ 0x8000) - 0x8000) + 0x8000
    ib = (((par[5] & 0xFFFF) ^ 0x8000) - 0x8000) + 0x8000
    d = par[6]
    sv = 0
    si = 0
    wvv = 0
    hvv = 0
    wii = 0
    hii = 0
    wvi = 0
    hvi = 0
    wqi = 0
    hqi = 0
    stop = d if d < end else end
    k = start * stride + par[2]           # index of v in frame n
    di = par[3] - par[2]                  # i relative to v
    dq = (frames - d) * stride            # v[n-d] for n < d comes from the previous block
    kend = stop * stride + par[2]
    while k < kend:
        v = (cur[k] ^ 0x8000) - vb
        i = (cur[k + di] ^ 0x8000) - ib
        q = (prev[k + dq] ^ 0x8000) - vb
        sv += v
        si += i
        p = v * v
        wvv += p
        hvv += p >> 16
        p = i * i
        wii += p
        hii += p >> 16
        p = v * i
        wvi += p
        hvi += p >> 16
        p = q * i
        wqi += p
        hqi += p >> 16
        k += stride
    dq = d * stride                       # ... and from this block for n >= d
    kend = end * stride + par[2]
    while k < kend:
        v = (cur[k] ^ 0x8000) - vb
        i = (cur[k + di] ^ 0x8000) - ib
        q = (cur[k - dq] ^ 0x8000) - vb
        sv += v
        si += i
        p = v * v
        wvv += p
        hvv += p >> 16
        p = i * i
        wii += p
        hii += p >> 16
        p = v * i
        wvi += p
        hvi += p >> 16
        p = q * i
        wqi += p
        hqi += p >> 16
        k += stride
    # fold into the persistent (hi, lo) pairs; acc[12] is scratch: storing a word
    # truncates to 32 bits on every port, which makes the low sum exact (see docstring)
    x = acc[1] + (sv & 0xFFFF)
    acc[0] = acc[0] + (sv >> 16) + (x >> 16)
    acc[1] = x & 0xFFFF
    x = acc[3] + (si & 0xFFFF)
    acc[2] = acc[2] + (si >> 16) + (x >> 16)
    acc[3] = x & 0xFFFF
    acc[12] = wvv - (hvv << 16)
    lo = acc[12]
    x = acc[5] + (lo & 0xFFFF)
    acc[4] = acc[4] + (lo >> 16) + hvv + (x >> 16)
    acc[5] = x & 0xFFFF
    acc[12] = wii - (hii << 16)
    lo = acc[12]
    x = acc[7] + (lo & 0xFFFF)
    acc[6] = acc[6] + (lo >> 16) + hii + (x >> 16)
    acc[7] = x & 0xFFFF
    acc[12] = wvi - (hvi << 16)
    lo = acc[12]
    x = acc[9] + (lo & 0xFFFF)
    acc[8] = acc[8] + (lo >> 16) + hvi + (x >> 16)
    acc[9] = x & 0xFFFF
    acc[12] = wqi - (hqi << 16)
    lo = acc[12]
    x = acc[11] + (lo & 0xFFFF)
    acc[10] = acc[10] + (lo >> 16) + hqi + (x >> 16)
    acc[11] = x & 0xFFFF


_M32 = 0xFFFFFFFF


def ref_accumulate(cur, prev, start, end, par, acc, chk=None):
    """Plain-Python twin of `accumulate`, operation for operation, with 32-bit semantics.

    The w sums wrap modulo 2**32 exactly as a 32-bit core adds; `chk`, when given,
    is called with every intermediate that must NOT wrap (the 32-bit proof in the
    tests passes a function that fails if such a value leaves int32).
    """
    frames, stride, vch, ich, vb, ib, d = par[0], par[1], par[2], par[3], par[4], par[5], par[6]
    sv = si = wvv = hvv = wii = hii = wvi = hvi = wqi = hqi = 0
    for n in range(start, end):
        k = n * stride
        v = ((cur[k + vch] & 0xFFFF ^ 0x8000) - 0x8000) - vb
        i = ((cur[k + ich] & 0xFFFF ^ 0x8000) - 0x8000) - ib
        if n < d:
            q = prev[k + (frames - d) * stride + vch]
        else:
            q = cur[k + vch - d * stride]
        q = ((q & 0xFFFF ^ 0x8000) - 0x8000) - vb
        sv += v
        si += i
        pv = v * v
        wvv = (wvv + pv) & _M32
        hvv += pv >> 16
        pi = i * i
        wii = (wii + pi) & _M32
        hii += pi >> 16
        pp = v * i
        wvi = (wvi + pp) & _M32
        hvi += pp >> 16
        pq = q * i
        wqi = (wqi + pq) & _M32
        hqi += pq >> 16
        if chk is not None:
            for x in (k + vch, v, i, q, sv, si, pv, pi, pp, pq, hvv, hii, hvi, hqi):
                chk(x)
    x = acc[1] + (sv & 0xFFFF)
    y = acc[0] + (sv >> 16) + (x >> 16)
    acc[0], acc[1] = y, x & 0xFFFF
    if chk is not None:
        chk(x)
        chk(y)
    x = acc[3] + (si & 0xFFFF)
    y = acc[2] + (si >> 16) + (x >> 16)
    acc[2], acc[3] = y, x & 0xFFFF
    if chk is not None:
        chk(x)
        chk(y)
    for h, w, hs in ((4, wvv, hvv), (6, wii, hii), (8, wvi, hvi), (10, wqi, hqi)):
        lo = (w - (hs << 16)) & _M32   # the word store
        x = acc[h + 1] + (lo & 0xFFFF)
        y = acc[h] + (lo >> 16) + hs + (x >> 16)
        if chk is not None:
            chk(lo)
            chk(x)
            chk(y)
        acc[h] = y
        acc[h + 1] = x & 0xFFFF
        acc[12] = lo


def accumulate(cur, prev, start, end, par, acc):
    """Add frames [start, end) of block `cur` to one system's accumulator pairs.

    cur, prev : array('h') blocks of par[PAR_FRAMES] frames; prev is the block
                before cur (source of v[n-d] for n < d).
    par       : array('i') PAR_WORDS: frames, stride, v channel, i channel,
                v bias, i bias, d (quarter-cycle delay in frames, 0 <= d <= frames).
    acc       : array('i') ACC_WORDS, added to (never cleared here).

    Bound (32-bit core): after bias removal |v|, |i| <= 2**15, so one product
    |p| <= 2**30. Each product p = 65536 * (p >> 16) + (p & 0xFFFF) exactly. The
    kernel sums h = sum(p >> 16) (|p >> 16| <= 2**14, so |h| < 2**29 for
    MAX_CALL = 32767 frames) and w = sum(p), which is allowed to wrap: it is only
    used modulo 2**32. The low sum L = sum(p & 0xFFFF) lies in [0, 65535 * 32767],
    inside [0, 2**31), and L = (w - 65536 * h) mod 2**32, so storing that word
    (stores truncate to 32 bits on every port) and loading it back yields L
    exactly, on the 32-bit RP2040 and the 64-bit unix port alike. Sum v and sum i
    stay below 2**30. A pair's hi word grows by at most 2**14 + 1 per frame, so
    it stays below 2**31 while the pairs hold at most MAX_PERIOD (65535) frames.
    Cost per frame: 3 loads, 2 sums, 4 products with 2 adds and 1 shift each.
    """
    if VIPER:
        _accumulate(cur, prev, start, end, par, acc)
    else:
        ref_accumulate(cur, prev, start, end, par, acc)


@micropython.viper
def _accumulate_i(cur: ptr16, start: int, end: int, par: ptr32, acc: ptr32):
    stride = par[1]
    ich = par[3]
    ib = ((par[5] & 0xFFFF) ^ 0x8000) - 0x8000
    si = 0
    wii = 0
    hii = 0
    n = start
    while n < end:
        i = ((cur[n * stride + ich] ^ 0x8000) - 0x8000) - ib
        si += i
        p = i * i
        wii += p
        hii += p >> 16
        n += 1
    x = acc[3] + (si & 0xFFFF)
    acc[2] = acc[2] + (si >> 16) + (x >> 16)
    acc[3] = x & 0xFFFF
    acc[12] = wii - (hii << 16)
    lo = acc[12]
    x = acc[7] + (lo & 0xFFFF)
    acc[6] = acc[6] + (lo >> 16) + hii + (x >> 16)
    acc[7] = x & 0xFFFF


def ref_accumulate_i(cur, start, end, par, acc, chk=None):
    """Plain-Python twin of `accumulate_i` (32-bit semantics as ref_accumulate)."""
    stride, ich, ib = par[1], par[3], par[5]
    si = wii = hii = 0
    for n in range(start, end):
        i = ((cur[n * stride + ich] & 0xFFFF ^ 0x8000) - 0x8000) - ib
        si += i
        p = i * i
        wii = (wii + p) & _M32
        hii += p >> 16
        if chk is not None:
            for x in (i, si, p, hii):
                chk(x)
    x = acc[3] + (si & 0xFFFF)
    acc[2] = acc[2] + (si >> 16) + (x >> 16)
    acc[3] = x & 0xFFFF
    lo = (wii - (hii << 16)) & _M32
    x = acc[7] + (lo & 0xFFFF)
    acc[6] = acc[6] + (lo >> 16) + hii + (x >> 16)
    acc[7] = x & 0xFFFF
    acc[12] = lo
    if chk is not None:
        chk(lo)
        chk(acc[2])
        chk(acc[6])


def accumulate_i(cur, start, end, par, acc):
    """Current-only variant of `accumulate` for the neutral channel: sum i and sum i*i
    into the ACC_SI and ACC_SII pairs (same par layout, same bounds, a quarter of the work)."""
    if VIPER:
        _accumulate_i(cur, start, end, par, acc)
    else:
        ref_accumulate_i(cur, start, end, par, acc)


# -- asm_thumb twins of the accumulate kernels (rp2 port, Cortex-M0+) -----------------------
# The same arithmetic as _accumulate / _accumulate_i, instruction for instruction on 32-bit
# words (the viper kernels' w = sum p, h = sum (p >> 16) with an arithmetic shift, then the
# same fold), so the accumulator words come out identical, acc[12] included
# (host_tests/test_rp2_kernels.py runs the three variants on the emulated chip).
# ARMv6-M Thumb only: MULS 32x32->32 (products of two 16-bit samples fit), ADD/CMP of the
# high registers r8..r12, lr as accumulators; what MicroPython's asm_thumb does not spell
# (SXTH, UXTH, LDRSH/LDRH [Rn, Rm], ADD/CMP with a high register) is written as data(2, ..)
# with the instruction in its comment. The sums run in two passes over the frames: sv, si,
# v*v, i*i (v, i), then v*i and v[n-d]*i (v, i, q); 14 registers hold either pass.
# Why source strings: a module with @micropython.asm_thumb does not compile for the unix
# port (x64: "invalid arch", and the tests build firmware/ for it) nor import under
# CPython, so the rp2 port compiles these at import (exec: ~1 KB of machine code in the
# heap, no literal pool, so the frozen-code alignment of the viper kernels does not apply)
# and every other port keeps the viper kernels. start and end travel in acc[12] (the
# scratch word: 4 arguments at most), as start | end << 16, so end < 16384 (the wrapper
# hands longer calls to the viper kernel).
# Pieces the two sources below repeat, written once: _fold(lo, k, h) adds a block's sum
# to the (hi, lo16) pair acc[k], acc[k + 1] as the viper kernels' fold does (lo: the
# wrapping 32-bit sum in a low register; h: the sum of p >> 16 in r8 / r9, or none for
# sv and si; keep: acc[12] = lo as well, as the viper kernel leaves its scratch word);
# _P2_FRAME is one frame of pass 2 (v*i and v[n-d]*i).
def _fold(lo, k, h=None, keep=False):
    n = int(lo[1:])
    out = ""
    if h:
        out += "    mov(r0, %s)\n    lsl(r0, r0, 16)\n    sub(%s, %s, r0)\n" % (h, lo, lo)
    if keep:
        out += "    str(%s, [r1, 48])  # acc[12] = lo\n" % lo
    out += ("    data(2, 0x%04X)  # uxth r0, %s\n    ldr(r4, [r1, %d])\n"
            "    add(r4, r4, r0)  # x = acc[%d] + (lo & 0xFFFF)\n    asr(%s, %s, 16)\n"
            "    ldr(r5, [r1, %d])\n    add(r5, r5, %s)\n"
            % (0xB280 | n << 3, lo, 4 * k + 4, k + 1, lo, lo, 4 * k, lo))
    if h:
        out += "    data(2, 0x%04X)  # add r5, %s\n" % (0x4440 | (int(h[1:]) - 8) << 3 | 5, h)
    return out + ("    asr(r0, r4, 16)\n    add(r5, r5, r0)\n"
                  "    str(r5, [r1, %d])  # acc[%d] += (lo >> 16) + h + (x >> 16)\n"
                  "    data(2, 0xB2A4)  # uxth r4, r4\n"
                  "    str(r4, [r1, %d])  # acc[%d] = x & 0xFFFF\n"
                  % (4 * k, k, 4 * k + 4, k + 1))


_P2_FRAME = """    ldrh(r4, [r0, 0])
    data(2, 0xB224)  # sxth r4, r4
    data(2, 0x5E45)  # ldrsh r5, [r0, r1]
    data(2, 0x5E86)  # ldrsh r6, [r0, r2]
    data(2, 0x4464)  # add r4, r12
    data(2, 0x4475)  # add r5, lr
    data(2, 0x4466)  # add r6, r12
    mul(r6, r5)
    add(r7, r7, r6)  # wqi
    asr(r6, r6, 16)
    data(2, 0x44B1)  # add r9, r6
    mul(r4, r5)
    add(r3, r3, r4)  # wvi
    asr(r4, r4, 16)
    data(2, 0x44A0)  # add r8, r4
    data(2, 0x4450)  # add r0, r10
"""

_ACCUMULATE_THUMB = ("""
@micropython.asm_thumb
def _accumulate_thumb(r0, r1, r2, r3):
    # r0 cur, r1 prev, r2 par, r3 acc (acc[12] = start | end << 16 on entry)
    mov(r4, r8)
    mov(r5, r9)
    mov(r6, r10)
    mov(r7, r11)
    push({r4, r5, r6, r7})
    push({r0, r1, r2, r3})
    # -- pass 1: sv, si, v*v, i*i over frames [start, end) --
    ldr(r4, [r3, 48])
    data(2, 0xB2A5)  # uxth r5, r4
    lsr(r4, r4, 16)  # r5 start, r4 end
    ldr(r6, [r2, 4])  # stride
    ldr(r7, [r2, 8])  # v channel
    mul(r5, r6)
    add(r5, r5, r7)
    add(r5, r5, r5)
    add(r5, r5, r0)  # &cur[start * stride + v]
    mul(r4, r6)
    add(r4, r4, r7)
    add(r4, r4, r4)
    add(r4, r4, r0)  # &cur[end * stride + v]
    mov(r11, r4)  # END
    add(r6, r6, r6)
    mov(r10, r6)  # STRIDE (bytes)
    ldr(r1, [r2, 12])
    sub(r1, r1, r7)
    add(r1, r1, r1)  # i - v (bytes)
    ldr(r4, [r2, 16])
    data(2, 0xB224)  # sxth r4, r4
    neg(r4, r4)
    mov(r12, r4)  # -v bias
    ldr(r4, [r2, 20])
    data(2, 0xB224)  # sxth r4, r4
    neg(r4, r4)
    mov(lr, r4)  # -i bias
    mov(r0, r5)
    mov(r2, 0)
    mov(r3, 0)
    mov(r6, 0)
    mov(r7, 0)
    mov(r8, r2)
    mov(r9, r2)
    b(p1_test)
    label(p1_loop)
    ldrh(r4, [r0, 0])
    data(2, 0xB224)  # sxth r4, r4
    data(2, 0x5E45)  # ldrsh r5, [r0, r1]
    data(2, 0x4464)  # add r4, r12
    data(2, 0x4475)  # add r5, lr
    add(r2, r2, r4)  # sv
    add(r3, r3, r5)  # si
    mul(r4, r4)
    add(r6, r6, r4)  # wvv
    asr(r4, r4, 16)
    data(2, 0x44A0)  # add r8, r4
    mul(r5, r5)
    add(r7, r7, r5)  # wii
    asr(r5, r5, 16)
    data(2, 0x44A9)  # add r9, r5
    data(2, 0x4450)  # add r0, r10
    label(p1_test)
    data(2, 0x4558)  # cmp r0, r11
    blt(p1_loop)
    mov(r1, sp)
    ldr(r1, [r1, 12])  # acc
""" + _fold('r2', 0) +
     _fold('r3', 2) +
     _fold('r6', 4, 'r8') +
     _fold('r7', 6, 'r9') + """
    # -- pass 2: v*i, v[n-d]*i: frames [start, stop) from prev, then [.., end) from cur --
    mov(r0, sp)
    ldr(r1, [r0, 4])
    ldr(r2, [r0, 8])
    ldr(r3, [r0, 12])
    ldr(r0, [r0, 0])
    ldr(r4, [r3, 48])
    data(2, 0xB2A5)  # uxth r5, r4
    lsr(r4, r4, 16)  # r5 start, r4 end
    ldr(r6, [r2, 24])  # d
    cmp(r6, r4)
    bge(p2_stop)
    mov(r4, r6)
    label(p2_stop)
    # r4 stop = min(d, end)
    ldr(r6, [r2, 4])  # stride
    ldr(r7, [r2, 8])  # v channel
    mul(r5, r6)
    add(r5, r5, r7)
    add(r5, r5, r5)
    add(r5, r5, r0)  # &cur[start * stride + v]
    mul(r4, r6)
    add(r4, r4, r7)
    add(r4, r4, r4)
    add(r4, r4, r0)
    mov(r11, r4)  # END: &cur[stop * stride + v]
    add(r6, r6, r6)
    mov(r10, r6)  # STRIDE (bytes)
    ldr(r3, [r2, 12])
    sub(r3, r3, r7)
    add(r3, r3, r3)  # i - v (bytes)
    ldr(r4, [r2, 16])
    data(2, 0xB224)  # sxth r4, r4
    neg(r4, r4)
    mov(r12, r4)  # -v bias
    ldr(r4, [r2, 20])
    data(2, 0xB224)  # sxth r4, r4
    neg(r4, r4)
    mov(lr, r4)  # -i bias
    ldr(r4, [r2, 0])  # frames
    ldr(r7, [r2, 24])  # d
    sub(r4, r4, r7)
    mul(r4, r6)  # (frames - d) * stride bytes
    sub(r1, r1, r0)
    add(r2, r4, r1)  # q offset: prev - cur + (frames - d) * stride
    mov(r1, r3)
    mov(r0, r5)
    mov(r3, 0)
    mov(r7, 0)
    mov(r8, r3)
    mov(r9, r3)
    b(p2a_test)
    label(p2a_loop)
""" + _P2_FRAME + """
    label(p2a_test)
    data(2, 0x4558)  # cmp r0, r11
    blt(p2a_loop)
    mov(r4, sp)
    ldr(r5, [r4, 8])  # par
    ldr(r2, [r4, 12])  # acc
    ldr(r4, [r4, 0])  # cur
    ldr(r6, [r2, 48])
    lsr(r6, r6, 16)  # end
    ldr(r2, [r5, 4])
    mul(r6, r2)
    ldr(r2, [r5, 8])
    add(r6, r6, r2)
    add(r6, r6, r6)
    add(r6, r6, r4)
    mov(r11, r6)  # END: &cur[end * stride + v]
    ldr(r2, [r5, 24])
    ldr(r6, [r5, 4])
    mul(r2, r6)
    add(r2, r2, r2)
    neg(r2, r2)  # q offset: -d * stride
    b(p2b_test)
    label(p2b_loop)
""" + _P2_FRAME + """
    label(p2b_test)
    data(2, 0x4558)  # cmp r0, r11
    blt(p2b_loop)
    mov(r1, sp)
    ldr(r1, [r1, 12])  # acc
""" + _fold('r3', 8, 'r8') +
     _fold('r7', 10, 'r9', keep=True) + """
    pop({r0, r1, r2, r3})
    pop({r4, r5, r6, r7})
    mov(r8, r4)
    mov(r9, r5)
    mov(r10, r6)
    mov(r11, r7)
    mov(r0, 0)
""")

_ACCUMULATE_I_THUMB = """
@micropython.asm_thumb
def _accumulate_i_thumb(r0, r1, r2):
    # r0 cur, r1 par, r2 acc (acc[12] = start | end << 16 on entry)
    push({r2})
    ldr(r4, [r2, 48])
    data(2, 0xB2A5)  # uxth r5, r4
    lsr(r4, r4, 16)  # r5 start, r4 end
    ldr(r6, [r1, 4])  # stride
    ldr(r7, [r1, 12])  # i channel
    mul(r5, r6)
    add(r5, r5, r7)
    add(r5, r5, r5)
    add(r5, r5, r0)  # &cur[start * stride + i]
    mul(r4, r6)
    add(r4, r4, r7)
    add(r4, r4, r4)
    add(r2, r4, r0)  # END: &cur[end * stride + i]
    ldr(r3, [r1, 20])
    data(2, 0xB21B)  # sxth r3, r3
    neg(r3, r3)  # -i bias
    add(r1, r6, r6)  # STRIDE (bytes)
    mov(r0, r5)
    mov(r5, 0)
    mov(r6, 0)
    mov(r7, 0)
    b(n_test)
    label(n_loop)
    ldrh(r4, [r0, 0])
    data(2, 0xB224)  # sxth r4, r4
    add(r4, r4, r3)
    add(r5, r5, r4)  # si
    mul(r4, r4)
    add(r6, r6, r4)  # wii
    asr(r4, r4, 16)
    add(r7, r7, r4)  # hii
    add(r0, r0, r1)
    label(n_test)
    cmp(r0, r2)
    blt(n_loop)
    pop({r1})  # acc
    data(2, 0xB2A8)  # uxth r0, r5
    ldr(r2, [r1, 12])
    add(r2, r2, r0)  # x = acc[3] + (lo & 0xFFFF)
    asr(r5, r5, 16)
    ldr(r3, [r1, 8])
    add(r3, r3, r5)
    asr(r0, r2, 16)
    add(r3, r3, r0)
    str(r3, [r1, 8])  # acc[2] += (lo >> 16) + h + (x >> 16)
    data(2, 0xB292)  # uxth r2, r2
    str(r2, [r1, 12])  # acc[3] = x & 0xFFFF
    mov(r0, r7)
    lsl(r0, r0, 16)
    sub(r6, r6, r0)
    str(r6, [r1, 48])  # acc[12] = lo
    data(2, 0xB2B0)  # uxth r0, r6
    ldr(r2, [r1, 28])
    add(r2, r2, r0)  # x = acc[7] + (lo & 0xFFFF)
    asr(r6, r6, 16)
    ldr(r3, [r1, 24])
    add(r3, r3, r6)
    add(r3, r3, r7)
    asr(r0, r2, 16)
    add(r3, r3, r0)
    str(r3, [r1, 24])  # acc[6] += (lo >> 16) + h + (x >> 16)
    data(2, 0xB292)  # uxth r2, r2
    str(r2, [r1, 28])  # acc[7] = x & 0xFFFF
    mov(r0, 0)
"""


def compile_thumb(src, name):
    """Compile an asm_thumb source (rp2 port only; see above) and return its function
    `name` (also used by boards/pico_ads131m08/sampler.py)."""
    g = {"micropython": micropython}
    exec(src, g)
    return g[name]


THUMB = False           # the asm_thumb kernels are in use (rp2 port)
THUMB_ERROR = None      # why not, on the rp2 port (the viper kernels run instead)
_accumulate_viper = _accumulate
_accumulate_i_viper = _accumulate_i
if VIPER and sys.platform == "rp2":
    try:
        _acc_thumb = compile_thumb(_ACCUMULATE_THUMB, "_accumulate_thumb")
        _acci_thumb = compile_thumb(_ACCUMULATE_I_THUMB, "_accumulate_i_thumb")
        THUMB = True
    except Exception as e:      # no inline assembler in this build: viper it is
        THUMB_ERROR = repr(e)


def _accumulate_m0(cur, prev, start, end, par, acc):
    """`accumulate` by the asm_thumb kernel (same arguments, same words written)."""
    if end < 16384:
        acc[12] = start | (end << 16)
        _acc_thumb(cur, prev, par, acc)
    else:
        _accumulate_viper(cur, prev, start, end, par, acc)


def _accumulate_i_m0(cur, start, end, par, acc):
    """`accumulate_i` by the asm_thumb kernel (same arguments, same words written)."""
    if end < 16384:
        acc[12] = start | (end << 16)
        _acci_thumb(cur, par, acc)
    else:
        _accumulate_i_viper(cur, start, end, par, acc)


if THUMB:
    _accumulate = _accumulate_m0          # what accumulate() and the engine call
    _accumulate_i = _accumulate_i_m0


@micropython.viper
def _crossings(cur: ptr16, start: int, end: int, stride: int, ch: int,
               st: ptr32, out: ptr32) -> int:
    level = ((st[0] & 0xFFFF) ^ 0x8000) - 0x8000
    hyst = st[1]
    armed = st[2]
    last = ((st[3] & 0xFFFF) ^ 0x8000) - 0x8000
    cap = st[4]
    cnt = 0
    n = start
    while n < end:
        s = (cur[n * stride + ch] ^ 0x8000) - 0x8000
        if armed:
            if s >= level:
                if cnt < cap:
                    out[3 * cnt] = n
                    out[3 * cnt + 1] = last
                    out[3 * cnt + 2] = s
                    cnt += 1
                armed = 0
        elif s < level - hyst:
            armed = 1
        last = s
        n += 1
    st[2] = armed
    st[3] = last
    return cnt


def ref_crossings(cur, start, end, stride, ch, st, out):
    """Plain-Python twin of `crossings`."""
    level, hyst, armed, last, cap = st[0], st[1], st[2], st[3], st[4]
    cnt = 0
    for n in range(start, end):
        s = ((cur[n * stride + ch] & 0xFFFF) ^ 0x8000) - 0x8000
        if armed:
            if s >= level:
                if cnt < cap:
                    out[3 * cnt] = n
                    out[3 * cnt + 1] = last
                    out[3 * cnt + 2] = s
                    cnt += 1
                armed = 0
        elif s < level - hyst:
            armed = 1
        last = s
    st[2] = armed
    st[3] = last
    return cnt


def crossings(cur, start, end, stride, ch, st, out):
    """Find positive-going crossings of `level` on channel `ch` in frames [start, end).

    st  : array('i') ZC_WORDS: level, hysteresis, armed flag, last sample, capacity
          (state carries across blocks). A crossing is the first sample >= level
          after the signal went below level - hysteresis.
    out : array('i') 3 * capacity: per crossing (frame n, sample n-1, sample n)
          for sub-sample interpolation outside the kernel.
    Returns the number of crossings written (at most capacity). Values are
    single samples (|s| <= 2**15), so no bound beyond the frame index applies.
    """
    if VIPER:
        return _crossings(cur, start, end, stride, ch, st, out)
    return ref_crossings(cur, start, end, stride, ch, st, out)


@micropython.viper
def _linearize(buf: ptr16, n: int, lut: ptr16):
    k = 0
    while k < n:
        buf[k] = lut[buf[k] & 0xFFF]
        k += 1


def ref_linearize(buf, n, lut):
    """Plain-Python twin of `linearize`."""
    for k in range(n):
        buf[k] = lut[buf[k] & 0xFFF]


def linearize(buf, n, lut):
    """Replace the first n 12-bit codes of `buf` in place by lut[code] (array('h') of
    4096): converter linearisation (RP2040 erratum E11) before any sum is taken."""
    if VIPER:
        _linearize(buf, n, lut)
    else:
        ref_linearize(buf, n, lut)


def pair(acc, k):
    """Value of the (hi, lo) pair at word k (Python int; outside the hot path)."""
    return acc[k] * 65536 + acc[k + 1]

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
ACC_WORDS = const(12)

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
    vch = par[2]
    ich = par[3]
    vb = ((par[4] & 0xFFFF) ^ 0x8000) - 0x8000
    ib = ((par[5] & 0xFFFF) ^ 0x8000) - 0x8000
    d = par[6]
    sv = 0
    si = 0
    vvl = 0
    vvh = 0
    iil = 0
    iih = 0
    vil = 0
    vih = 0
    qil = 0
    qih = 0
    n = start
    while n < end:
        k = n * stride
        v = ((cur[k + vch] ^ 0x8000) - 0x8000) - vb
        i = ((cur[k + ich] ^ 0x8000) - 0x8000) - ib
        m = n - d
        if m >= 0:
            q = cur[m * stride + vch]
        else:
            q = prev[(m + frames) * stride + vch]
        q = ((q ^ 0x8000) - 0x8000) - vb
        sv += v
        si += i
        p = v * v
        vvl += p & 0xFFFF
        vvh += p >> 16
        p = i * i
        iil += p & 0xFFFF
        iih += p >> 16
        p = v * i
        vil += p & 0xFFFF
        vih += p >> 16
        p = q * i
        qil += p & 0xFFFF
        qih += p >> 16
        n += 1
    # fold the call's sums into the persistent (hi, lo) pairs
    x = acc[1] + (sv & 0xFFFF)
    acc[0] = acc[0] + (sv >> 16) + (x >> 16)
    acc[1] = x & 0xFFFF
    x = acc[3] + (si & 0xFFFF)
    acc[2] = acc[2] + (si >> 16) + (x >> 16)
    acc[3] = x & 0xFFFF
    x = acc[5] + (vvl & 0xFFFF)
    acc[4] = acc[4] + (vvl >> 16) + vvh + (x >> 16)
    acc[5] = x & 0xFFFF
    x = acc[7] + (iil & 0xFFFF)
    acc[6] = acc[6] + (iil >> 16) + iih + (x >> 16)
    acc[7] = x & 0xFFFF
    x = acc[9] + (vil & 0xFFFF)
    acc[8] = acc[8] + (vil >> 16) + vih + (x >> 16)
    acc[9] = x & 0xFFFF
    x = acc[11] + (qil & 0xFFFF)
    acc[10] = acc[10] + (qil >> 16) + qih + (x >> 16)
    acc[11] = x & 0xFFFF


def ref_accumulate(cur, prev, start, end, par, acc, chk=None):
    """Plain-Python twin of `accumulate`, operation for operation.

    `chk`, when given, is called with every intermediate word; the 32-bit proof
    in the tests passes a function that fails if a value leaves int32.
    """
    frames, stride, vch, ich, vb, ib, d = par[0], par[1], par[2], par[3], par[4], par[5], par[6]
    sv = si = vvl = vvh = iil = iih = vil = vih = qil = qih = 0
    for n in range(start, end):
        k = n * stride
        v = ((cur[k + vch] & 0xFFFF ^ 0x8000) - 0x8000) - vb
        i = ((cur[k + ich] & 0xFFFF ^ 0x8000) - 0x8000) - ib
        m = n - d
        q = cur[m * stride + vch] if m >= 0 else prev[(m + frames) * stride + vch]
        q = ((q & 0xFFFF ^ 0x8000) - 0x8000) - vb
        sv += v
        si += i
        pv = v * v
        vvl += pv & 0xFFFF
        vvh += pv >> 16
        pi = i * i
        iil += pi & 0xFFFF
        iih += pi >> 16
        pp = v * i
        vil += pp & 0xFFFF
        vih += pp >> 16
        pq = q * i
        qil += pq & 0xFFFF
        qih += pq >> 16
        if chk is not None:
            for w in (k + vch, v, i, q, sv, si, pv, pi, pp, pq, vvl, vvh, iil, iih,
                      vil, vih, qil, qih):
                chk(w)
    for hi, (lo_sum, hi_sum) in enumerate(((sv, None), (si, None), (vvl, vvh), (iil, iih),
                                           (vil, vih), (qil, qih))):
        h = 2 * hi
        x = acc[h + 1] + (lo_sum & 0xFFFF)
        y = acc[h] + (lo_sum >> 16) + (x >> 16)
        if hi_sum is not None:
            y += hi_sum
        if chk is not None:
            chk(x)
            chk(y)
        acc[h] = y
        acc[h + 1] = x & 0xFFFF


def accumulate(cur, prev, start, end, par, acc):
    """Add frames [start, end) of block `cur` to one system's accumulator pairs.

    cur, prev : array('h') blocks of par[PAR_FRAMES] frames; prev is the block
                before cur (source of v[n-d] for n < d).
    par       : array('i') PAR_WORDS: frames, stride, v channel, i channel,
                v bias, i bias, d (quarter-cycle delay in frames, 0 <= d <= frames).
    acc       : array('i') ACC_WORDS, added to (never cleared here).

    Bound (32-bit core): after bias removal |v|, |i| <= 2**15, so one product
    |p| <= 2**30; p splits exactly into lo = p & 0xFFFF (0..65535) and
    hi = p >> 16 (|hi| <= 2**14). With end - start <= MAX_CALL (32767):
    lo sums <= 65535 * 32767 < 2**31, hi sums and sum v, sum i < 2**30.
    A pair's hi word grows by at most 2**14 + 1 per frame, so it stays below
    2**31 while the pairs hold at most MAX_PERIOD (65535) frames (65535 * 16385 < 2**30).
    """
    if VIPER:
        _accumulate(cur, prev, start, end, par, acc)
    else:
        ref_accumulate(cur, prev, start, end, par, acc)


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


def pair(acc, k):
    """Value of the (hi, lo) pair at word k (Python int; outside the hot path)."""
    return acc[k] * 65536 + acc[k + 1]

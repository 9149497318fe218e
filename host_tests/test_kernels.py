"""Kernel contract under CPython: twin equals a naive sum; the 32-bit bound is proven."""

import array

from hypothesis import given, settings
from hypothesis import strategies as st

from mpmeter.metrology import kernels as K

I32 = (-(2**31), 2**31 - 1)


def chk32(x):
    assert I32[0] <= x <= I32[1], "intermediate %d leaves int32" % x


def naive(cur, prev, start, end, par):
    frames, stride, vch, ich, vb, ib, d = list(par)
    out = [0] * 6
    for n in range(start, end):
        v = cur[n * stride + vch] - vb
        i = cur[n * stride + ich] - ib
        m = n - d
        q = (cur[m * stride + vch] if m >= 0 else prev[(m + frames) * stride + vch]) - vb
        for k, x in enumerate((v, i, v * v, i * i, v * i, q * i)):
            out[k] += x
    return out


def sums(acc):
    return [K.pair(acc, 2 * k) for k in range(6)]


samples = st.integers(min_value=-32768, max_value=32767)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_twin_equals_naive_sum(data):
    stride = data.draw(st.integers(1, 8))
    frames = data.draw(st.integers(1, 40))
    vch = data.draw(st.integers(0, stride - 1))
    ich = data.draw(st.integers(0, stride - 1))
    d = data.draw(st.integers(0, frames))
    cur = array.array("h", data.draw(st.lists(samples, min_size=frames * stride,
                                              max_size=frames * stride)))
    prev = array.array("h", data.draw(st.lists(samples, min_size=frames * stride,
                                               max_size=frames * stride)))
    start = data.draw(st.integers(0, frames))
    end = data.draw(st.integers(start, frames))
    par = array.array("i", [frames, stride, vch, ich, 0, 0, d])
    acc = array.array("i", [0] * K.ACC_WORDS)
    K.ref_accumulate(cur, prev, start, end, par, acc, chk32)
    assert sums(acc) == naive(cur, prev, start, end, par)
    for k in range(1, K.ACC_WORDS, 2):
        assert 0 <= acc[k] < 65536


def test_biased_12bit_codes():
    # RP2040 codes 0..4095 with bias 2048: sums are of the centred values
    cur = array.array("h", [0, 4095, 4095, 0, 2048, 2048] * 10)
    par = array.array("i", [30, 2, 0, 1, 2048, 2048, 3])
    acc = array.array("i", [0] * K.ACC_WORDS)
    K.ref_accumulate(cur, cur, 0, 30, par, acc, chk32)
    assert sums(acc) == naive(cur, cur, 0, 30, par)


def test_int32_bound_at_full_scale_for_a_whole_period():
    """The proof the unix port's 64-bit words cannot give: every intermediate of the
    kernel's arithmetic stays inside int32 at full-scale input, for the largest call
    (MAX_CALL frames) and the longest period the pairs may hold (MAX_PERIOD frames)."""
    frames = K.MAX_CALL
    for val_v, val_i in ((-32768, -32768), (-32768, 32767), (32767, -32768)):
        cur = array.array("h", [val_v, val_i] * frames)
        par = array.array("i", [frames, 2, 0, 1, 0, 0, 0])
        acc = array.array("i", [0] * K.ACC_WORDS)
        done = 0
        while done < K.MAX_PERIOD:
            n = min(frames, K.MAX_PERIOD - done)
            K.ref_accumulate(cur, cur, 0, n, par, acc, chk32)
            done += n
        assert K.pair(acc, K.ACC_SVI) == K.MAX_PERIOD * val_v * val_i
        assert K.pair(acc, K.ACC_SII) == K.MAX_PERIOD * val_i * val_i
    # and the limit is real: twice the period would overflow the hi word
    assert (2 * K.MAX_PERIOD) * (2**14 + 1) > I32[1]


def test_crossings_twin():
    buf = array.array("h", [-500, -100, 300, -600, 50])
    stt = array.array("i", [-200, 100, 0, -700, 4])
    out = array.array("i", [0] * 12)
    assert K.ref_crossings(buf, 0, 5, 1, 0, stt, out) == 2
    assert list(out[:6]) == [1, -500, -100, 4, -600, 50]

"""Measurement engine: whole-cycle periods -> calibrated Vrms, Irms, P, Q, S, PF, f.

Per block (one call of feed()), the engine runs one crossing search on the
reference voltage (system 0) and one accumulate() per measuring system, twice
when a period boundary falls inside the block. No per-sample Python. Once per
period (default 10 mains cycles, the IEC 61000-4-30 window: 200 ms at 50 Hz)
it reads the (hi, lo) pairs into Python ints, removes DC exactly in integers
(N*Sxy - Sx*Sy), and only then goes to floats (single precision on the RP2040,
which is why the integer DC removal matters: 2048**2 codes of bias would eat a
float32 mantissa).

Reactive power: sum of v[n-d]*i[n] with d = round(fs / (4 f_nominal)) frames.
The delay is 90 deg only at the nominal frequency; with the measured frequency
f the engine knows the actual angle 90 deg + delta and corrects exactly for a
sinusoid: Q = (Qm + P sin delta) / cos delta.

Phase: the current channel may be sampled later than the voltage channel (the
RP2040 round-robin: skew in frames, from the board) and the CT adds its own
phase error (calibration, in frames). Both are one time offset t; the engine
rotates (P, Q) by alpha = 2 pi f t / fs, exact for the fundamental. This is the
"fractional-sample phase correction": no interpolation in the hot path.

Creep: a system's P (Q) registers nothing while its current is below
creep_current or |P| (|Q|) is below creep_power (no-load test, EN 50470-3).
"""

import array
import math

from micropython import const

from . import kernels as K
from .calibration import Calibration

_ZC_CAP = const(8)
_TWO_PI = 6.283185307179586


def clamp_pf(x):
    """A power factor within [-1, 1]: rounding and a calibration offset can put |P| a
    hair above Vrms * Irms."""
    return 1.0 if x > 1.0 else (-1.0 if x < -1.0 else x)


class Measurement:
    """Results of one measurement period (preallocated; overwritten each period)."""

    def __init__(self, nsys):
        self.n = nsys
        self.vrms = [0.0] * nsys
        self.irms = [0.0] * nsys
        self.p = [0.0] * nsys    # W, creep-gated, what the registers receive
        self.q = [0.0] * nsys    # var
        self.s = [0.0] * nsys    # VA = Vrms * Irms
        self.pf = [0.0] * nsys
        self.p_total = 0.0
        self.q_total = 0.0
        self.s_total = 0.0
        self.pf_total = 0.0
        self.freq = 0.0          # Hz, 0.0 when no voltage
        self.i_neutral = 0.0
        self.frames = 0          # period length in frames (energy = P * frames / fs)
        self.whole = False       # period bounded by zero crossings on both ends
        self.count = 0           # periods since start


class Engine:
    def __init__(self, sampler, cals=None, f_nominal=50, cycles=10, creep_current=0.0,
                 creep_power=0.0, v_nominal=230.0, on_period=None):
        self.fs = sampler.fs
        self.frames = sampler.frames
        self.stride = sampler.stride
        self.systems = sampler.systems
        n = len(self.systems)
        self.nsys = n
        self.cals = cals if cals is not None else [Calibration() for _ in range(n)]
        if len(self.cals) != n:
            raise ValueError("calibration: %d systems expected, got %d" % (n, len(self.cals)))
        self.f_nominal = f_nominal
        self.cycles = cycles
        self.creep_current = creep_current
        self.creep_power = creep_power
        self.on_period = on_period
        self.d = int(self.fs / (4 * f_nominal) + 0.5)
        if not 0 < self.d <= self.frames:
            raise ValueError("block of %d frames shorter than a quarter cycle" % self.frames)
        self.max_frames = min(K.MAX_PERIOD, 2 * cycles * self.fs // f_nominal)
        self.m = Measurement(n)
        # the kernels themselves, not their dispatching wrappers (one call less per block)
        self._accf = K._accumulate if K.VIPER else K.ref_accumulate
        self._xing = K._crossings if K.VIPER else K.ref_crossings
        self._accif = K._accumulate_i if K.VIPER else K.ref_accumulate_i
        self._lin = K._linearize if K.VIPER else K.ref_linearize
        # a converter with a linearisation table (RP2040 ADC) hands codes through it first;
        # the sampler's systems then describe the linearised values
        self._lut = getattr(sampler, "lut", None)
        self._par = []
        self._acc = []
        for sy in self.systems:
            self._par.append(array.array("i", [self.frames, self.stride, sy["v"], sy["i"],
                                               sy["v_bias"], sy["i_bias"], self.d]))
            self._acc.append(array.array("i", [0] * K.ACC_WORDS))
        nt = sampler.neutral if hasattr(sampler, "neutral") else None
        self._neutral = nt
        if nt is not None:
            s0 = self.systems[0]
            self._npar = array.array("i", [self.frames, self.stride, s0["v"], nt["ch"],
                                           s0["v_bias"], nt["bias"], self.d])
            self._nacc = array.array("i", [0] * K.ACC_WORDS)
        s0 = self.systems[0]
        self._vch = s0["v"]
        peak = int(v_nominal * 1.4142 / s0["v_lsb"])
        self._zst = array.array("i", [s0["v_bias"], max(2, peak // 10), 0, s0["v_bias"], _ZC_CAP])
        self._zout = array.array("i", [0] * (3 * _ZC_CAP))
        self._dc_v = [0.0] * n    # DC (bias-removed codes) of the last whole period
        self._dc_i = [0.0] * n
        self._prev = None
        self._fill = 0            # frames of the open period before the current block
        self._open_fr = -1        # sub-frame fraction (1/65536) of the crossing that opened
                                  # the period (-1: it did not open on a crossing)
        self._ncross = 0          # crossings since the period opened on a crossing
        self._freq = 0.0

    # -- hot path: once per block ------------------------------------------------------
    def feed(self, cur):
        """Consume one block; closes (and reports) every period that ends inside it.

        Between period closes this allocates nothing (small ints only, no range, no
        float): host_tests/mp/test_engine.py runs it under heap_lock.
        """
        frames = self.frames
        if self._lut is not None:
            self._lin(cur, frames * self.stride, self._lut)
        prev = self._prev if self._prev is not None else cur
        zst = self._zst
        zout = self._zout
        cnt = self._xing(cur, 0, frames, self.stride, self._vch, zst, zout)
        seg = 0
        k = 0
        while k < cnt:
            c = zout[3 * k]
            s0 = zout[3 * k + 1]
            s1 = zout[3 * k + 2]
            k += 1
            fr = ((zst[0] - s0) << 16) // (s1 - s0) if s1 != s0 else 0  # 0..65536
            if self._open_fr < 0:
                self._accumulate(cur, prev, seg, c)
                self._close(self._fill + c, -1)
                self._fill = -c
                seg = c
                self._open_fr = fr
                self._ncross = 0
            else:
                self._ncross += 1
                if self._ncross >= self.cycles:
                    self._accumulate(cur, prev, seg, c)
                    self._close(self._fill + c, fr)
                    self._fill = -c
                    seg = c
                    self._open_fr = fr
                    self._ncross = 0
        self._accumulate(cur, prev, seg, frames)
        self._prev = cur
        self._fill += frames
        if self._fill >= self.max_frames:
            # no voltage (or no crossings): close on time so energy keeps flowing
            self._close(self._fill, -1)
            self._fill = 0
            self._open_fr = -1
            self._freq = 0.0

    def flush(self):
        """Close the open period now (end of a simulation, orderly power-down)."""
        if self._fill > 0:
            self._close(self._fill, -1)
            self._fill = 0
            self._open_fr = -1

    def _accumulate(self, cur, prev, a, b):
        if b <= a:
            return
        acc = self._accf
        par = self._par
        sums = self._acc
        s = 0
        while s < self.nsys:
            acc(cur, prev, a, b, par[s], sums[s])
            s += 1
        if self._neutral is not None:
            self._accif(cur, a, b, self._npar, self._nacc)

    # -- once per period -------------------------------------------------------------
    def _close(self, n, fr):
        """Report the period of n frames that ends now; fr >= 0: it ends on a crossing
        with that sub-frame fraction (1/65536), and began on one (whole cycles)."""
        if n <= 0:
            return
        m = self.m
        whole = fr >= 0 and self._open_fr >= 0
        if whole:
            # crossing times: open at -1 + open_fr/65536, close at n - 1 + fr/65536
            self._freq = self._ncross * self.fs / (n + (fr - self._open_fr) / 65536)
        f = self._freq if self._freq > 0 else float(self.f_nominal)
        w = _TWO_PI * f / self.fs                      # rad per frame
        delta = w * self.d - _TWO_PI / 4
        sd = math.sin(delta)
        cd = math.cos(delta)
        nn = n * n
        pt = qt = st = 0.0
        for s in range(self.nsys):
            acc = self._acc[s]
            sv = K.pair(acc, K.ACC_SV)
            si = K.pair(acc, K.ACC_SI)
            if whole:
                cvv = (n * K.pair(acc, K.ACC_SVV) - sv * sv) / nn
                cii = (n * K.pair(acc, K.ACC_SII) - si * si) / nn
                cvi = (n * K.pair(acc, K.ACC_SVI) - sv * si) / nn
                cqi = (n * K.pair(acc, K.ACC_SQI) - sv * si) / nn
                self._dc_v[s] = sv / n
                self._dc_i[s] = si / n
            else:
                mv = self._dc_v[s]
                mi = self._dc_i[s]
                cvv = K.pair(acc, K.ACC_SVV) / n - 2 * mv * sv / n + mv * mv
                cii = K.pair(acc, K.ACC_SII) / n - 2 * mi * si / n + mi * mi
                cvi = K.pair(acc, K.ACC_SVI) / n - (mv * si + mi * sv) / n + mv * mi
                cqi = K.pair(acc, K.ACC_SQI) / n - (mv * si + mi * sv) / n + mv * mi
            for k in range(K.ACC_WORDS):
                acc[k] = 0
            sy = self.systems[s]
            cal = self.cals[s]
            kv = sy["v_lsb"] * cal.v_gain
            ki = sy["i_lsb"] * cal.i_gain
            vr = math.sqrt(cvv) * kv if cvv > 0 else 0.0
            ir2 = cii * ki * ki - cal.i_offset * cal.i_offset
            ir = math.sqrt(ir2) if ir2 > 0 else 0.0
            pm = cvi * kv * ki
            qm = (cqi * kv * ki + pm * sd) / cd
            ph = cal.phase
            if cal.points:
                g, dph = cal.at(ir)
                ir *= g
                pm *= g
                qm *= g
                ph += dph
            a = w * (sy["skew"] + ph)
            ca = math.cos(a)
            sa = math.sin(a)
            p = pm * ca - qm * sa + cal.p_offset
            q = qm * ca + pm * sa + cal.q_offset
            if ir < self.creep_current:
                p = q = 0.0
            else:
                if -self.creep_power < p < self.creep_power:
                    p = 0.0
                if -self.creep_power < q < self.creep_power:
                    q = 0.0
            sva = vr * ir
            m.vrms[s] = vr
            m.irms[s] = ir
            m.p[s] = p
            m.q[s] = q
            m.s[s] = sva
            m.pf[s] = clamp_pf(p / sva) if sva > 0 else 1.0
            pt += p
            qt += q
            st += sva
        if self._neutral is not None:
            acc = self._nacc
            si = K.pair(acc, K.ACC_SI)
            cii = (n * K.pair(acc, K.ACC_SII) - si * si) / nn
            kn = self._neutral["lsb"]
            m.i_neutral = math.sqrt(cii) * kn if cii > 0 else 0.0
            for k in range(K.ACC_WORDS):
                acc[k] = 0
        m.p_total = pt
        m.q_total = qt
        m.s_total = st
        m.pf_total = clamp_pf(pt / st) if st > 0 else 1.0
        m.freq = self._freq         # of the last whole period (0.0 before the first one)
        m.frames = n
        m.whole = whole
        m.count += 1
        # crossing level follows the voltage channel's DC (codes incl. bias)
        lvl = int(self._dc_v[0] + self.systems[0]["v_bias"])
        self._zst[0] = lvl
        if self.on_period is not None:
            self.on_period(m)

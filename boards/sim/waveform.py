"""Simulator signal source: a scenario rendered into sample blocks as converter + DMA deliver them.

WaveformSource(scenario, model, ...)  block renderer (fill(buf) -> bool)
Sampler(source, nblocks=3)           the firmware/hal.py Sampler contract over a source
PhasorSource(scenario, ...)          per-second analytic P, Q, Vrms, Irms (phasor fidelity)

Signal (per phase p, fundamental phase theta(t) = integral of 2*pi*f dt, continuous
across segments, theta = 0 at the scenario start):
    v_p(t) = sqrt2 V [cos(theta + va) + sum_h fv_h cos(h (theta + va))]
    i_p(t) = sqrt2 I [cos(theta + va - phi) + sum_h fi_h cos(h (theta + va) - phi_h)]
Each converter channel carries a signed sum of these (adc.py: "terms"), scaled to
codes (gain / lsb), plus its real bias and offset, sampled at the channel's instant
within the frame (round-robin skew) minus its analog delay. A segment starts at the
first frame whose time is >= the segment's start time (frame n is at n / fs).

How it renders fast
-------------------
Per segment each channel becomes a table (array('i'), one per channel, reused by
every segment) of fixed-point values (Q14: code * 2**14, stored + 2**29 so that
every word is non-negative), read through one phase accumulator shared by all
channels; the channel's skew and delay are baked into its table, so the relative
timing of the channels is exact. The viper loop runs once per channel and block
(channel c of frame n goes to buf[n * stride + c]).
* exact mode: when the signal repeats after L <= max_entries (2048) frames
  (f * L / fs integer, e.g. L = 80 at 50 Hz / 4000 fs, 160 at 50 Hz / 8000 fs,
  400 at 60 Hz / 8000 fs), the table IS the sampled signal: entry k is computed
  in double precision at the exact sample instant; the accumulator steps 1
  entry per frame.
* DDS mode (any other frequency, e.g. 49.95 Hz): the table holds one
  fundamental cycle at N = dds_n (1024) points; the accumulator (N * 2**fb =
  2**30 steps per cycle) is read with linear interpolation. Each harmonic h is
  pre-emphasised by 1/sinc^2(pi h / N), which is exactly the attenuation of
  linear interpolation, so the fundamental and every harmonic come out at their
  nominal amplitude.
A viper loop then adds Gaussian noise (a 4096-entry int16 table of N(0, sigma)
quantiles in 1/256 LSB, indexed by a xorshift32 PRNG), quantises (rounding to the
16-bit word, or the RP2040 transfer curve with its DNL, see adc.py) and clips into
the int16 block.
Under CPython the plain-Python twin `render_py` gives bit-identical codes.
The viper kernel assumes the 64-bit word of the unix port (this is a host board);
it compiles for armv6m but is not meant to run on an RP2040.

Accuracy of the generator itself (noise off, before the converter's quantisation)
* Q14 fixed point: every table value is rounded to within 2**-15 LSB,
  independently of the other channel. P from one 200-frame table with a
  4.7-LSB current (0.3 A on the RP2040 scale) is within 4e-7 of the exact
  value (host_tests/test_sim_signal.py); larger signals and longer windows do
  better (the error scales with 1 / amplitude and averages down). rms: < 1e-8.
  Far below the 0.001 % (1e-5) budget.
* exact mode: the samples are the analytic signal evaluated in double precision
  (phase computed from integers modulo L): no further error.
* DDS mode: the frequency is quantised to fs / 2**30 (7.5e-6 Hz at 8 kHz); with
  the sinc^2 pre-emphasis the remaining interpolation error is an image at
  (N -+ h) f of relative amplitude ~ (h / N)**2 (1e-6 for the fundamental at
  N = 1024, 0.25 % of a 49th harmonic), which does not correlate with the
  fundamental: < 1e-6 of P (host_tests/test_sim_signal.py).
* phase continuity: the phase at a segment switch is carried exactly (exact
  mode) or from the accumulator (DDS mode), not re-derived from wall time.
The converter's own effects (quantisation, noise, DNL, skew, clipping) are
deliberately NOT small: they model the hardware (adc.py).
"""

import gc
import math
import sys
from array import array

import micropython

from boards.sim import adc
from boards.sim import scenario as scn

Q = 14                  # fixed-point fraction bits of table values (code * 2**Q)
TOFF = 1 << 29          # table offset: stored word = value + TOFF, always >= 0
QN = 8                  # fixed-point fraction bits of the noise table (int16)
GN = 4096               # noise table entries (index = top 12 bits of the PRNG)
TAB_MAX = 1 << 29       # |value| clamp (= 32768 codes in Q14)

# state words (array('i'))
S_STRIDE = 0
S_ROW = 1               # entries + 1 of the current tables (information)
S_FB = 2
S_ACC = 3
S_STEP = 4
S_WRAP = 5
S_PRNG = 6
S_MASK = 7
S_MODE = 8
S_LOEND = 9             # RP2040 "centred" DNL model: end of the codes below 512 (Q14)
S_HISTART = 10          #   start of the codes above 512, Q14 within the 1024-code period
S_HISPAN = 11           #   span of the codes above 512, Q14
S_DNLW = 12             # RP2040 extra width of a wide code, Q14 LSB ("outward" model)
S_NOISE = 13
S_CHNOISE = 14          # + channel: 1 if that channel gets noise
MODE_S16 = 0            # 16-bit word: round, clip to -32768..32767
MODE_RP2040 = 1         # RP2040, DNL model "centred"
MODE_RP2040_OUT = 2     # RP2040, DNL model "outward"

VIPER = sys.implementation.name == "micropython"
TWO_PI = 2.0 * math.pi
SQRT2 = math.sqrt(2.0)


@micropython.viper
def render_viper(buf: ptr16, start: int, end: int, tab: ptr32, st: ptr32, gauss: ptr16,
                 c: int):
    stride = st[0]
    fb = st[2]
    acc = st[3]
    step = st[4]
    wrap = st[5]
    x = st[6]
    m = st[7]
    mode = st[8]
    lo_end = st[9]
    hi_start = st[10]
    hi_span = st[11]
    wq = st[12]
    noise = 0
    if st[13] != 0:
        if st[14 + c] != 0:
            noise = 1
    fm = (1 << fb) - 1
    toff = 1 << 29
    n = start
    while n < end:
        j = acc >> fb
        a = tab[j]
        y = a + (((tab[j + 1] - a) * (acc & fm)) >> fb) - toff
        if noise != 0:
            x ^= (x << 13) & m
            x ^= x >> 17
            x ^= (x << 5) & m
            y += (((gauss[(x >> 20) & 4095] ^ 0x8000) - 0x8000) << 6)
        if mode == 0:
            q = (y + 8192) >> 14
            if q > 32767:
                q = 32767
            elif q < -32768:
                q = -32768
        elif mode == 1:
            a = y + 8192
            if a < 0:
                q = 0
            elif a >= (4096 << 14):
                q = 4095
            else:
                r = a & 0xFFFFFF
                if r < lo_end:
                    q = (r * 512) // lo_end
                elif r < hi_start:
                    q = 512
                else:
                    q = 513 + ((r - hi_start) * 511) // hi_span
                q += (a >> 24) << 10
        else:
            a = y + 8192
            if a >= (2560 << 14):
                if a < (2561 << 14) + wq:
                    q = 2560
                elif a < (3584 << 14) + wq:
                    q = (a - wq) >> 14
                elif a < (3585 << 14) + wq + wq:
                    q = 3584
                else:
                    q = (a - wq - wq) >> 14
                    if q > 4095:
                        q = 4095
            elif a < (1537 << 14):
                if a >= (1536 << 14) - wq:
                    q = 1536
                elif a >= (513 << 14) - wq:
                    q = (a + wq) >> 14
                elif a >= (512 << 14) - wq - wq:
                    q = 512
                else:
                    q = (a + wq + wq) >> 14
                    if q < 0:
                        q = 0
            else:
                q = a >> 14
        buf[n * stride + c] = q
        acc += step
        if acc >= wrap:
            acc -= wrap
        n += 1
    st[6] = x


def rp2040_code_centred(y, lo_end, hi_start, hi_span):
    """RP2040 transfer curve, DNL model "centred" (kernel's twin): Q14 analog -> code 0..4095.

    Ideal code = floor(y / 2**14 + 0.5). In every 1024-code period the code 512
    (i.e. 512, 1536, 2560, 3584) spans 1 + W LSB centred on its ideal position and
    the other 1023 codes share the remaining 1023 - W LSB evenly:
    lo_end = (512 - W/2) * 2**14, hi_start = (513 + W/2) * 2**14,
    hi_span = (511 - W/2) * 2**14.
    """
    a = y + 8192
    if a < 0:
        return 0
    if a >= 4096 << 14:
        return 4095
    r = a & 0xFFFFFF
    if r < lo_end:
        q = (r * 512) // lo_end
    elif r < hi_start:
        q = 512
    else:
        q = 513 + ((r - hi_start) * 511) // hi_span
    return q + ((a >> 24) << 10)


def rp2040_code(y, wq):
    """RP2040 transfer curve, DNL model "outward" (kernel's twin): Q14 analog -> code 0..4095.

    Ideal code = floor(y / 2**14 + 0.5) from 1537 to 2559 (around mid-rail). The
    codes 512, 1536, 2560, 3584 are 1 + W LSB wide (W = wq / 2**14), each wide code
    extending away from mid-rail, so every code beyond it sits W LSB further out
    (all other codes exactly 1 LSB wide): the analog span of codes 0..4095 is
    4096 + 4 W LSB, as measured on real chips (see adc.py).
    """
    a = y + 8192
    if a >= 2560 << 14:
        if a < (2561 << 14) + wq:
            return 2560
        if a < (3584 << 14) + wq:
            return (a - wq) >> 14
        if a < (3585 << 14) + 2 * wq:
            return 3584
        return min((a - 2 * wq) >> 14, 4095)
    if a < 1537 << 14:
        if a >= (1536 << 14) - wq:
            return 1536
        if a >= (513 << 14) - wq:
            return (a + wq) >> 14
        if a >= (512 << 14) - 2 * wq:
            return 512
        return max((a + 2 * wq) >> 14, 0)
    return a >> 14


def render_py(buf, start, end, tab, st, gauss, c):
    """Plain-Python twin of `render_viper`: identical codes, for CPython and for tests.

    Renders channel c of frames [start, end) from the channel's table `tab`,
    starting at the accumulator st[S_ACC] (left unchanged: the caller advances it
    once all channels are done); the PRNG state st[S_PRNG] carries on.
    """
    stride, fb, acc, step, wrap = st[0], st[2], st[3], st[4], st[5]
    x = st[6] & 0xFFFFFFFF
    m = st[7] & 0xFFFFFFFF
    mode, wq = st[8], st[12]
    lo_end, hi_start, hi_span = st[9], st[10], st[11]
    noise = st[S_NOISE] != 0 and st[S_CHNOISE + c] != 0
    fm = (1 << fb) - 1
    for n in range(start, end):
        j = acc >> fb
        a = tab[j]
        y = a + (((tab[j + 1] - a) * (acc & fm)) >> fb) - TOFF
        if noise:
            x ^= (x << 13) & m
            x ^= x >> 17
            x ^= (x << 5) & m
            y += gauss[(x >> 20) & 4095] << 6
        if mode == MODE_S16:
            q = (y + 8192) >> 14
            q = 32767 if q > 32767 else (-32768 if q < -32768 else q)
        elif mode == MODE_RP2040:
            q = rp2040_code_centred(y, lo_end, hi_start, hi_span)
        else:
            q = rp2040_code(y, wq)
        buf[n * stride + c] = q
        acc += step
        if acc >= wrap:
            acc -= wrap
    st[6] = x - (1 << 32) if x >= (1 << 31) else x


render = render_viper if VIPER else render_py


# -- noise ------------------------------------------------------------------------------
def norm_ppf(p):
    """Inverse standard normal CDF (P. J. Acklam's rational approximation, |rel err| < 1.2e-9)."""
    a = (-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
         1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00)
    b = (-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
         6.680131188771972e+01, -1.328068155288572e+01)
    c = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
         -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00)
    d = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
         3.754408661907416e+00)
    if p < 0.02425 or p > 0.97575:
        qq = math.sqrt(-2.0 * math.log(p if p < 0.5 else 1.0 - p))
        z = ((((c[0] * qq + c[1]) * qq + c[2]) * qq + c[3]) * qq + c[4]) * qq + c[5]
        z /= (((d[0] * qq + d[1]) * qq + d[2]) * qq + d[3]) * qq + 1.0
        return z if p < 0.5 else -z
    qq = p - 0.5
    r = qq * qq
    z = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * qq
    return z / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0)


_gauss_cache = [None, None]     # (sigma, table) of the last table built: sources share it


def gauss_table(sigma_lsb):
    """GN noise values, array('h') in Q8 codes: N(0, sigma) quantiles scaled to rms sigma.

    The table is read-only; the last one built is cached and shared.
    """
    if _gauss_cache[0] == sigma_lsb:
        return _gauss_cache[1]
    _gauss_cache[1] = None
    half = GN // 2
    ms = 0.0
    for k in range(half):
        z = norm_ppf((k + 0.5) / GN)
        ms += z * z
    scale = sigma_lsb * (1 << QN) / math.sqrt(ms / half)
    g = array("h", bytearray(2 * GN))
    for k in range(half):
        v = int(math.floor(-norm_ppf((k + 0.5) / GN) * scale + 0.5))   # z < 0 for k < GN/2
        g[k] = -v
        g[GN - 1 - k] = v
    _gauss_cache[0] = sigma_lsb
    _gauss_cache[1] = g
    return g


def _period(f, fs, lmax):
    """(L, m): the signal at f repeats after L frames = m cycles; (0, 0) if L > lmax."""
    m = 1
    while True:
        lf = m * fs / f
        if lf > lmax:
            return 0, 0
        li = int(lf + 0.5)
        if li >= 1 and abs(lf - li) < 1e-7 and abs(m * fs / li - f) <= 1e-12 * f:
            return li, m
        m += 1


def _put(v):
    """Q14 fixed-point table word for a value in codes (clamped, offset)."""
    x = int(math.floor(v * (1 << Q) + 0.5))
    if x > TAB_MAX - 1:
        x = TAB_MAX - 1
    elif x < -TAB_MAX:
        x = -TAB_MAX
    return x + TOFF


def _sinc2(x):
    if x == 0.0:
        return 1.0
    s = math.sin(x) / x
    return s * s


class WaveformSource:
    """Renders a scenario block by block as `model`'s converter + DMA would deliver it.

    scenario : scenario dict (raw or normalised; validated here) or a path to a JSON file
    model    : "rp2040" | "ads131m08"
    seed     : PRNG seed for the converter noise
    noise    : False disables all converter noise (a segment can also say "noise": false)
    errors   : per-channel analog errors, see adc.frontend
    neutral  : measure the neutral current (rp2040: stride 3 instead of 2)
    noise_lsb: noise rms in LSB (None: the model's default)
    max_entries: longest exact-mode table (frames of one signal period); beyond -> DDS
    dds_n    : DDS table entries per fundamental cycle (power of two, 256..4096)
    dnl      : False gives the RP2040 an ideal transfer curve (no E11 wide codes)
    dnl_model: "centred" | "outward": shape of the RP2040's E11 transfer curve (adc.py)
    dds      : True forces DDS mode (tests)

    Attributes: fs, frames, stride, systems, neutral (hal.py Sampler contract),
    frontend (adc.frontend dict), scenario (normalised), model, frames_done (int
    frames rendered since the start = the sim sample clock), total_frames (frames
    of the scenario), seg_starts (first frame of each segment), segment (index of
    the segment being rendered), mode ("exact" | "dds" for that segment).
    """

    def __init__(self, scenario, model="rp2040", seed=1, noise=True, errors=None,
                 neutral=True, noise_lsb=None, max_entries=2048, dds_n=1024, dnl=True,
                 dds=False, dnl_model="centred"):
        if type(scenario) is str:
            sc = scn.load(scenario)
        else:
            sc = scn.validate(scenario)
        self.scenario = sc
        self.model = model
        fe = adc.frontend(model, sc["profile"], sc["wiring"], neutral, noise_lsb, errors, dnl,
                          dnl_model)
        self.frontend = fe
        self.fs = fe["fs"]
        self.frames = fe["frames"]
        self.stride = fe["stride"]
        self.systems = fe["systems"]
        self.neutral = fe["neutral"]
        self.noise = bool(noise) and fe["noise_lsb"] > 0
        if dds_n not in (256, 512, 1024, 2048, 4096):
            raise ValueError("dds_n: a power of two in 256..4096")
        self.max_entries = max_entries
        self.dds_n = dds_n
        self.force_dds = dds
        # segment start frames: first frame n with n / fs >= segment start time
        starts = []
        t = 0.0
        for seg in sc["segments"]:
            starts.append(self._frame_at(t))
            t += seg["duration_s"]
        self.seg_starts = starts
        self.total_frames = self._frame_at(t)
        # one table per channel, reused by every segment (entries + 1 words: the last
        # repeats the first for the interpolation); channels that carry no signal
        # share one constant table per code value. Small separate blocks keep a
        # fragmented 192 KB heap happy.
        words = 0
        for seg in sc["segments"]:
            words = max(words, self._table_size(seg["frequency_hz"])[0] + 1)
        gc.collect()
        tabs = []
        consts = {}
        self._const = []
        for ch in fe["channels"]:
            if ch["terms"]:
                tabs.append(array("i", bytearray(4 * words)))
                self._const.append(False)
                continue
            w = _put(ch["true_bias"] + ch["offset"])
            if w not in consts:
                t = array("i", bytearray(4 * words))
                for k in range(words):
                    t[k] = w
                consts[w] = t
            tabs.append(consts[w])
            self._const.append(True)
        self._tabs = tabs
        # noise table and state
        self._gauss = gauss_table(fe["noise_lsb"] if fe["noise_lsb"] > 0 else 1.0)
        st = array("i", bytearray(4 * (S_CHNOISE + self.stride)))
        st[S_STRIDE] = self.stride
        st[S_MASK] = -1
        s = (seed * 2654435761 + 0x9E3779B9) & 0xFFFFFFFF
        if s == 0:
            s = 1
        st[S_PRNG] = s - (1 << 32) if s >= (1 << 31) else s
        if fe["signed"]:
            st[S_MODE] = MODE_S16
        else:
            st[S_MODE] = MODE_RP2040 if fe["dnl_model"] == "centred" else MODE_RP2040_OUT
            wq = int(fe["dnl_width"] * (1 << Q) + 0.5)
            st[S_DNLW] = wq
            st[S_LOEND] = (512 << Q) - wq // 2
            st[S_HISTART] = (513 << Q) + wq // 2
            st[S_HISPAN] = (511 << Q) - wq // 2
        for c, ch in enumerate(fe["channels"]):
            st[S_CHNOISE + c] = 1 if ch["noise"] else 0
        self._st = st
        self.frames_done = 0
        self.segment = -1
        self.mode = None
        self._seg_end = 0
        self._theta = 0.0        # fundamental phase at the current segment's first frame
        self._m = 0
        self._L = 0

    def _frame_at(self, t):
        x = t * self.fs
        n = int(x)
        if n < x - 1e-6:
            n += 1
        return n

    @property
    def time_s(self):
        """Simulated seconds rendered so far (frames_done / fs)."""
        return self.frames_done / self.fs

    def _phase_now(self):
        """Fundamental phase at the accumulator's current frame."""
        acc = self._st[S_ACC]
        if self.mode == "exact":
            return self._theta + TWO_PI * ((self._m * acc) % self._L) / self._L
        return TWO_PI * acc / self._st[S_WRAP]

    def _table_size(self, f):
        """(entries, m) of a segment's tables: exact mode (L frames = m cycles), or (N, 0) DDS."""
        L, m = _period(f, self.fs, self.max_entries)
        if L and not self.force_dds:
            return L, m
        return self.dds_n, 0

    def _next_segment(self, n):
        if self.segment >= 0:
            self._theta = math.fmod(self._phase_now(), TWO_PI)
        segs = self.scenario["segments"]
        k = self.segment + 1
        # skip segments too short to own a frame
        while k + 1 < len(segs) and self.seg_starts[k + 1] <= n:
            k += 1
        self.segment = k
        # the last segment runs on to complete the last block
        self._seg_end = self.seg_starts[k + 1] if k + 1 < len(segs) else \
            self.total_frames + self.frames
        self._build(segs[k])

    def _build(self, seg):
        fs = self.fs
        fe = self.frontend
        stride = self.stride
        f = seg["frequency_hz"]
        w = TWO_PI * f
        st = self._st
        n_tab, m = self._table_size(f)
        if m:
            self.mode = "exact"
            st[S_FB] = 0
            st[S_STEP] = 1
            st[S_WRAP] = n_tab
            st[S_ACC] = 0
            theta0 = self._theta
        else:
            self.mode = "dds"
            m = 1
            fb = 0
            while (n_tab << (fb + 1)) <= (1 << 30):
                fb += 1
            wrap = n_tab << fb
            st[S_FB] = fb
            st[S_WRAP] = wrap
            st[S_STEP] = int(f / fs * wrap + 0.5)
            st[S_ACC] = int(self._theta / TWO_PI * wrap + 0.5) % wrap
            theta0 = 0.0
        self._L = n_tab
        self._m = m
        row = n_tab + 1
        st[S_ROW] = row
        st[S_NOISE] = 1 if (self.noise and seg["noise"]) else 0
        phases = seg["phases"]
        step = TWO_PI / n_tab
        for c in range(stride):
            if self._const[c]:
                continue
            tab = self._tabs[c]
            ch = fe["channels"][c]
            # time of this channel's sample relative to the frame, minus analog delay
            dt = ch["sample_s"] - ch["delay_us"] * 1e-6
            comps = self._components(ch, phases, w * dt)
            base = ch["true_bias"] + ch["offset"]
            # order h at table entry k: amp * cos(h * theta_k + psi), with
            # h * theta_k = h * theta0 + 2 pi ((h m k) mod n_tab) / n_tab
            rot = []
            for h, re, im in comps:
                amp = math.sqrt(re * re + im * im)
                if amp == 0.0:
                    continue
                if self.mode == "dds":
                    amp /= _sinc2(math.pi * h / n_tab)
                rot.append((h * m, amp, math.atan2(im, re) + h * theta0))
            for k in range(n_tab):
                v = base
                for hm, amp, psi in rot:
                    v += amp * math.cos(step * ((hm * k) % n_tab) + psi)
                tab[k] = _put(v)
            tab[n_tab] = tab[0]

    def _components(self, ch, phases, wdt):
        """[(order, re, im)]: the channel's signal in codes as sum of Re(C_h e^{j h theta})."""
        acc = {}
        g = ch["gain"] / ch["lsb"]
        for p, qty, sign in ch["terms"]:
            ph = phases[p]
            va = math.radians(ph["v_angle_deg"]) + wdt
            if qty == "v":
                a1 = SQRT2 * ph["v_rms"] * g * sign
                lst = [(1, a1, va)]
                for h, fv, _fi, _ang in ph["harmonics"]:
                    lst.append((h, a1 * fv, h * va))
            else:
                a1 = SQRT2 * ph["i_rms"] * g * sign
                lst = [(1, a1, va - math.radians(ph["phi_deg"]))]
                for h, _fv, fi, ang in ph["harmonics"]:
                    lst.append((h, a1 * fi, h * va - math.radians(ang)))
            for h, a, ang in lst:
                if a == 0.0:
                    continue
                re, im = acc.get(h, (0.0, 0.0))
                acc[h] = (re + a * math.cos(ang), im + a * math.sin(ang))
        out = []
        for h in sorted(acc):
            out.append((h, acc[h][0], acc[h][1]))
        return out

    def fill(self, buf):
        """Render the next block (frames * stride codes) into array('h') `buf`.

        Returns False (buf untouched) once the scenario has ended. A last block
        that the scenario does not fill is completed by continuing its last segment.
        """
        n = self.frames_done
        if n >= self.total_frames:
            return False
        nf = self.frames
        pos = 0
        while pos < nf:
            if n >= self._seg_end or self.segment < 0:
                self._next_segment(n)
            e = pos + (self._seg_end - n)
            if e > nf:
                e = nf
            st = self._st
            tabs = self._tabs
            g = self._gauss
            for c in range(self.stride):
                render(buf, pos, e, tabs[c], st, g, c)
            st[S_ACC] = (st[S_ACC] + (e - pos) * st[S_STEP]) % st[S_WRAP]
            n += e - pos
            pos = e
        self.frames_done = n
        return True


class Sampler:
    """hal.py Sampler over a WaveformSource: a ring of `nblocks` (>= 3) preallocated blocks."""

    def __init__(self, source, nblocks=3):
        if nblocks < 3:
            raise ValueError("nblocks: the ring needs >= 3 blocks")
        self.source = source
        self.fs = source.fs
        self.frames = source.frames
        self.stride = source.stride
        self.systems = source.systems
        self.neutral = source.neutral
        n = source.frames * source.stride
        self._ring = [array("h", bytearray(2 * n)) for _ in range(nblocks)]
        self._k = 0

    @property
    def frames_done(self):
        return self.source.frames_done

    def read(self):
        """The next filled block, or None when the scenario has ended."""
        b = self._ring[self._k]
        if not self.source.fill(b):
            return None
        k = self._k + 1
        self._k = 0 if k == len(self._ring) else k
        return b


def _phasor(amp, ang):
    return (amp * math.cos(ang), amp * math.sin(ang))


def phase_phasors(ph):
    """{order: ((v_re, v_im), (i_re, i_im))} rms phasors of one phase (see module doc)."""
    va = math.radians(ph["v_angle_deg"])
    out = {1: (_phasor(ph["v_rms"], va),
               _phasor(ph["i_rms"], va - math.radians(ph["phi_deg"])))}
    for h, fv, fi, ang in ph["harmonics"]:
        out[h] = (_phasor(ph["v_rms"] * fv, h * va),
                  _phasor(ph["i_rms"] * fi, h * va - math.radians(ang)))
    return out


def system_values(seg, wiring):
    """[(p_W, q_var, v_rms, i_rms)] per measuring system of one segment (analytic, Budeanu Q)."""
    pp = [phase_phasors(ph) for ph in seg["phases"]]
    if wiring == "aron":
        elems = ((0, 1, 0), (2, 1, 2))     # (voltage phase a, minus phase b, current phase)
    else:
        elems = [(k, None, k) for k in range(len(pp))]
    res = []
    for a, b, ci in elems:
        orders = list(pp[a])
        if b is not None:
            for h in pp[b]:
                if h not in orders:
                    orders.append(h)
        p = q = v2 = i2 = 0.0
        for h in orders:
            ur, ui = pp[a][h][0] if h in pp[a] else (0.0, 0.0)
            if b is not None and h in pp[b]:
                ur -= pp[b][h][0][0]
                ui -= pp[b][h][0][1]
            ir, ii = pp[ci][h][1] if h in pp[ci] else (0.0, 0.0)
            p += ur * ir + ui * ii          # Re(U conj(I))
            q += ui * ir - ur * ii          # Im(U conj(I))
            v2 += ur * ur + ui * ui
            i2 += ir * ir + ii * ii
        res.append((p, q, math.sqrt(v2), math.sqrt(i2)))
    return res


class PhasorSource:
    """Phasor fidelity: per simulated second the analytic (p, q, v, i) of each measuring system.

    read(max_s=1) -> None at the end, else (seconds, [(p_W, q_var, v_rms, i_rms), ...],
    frequency_hz): seconds is 1 (the last one may be shorter when the scenario is not a
    whole number of seconds); values are averages over that second (rms combined as rms)
    when segments switch inside it. With max_s > 1 a step runs up to max_s seconds but
    stops at the end of the current segment, so its values are constant (the meter asks
    for long steps up to its next clock boundary to run months quickly).
    frames_done = seconds_done * fs (the sample clock the waveform source would show).
    """

    def __init__(self, scenario, fs=4000):
        sc = scn.load(scenario) if type(scenario) is str else scn.validate(scenario)
        self.scenario = sc
        self.fs = fs
        self.wiring = sc["wiring"]
        self.seconds_done = 0
        self._seg = 0
        self._seg_t0 = 0.0           # start time of segment self._seg
        self._vals = None
        self.total_s = sc["duration_s"]

    @property
    def frames_done(self):
        return int(self.seconds_done * self.fs + 0.5)

    def read(self, max_s=1):
        t0 = self.seconds_done
        if t0 >= self.total_s - 1e-9:
            return None
        segs = self.scenario["segments"]
        if max_s > 1:
            # whole seconds up to the end of the segment holding t0
            while (self._seg + 1 < len(segs)
                   and self._seg_t0 + segs[self._seg]["duration_s"] <= t0 + 1e-12):
                self._seg_t0 += segs[self._seg]["duration_s"]
                self._seg += 1
                self._vals = None
            seg_end = self._seg_t0 + segs[self._seg]["duration_s"]
            n = int(seg_end - t0 + 1e-9)
            max_s = n if 1 <= n < max_s else max_s
        t1 = t0 + max_s
        if t1 > self.total_s:
            t1 = self.total_s
        acc = None
        fsum = 0.0
        t = t0
        while t < t1 - 1e-12:
            seg = segs[self._seg]
            seg_end = self._seg_t0 + seg["duration_s"]
            if seg_end <= t + 1e-12 and self._seg + 1 < len(segs):
                self._seg_t0 = seg_end
                self._seg += 1
                self._vals = None
                continue
            if self._vals is None:
                self._vals = system_values(seg, self.wiring)
            e = t1 if (seg_end >= t1 or self._seg + 1 == len(segs)) else seg_end
            dt = e - t
            if acc is None:
                acc = [[0.0, 0.0, 0.0, 0.0] for _ in self._vals]
            for a, (p, q, v, i) in zip(acc, self._vals):
                a[0] += p * dt
                a[1] += q * dt
                a[2] += v * v * dt
                a[3] += i * i * dt
            fsum += seg["frequency_hz"] * dt
            t = e
        span = t1 - t0
        self.seconds_done = t1
        out = [(a[0] / span, a[1] / span, math.sqrt(a[2] / span), math.sqrt(a[3] / span))
               for a in acc]
        return (span, out, fsum / span)

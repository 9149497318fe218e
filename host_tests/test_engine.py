"""Engine maths against analytic truth, on blocks made by a tiny generator in this test."""

import array
import math

import pytest

from mpmeter.metrology.calibration import Calibration
from mpmeter.metrology.engine import Engine


class ToneSampler:
    """Ideal converter: one system, V on ch0, I on ch1 (optionally sampled `skew` frames late)."""

    def __init__(self, fs, frames, f, vrms, irms, phi_deg, v_lsb, i_lsb, skew=0.0, bias=0,
                 harmonics=()):
        self.fs, self.frames, self.stride = fs, frames, 2
        self.systems = [{"v": 0, "i": 1, "v_lsb": v_lsb, "i_lsb": i_lsb, "v_bias": bias,
                         "i_bias": bias, "skew": skew}]
        self.neutral = None
        self.f, self.vrms, self.irms, self.phi = f, vrms, irms, math.radians(phi_deg)
        self.skew, self.bias, self.harm = skew, bias, harmonics
        self.n = 0
        self.ring = [array.array("h", [0] * (2 * frames)) for _ in range(3)]

    def read(self):
        buf = self.ring[(self.n // self.frames) % 3]
        w = 2 * math.pi * self.f
        for k in range(self.frames):
            t = (self.n + k) / self.fs
            ti = t + self.skew / self.fs
            v = math.sqrt(2) * self.vrms * math.cos(w * t)
            i = math.sqrt(2) * self.irms * math.cos(w * ti - self.phi)
            for h, fv, fi in self.harm:
                v += math.sqrt(2) * self.vrms * fv * math.cos(h * w * t)
                i += math.sqrt(2) * self.irms * fi * math.cos(h * w * ti)
            buf[2 * k] = int(round(v / self.systems[0]["v_lsb"])) + self.bias
            buf[2 * k + 1] = int(round(i / self.systems[0]["i_lsb"])) + self.bias
        self.n += self.frames
        return buf


def run(sampler, seconds, **kw):
    got = []
    eng = Engine(sampler, on_period=lambda m: got.append(
        (m.frames, m.p_total, m.q_total, m.vrms[0], m.irms[0], m.freq, m.whole)), **kw)
    for _ in range(int(seconds * sampler.fs / sampler.frames)):
        eng.feed(sampler.read())
    eng.flush()
    return eng, got


def energy(got, fs):
    return (sum(n * p for n, p, *_ in got) / fs, sum(n * q for n, _, q, *_ in got) / fs)


@pytest.mark.parametrize("phi", [0, 60, 90, 180, 240, 323.13])
def test_power_all_quadrants(phi):
    s = ToneSampler(8000, 160, 50.0, 230.0, 5.0, phi, 400 / 32768, 10 / 32768)
    eng, got = run(s, 1.0)
    e_p, e_q = energy(got, 8000)
    p_true = 230 * 5 * math.cos(math.radians(phi))
    q_true = 230 * 5 * math.sin(math.radians(phi))
    assert abs(e_p - p_true) < 1150 * 2e-4
    assert abs(e_q - q_true) < 1150 * 2e-4
    whole = [g for g in got if g[6]]
    assert all(abs(g[3] - 230) < 0.02 and abs(g[4] - 5) < 0.001 for g in whole)
    assert all(abs(g[5] - 50) < 0.001 for g in whole)


@pytest.mark.parametrize("f", [49.0, 51.0])
def test_off_nominal_frequency_reactive_correction(f):
    s = ToneSampler(8000, 160, f, 230.0, 5.0, 30.0, 400 / 32768, 10 / 32768)
    eng, got = run(s, 1.0)
    whole = [g for g in got if g[6]]
    for _n, p, q, _v, _i, fr, _ in whole:
        assert abs(fr - f) < 0.001
        # a period is a whole number of frames, not of cycles: ripple within 1e-3
        assert abs(q - 575.0) < 575 * 1e-3      # 1150 sin 30
        assert abs(p - 995.929) < 995.929 * 1e-3
    e_p, e_q = energy(whole, 8000)              # ... and it averages out
    e_p, e_q = e_p * 8000 / sum(g[0] for g in whole), e_q * 8000 / sum(g[0] for g in whole)
    assert abs(e_p - 995.929) < 995.929 * 2e-4
    assert abs(e_q - 575.0) < 575 * 3e-4


def test_round_robin_skew_is_corrected():
    # RP2040-like: 12-bit codes, bias 2048, I sampled half a frame after V
    s = ToneSampler(4000, 80, 50.0, 230.0, 20.0, 0.0, 450 / 2048, 130 / 2048, skew=0.5,
                    bias=2048)
    eng, got = run(s, 1.0)
    whole = [g for g in got if g[6]]
    for _n, p, q, *_ in whole:
        assert abs(p - 4600) < 4600 * 2e-3
        assert abs(q) < 4600 * 3e-3
    s2 = ToneSampler(4000, 80, 50.0, 230.0, 20.0, 0.0, 450 / 2048, 130 / 2048, skew=0.5,
                     bias=2048)
    s2.systems[0]["skew"] = 0.0  # pretend the board forgot: 2.25 deg error shows in Q
    eng, got = run(s2, 0.5)
    q = [g[2] for g in got if g[6]]
    assert all(abs(x + 4600 * math.sin(math.radians(2.25))) < 20 for x in q)


def test_creep_gate():
    s = ToneSampler(8000, 160, 50.0, 264.5, 0.0, 0.0, 400 / 32768, 10 / 32768)
    eng, got = run(s, 0.5, creep_current=0.002, creep_power=0.2)
    assert all(p == 0 and q == 0 for _, p, q, *_ in got)


def test_calibration_from_dict_rejects_bad_values():
    with pytest.raises(ValueError, match="v_gain"):
        Calibration.from_dict({"v_gain": "x"})
    with pytest.raises(ValueError, match="gains"):
        Calibration.from_dict({"i_gain": 3.0})


@pytest.mark.parametrize("bad,match", [
    ({"points": [[1.0, 1.0]]}, r"points\[0\]"),
    ({"points": [[5.0, 1.0, 0.0], [1.0, 1.0, 0.0]]}, "increasing"),
    ({"points": [[1.0, 3.0, 0.0]]}, "gain"),
    ({"phase": 50.0}, "phase"),
    ({"i_offset": -1.0}, "i_offset"),
    ({"v_gain": True}, "v_gain"),
    ({"nonsense": 1}, "unknown"),
])
def test_calibration_points_rejected_with_the_field_named(bad, match):
    with pytest.raises(ValueError, match=match):
        Calibration.from_dict(bad)


def test_calibration_points_interpolate_and_hold():
    c = Calibration.from_dict({"points": [[1.0, 1.02, 0.4], [10.0, 1.0, 0.0]]})
    assert c.at(0.1) == (1.02, 0.4) and c.at(50.0) == (1.0, 0.0)
    g, ph = c.at(5.5)                       # halfway
    assert abs(g - 1.01) < 1e-12 and abs(ph - 0.2) < 1e-12


@pytest.mark.parametrize("amps", [2.0, 20.0])
def test_engine_applies_the_point_correction(amps):
    """A current channel that reads 2 % high and 0.9 degrees late below 2 A, exact from
    20 A: the points undo it at both ends (P and Q against the tone's analytic values)."""
    fs = 8000
    w = 2 * math.pi * 50 / fs
    late = 0.9 if amps < 10 else 0.0
    hi = 1.02 if amps < 10 else 1.0
    s = ToneSampler(fs, 160, 50.0, 230.0, amps * hi, 30.0 + late, 400 / 32768, 30 / 32768)
    pts = [[2.0 * 1.02, 1 / 1.02, math.radians(-0.9) / w], [20.0, 1.0, 0.0]]
    cal = Calibration.from_dict({"points": pts})
    eng, got = run(s, 1.0, cals=[cal])
    whole = [g for g in got if g[6]]
    pt, qt = 230 * amps * math.cos(math.radians(30)), 230 * amps * math.sin(math.radians(30))
    for _n, p, q, _v, i, *_ in whole:
        assert abs(p - pt) < pt * 1e-3 and abs(q - qt) < qt * 1e-3
        assert abs(i - amps) < amps * 1e-3


@pytest.mark.parametrize("phi,offset", [(0.0, 5.0), (180.0, -5.0)])
def test_power_factor_stays_within_minus_one_and_one(phi, offset):
    """A P offset (calibration) at PF 1 and PF -1 puts |P| above Vrms * Irms: the power
    factor shown and sent is clamped to [-1, 1] (P itself keeps the offset)."""
    s = ToneSampler(8000, 160, 50.0, 230.0, 5.0, phi, 400 / 32768, 10 / 32768)
    eng, got = run(s, 0.6, cals=[Calibration(p_offset=offset)])
    m = eng.m
    assert abs(m.p[0]) > m.s[0]                      # the offset is in P
    assert m.pf[0] == m.pf_total == (1.0 if phi == 0.0 else -1.0)

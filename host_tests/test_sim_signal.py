"""The simulator's signal side (boards/sim) and the analytic truth, checked from first principles.

Quantities are recomputed here from the raw codes with plain Python (no numpy)
and compared with the scenario's numbers and with hand calculations; nothing
is read back from the code under test except the codes themselves.
"""

import cmath
import datetime
import json
import math
import os
import subprocess
import sys
from array import array

import pytest

import truth
from boards.sim import adc, scenario, waveform
from mpmeter import hal

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCEN_DIR = os.path.join(ROOT, "boards", "sim", "scenarios")
START = "2026-01-01T00:00:00Z"


def sc162(segments, **kw):
    d = {"start": START, "profile": "162", "segments": segments}
    d.update(kw)
    return d


def sc351(segments, **kw):
    d = {"start": START, "profile": "351", "segments": segments}
    d.update(kw)
    return d


def seg(dur, phases, f=50.0, noise=None):
    s = {"duration_s": dur, "frequency_hz": f, "phases": phases}
    if noise is not None:
        s["noise"] = noise
    return s


def ph(v, i, phi=0.0, harm=None, va=None):
    p = {"v_rms": v, "i_rms": i, "phi_deg": phi}
    if harm:
        p["harmonics"] = harm
    if va is not None:
        p["v_angle_deg"] = va
    return p


def render(src, max_blocks=10**9):
    """All codes of a source, per channel: list of stride lists."""
    buf = array("h", bytes(2 * src.frames * src.stride))
    chans = [[] for _ in range(src.stride)]
    n = 0
    while n < max_blocks and src.fill(buf):
        for c in range(src.stride):
            chans[c].extend(buf[c::src.stride])
        n += 1
    return chans


def mean(x):
    return sum(x) / len(x)


def rms_ac(x, bias):
    return math.sqrt(sum((v - bias) ** 2 for v in x) / len(x))


def dft(x, bias, f, fs):
    """Complex rms phasor of the component at f (window = whole cycles assumed)."""
    w = 2 * math.pi * f / fs
    s = sum((v - bias) * cmath.exp(-1j * w * n) for n, v in enumerate(x))
    return s * math.sqrt(2) / len(x)


def angle_deg(z):
    return math.degrees(cmath.phase(z))


def wrap180(a):
    return (a + 180.0) % 360.0 - 180.0


# -- scenario ----------------------------------------------------------------------------
@pytest.mark.parametrize("s", ["1970-01-01T00:00:00Z", "2026-01-01T00:00:00Z",
                               "2000-02-29T12:34:56Z", "2024-12-31T23:59:59Z",
                               "2100-03-01T00:00:00Z", "2038-01-19T03:14:08Z"])
def test_parse_utc_matches_datetime(s):
    d = datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    assert scenario.parse_utc(s) == int(d.timestamp())


@pytest.mark.parametrize("s", ["2026-01-01 00:00:00Z", "2026-01-01T00:00:00",
                               "2026-02-29T00:00:00Z", "2100-02-29T00:00:00Z",
                               "2026-13-01T00:00:00Z", "2026-01-01T24:00:00Z",
                               "2026-01-01T00:00:00+01:00", 20260101,
                               "1969-12-31T23:59:59Z", "2026-1-01T00:00:00Z"])
def test_parse_utc_rejects(s):
    with pytest.raises(ValueError, match=r"^start: "):
        scenario.validate(sc162([seg(1, [ph(230, 1)])], start=s))


def test_validate_fills_defaults():
    raw = {"start": START, "profile": 351,
           "segments": [{"duration_s": 10, "phases": [{"v_rms": 230, "i_rms": 1},
                                                      {"v_rms": 231, "i_rms": 2, "phi_deg": 90},
                                                      {"v_rms": 232, "i_rms": 3, "harmonics":
                                                       [[7, 0.1, 0.2], [5, 0, 0.1, 30]]}]}]}
    n = scenario.validate(raw)
    assert n["profile"] == "351" and n["wiring"] == "4w"
    assert n["start_epoch"] == 1767225600 and n["duration_s"] == 10.0
    s = n["segments"][0]
    assert s["frequency_hz"] == 50.0 and s["noise"] is True
    assert [p["v_angle_deg"] for p in s["phases"]] == [0.0, -120.0, 120.0]
    assert s["phases"][0]["phi_deg"] == 0.0 and s["phases"][0]["harmonics"] == []
    assert s["phases"][2]["harmonics"] == [[5, 0.0, 0.1, 30.0], [7, 0.1, 0.2, 0.0]]
    assert raw["segments"][0]["phases"][0] == {"v_rms": 230, "i_rms": 1}   # input not modified
    assert scenario.validate(n) == n                                        # idempotent


def _bad(mut):
    base = sc351([seg(60, [ph(230, 5, 30, [[5, 0.1, 0.4, 0.0]]), ph(230, 5), ph(230, 5)]),
                  seg(60, [ph(230, 5), ph(230, 5), ph(230, 5)])])
    mut(base)
    return base


BAD = [
    (lambda s: s.pop("profile"), "profile"),
    (lambda s: s.update(profile="999"), "profile"),
    (lambda s: s.update(wiring="delta"), "wiring"),
    (lambda s: s.update(profile="162", wiring="aron",
                        segments=[seg(1, [ph(230, 1)])]), "wiring"),
    (lambda s: s.update(segments=[]), "segments"),
    (lambda s: s.update(extra=1), "extra"),
    (lambda s: s["segments"].__setitem__(1, 5), "segments[1]"),
    (lambda s: s["segments"][1].update(duration_s=0), "segments[1].duration_s"),
    (lambda s: s["segments"][1].update(duration_s="60"), "segments[1].duration_s"),
    (lambda s: s["segments"][1].update(duration_s=True), "segments[1].duration_s"),
    (lambda s: s["segments"][0].update(frequency_hz=75), "segments[0].frequency_hz"),
    (lambda s: s["segments"][0].update(noise=0), "segments[0].noise"),
    (lambda s: s["segments"][0].update(foo=0), "segments[0].foo"),
    (lambda s: s["segments"][0]["phases"].pop(), "segments[0].phases"),
    (lambda s: s["segments"][1]["phases"][2].update(v_rms=501), "segments[1].phases[2].v_rms"),
    (lambda s: s["segments"][1]["phases"][0].update(i_rms=-1), "segments[1].phases[0].i_rms"),
    (lambda s: s["segments"][1]["phases"][0].pop("i_rms"), "segments[1].phases[0].i_rms"),
    (lambda s: s["segments"][1]["phases"][0].update(i_rms=None), "segments[1].phases[0].i_rms"),
    (lambda s: s["segments"][0]["phases"][1].update(phi_deg=361), "segments[0].phases[1].phi_deg"),
    (lambda s: s["segments"][0]["phases"][1].update(phi_deg=-1), "segments[0].phases[1].phi_deg"),
    (lambda s: s["segments"][0]["phases"][1].update(v_angle_deg=400),
     "segments[0].phases[1].v_angle_deg"),
    (lambda s: s["segments"][0]["phases"][1].update(vrms=1), "segments[0].phases[1].vrms"),
    (lambda s: s["segments"][0]["phases"][0].update(harmonics={}),
     "segments[0].phases[0].harmonics"),
    (lambda s: s["segments"][0]["phases"][0]["harmonics"].append([1, 0.1, 0.1]),
     "segments[0].phases[0].harmonics[1][0]"),
    (lambda s: s["segments"][0]["phases"][0]["harmonics"].append([51, 0.1, 0.1]),
     "segments[0].phases[0].harmonics[1][0]"),
    (lambda s: s["segments"][0]["phases"][0]["harmonics"].append([5, 0.1, 0.1]),
     "segments[0].phases[0].harmonics[1][0]"),
    (lambda s: s["segments"][0]["phases"][0]["harmonics"].append([3, 1.5, 0.1]),
     "segments[0].phases[0].harmonics[1][1]"),
    (lambda s: s["segments"][0]["phases"][0]["harmonics"].append([3, 0.1, -0.1]),
     "segments[0].phases[0].harmonics[1][2]"),
    (lambda s: s["segments"][0]["phases"][0]["harmonics"].append([3, 0.1, 0.1, "x"]),
     "segments[0].phases[0].harmonics[1][3]"),
    (lambda s: s["segments"][0]["phases"][0]["harmonics"].append([3, 0.1]),
     "segments[0].phases[0].harmonics[1]"),
]


@pytest.mark.parametrize("mut,path", BAD, ids=[p for _, p in BAD])
def test_validation_error_names_the_field(mut, path):
    with pytest.raises(ValueError) as e:
        scenario.validate(_bad(mut))
    assert str(e.value).startswith(path + ": "), str(e.value)


def test_message_format_example():
    with pytest.raises(ValueError, match=r"^segments\[1\]\.phases\[0\]\.i_rms: must be a number"):
        scenario.validate(_bad(lambda s: s["segments"][1]["phases"][0].update(i_rms=-3)))
    with pytest.raises(ValueError, match="not valid JSON"):
        scenario.loads("{")


def _wh_at(tr, t):
    """Truth segment active at time t (seconds)."""
    acc = 0.0
    for s in tr["segments"]:
        if acc <= t < acc + s["duration_s"]:
            return s
        acc += s["duration_s"]
    raise AssertionError(t)


def test_builtin_household_day():
    sc = scenario.load(os.path.join(SCEN_DIR, "household_day.json"))
    assert sc["profile"] == "162" and sc["duration_s"] == 86400.0
    tr = truth.energies(sc)
    night = _wh_at(tr, 2 * 3600 + 30 * 60)
    assert 120 <= night["p_w"] <= 300          # base ~150 W (+ fridge when it runs)
    peaks = [s["p_w"] for s in tr["segments"]]
    assert max(peaks) > 3000 and min(peaks) < -2500
    morning = [_wh_at(tr, 6 * 3600 + m * 60 + 30)["p_w"] for m in range(20, 80)]
    assert max(morning) > 2000                 # kettle / cooker
    noon = _wh_at(tr, 12 * 3600 + 45 * 60)
    assert noon["p_w"] < -2000 and 90 < sc["segments"][0]["phases"][0]["phi_deg"] + 100
    phis = [s["phases"][0]["phi_deg"] for s in sc["segments"]]
    assert any(170 <= p <= 190 for p in phis)                      # PV export
    assert any(0 < p < 90 for p in phis) and any(270 < p < 360 for p in phis)
    t = tr["total"]
    assert 4000 < t["A+"] < 15000 and t["A-"] > 5000 and t["R1"] > 0 and t["R4"] > 0


def test_builtin_three_phase_day():
    sc = scenario.load(os.path.join(SCEN_DIR, "three_phase_day.json"))
    assert sc["profile"] == "351" and sc["duration_s"] == 86400.0
    for s in sc["segments"]:
        for p in s["phases"]:
            assert 0 < p["i_rms"] <= 5.0           # CT secondary amps
    tr = truth.energies(sc)
    assert tr["total"]["A+"] > 0 and tr["total"]["A-"] > 0 and tr["total"]["R4"] > 0


# -- truth against hand calculations -----------------------------------------------------
@pytest.mark.parametrize("phi,quad", [(30, "R1"), (150, "R2"), (210, "R3"), (330, "R4")])
def test_truth_quadrants(phi, quad):
    tr = truth.energies(sc162([seg(3600, [ph(230, 10, phi)])]))
    t = tr["total"]
    p = 2300 * math.cos(math.radians(phi))
    q = 2300 * math.sin(math.radians(phi))
    assert t["A+"] == pytest.approx(max(p, 0), abs=1e-9)
    assert t["A-"] == pytest.approx(max(-p, 0), abs=1e-9)
    assert t["R+"] == pytest.approx(max(q, 0), abs=1e-9)
    assert t["R-"] == pytest.approx(max(-q, 0), abs=1e-9)
    assert t[quad] == pytest.approx(1150.0)
    assert sum(t[k] for k in ("R1", "R2", "R3", "R4")) == pytest.approx(1150.0)


def test_truth_30_degrees_by_hand():
    tr = truth.energies(sc162([seg(1800, [ph(230, 10, 30)]), seg(1800, [ph(230, 5, 0)])]))
    # 2300 * cos 30 = 1991.858 W for 0.5 h + 1150 W for 0.5 h
    assert tr["total"]["A+"] == pytest.approx(995.929 + 575.0, abs=1e-3)
    assert tr["total"]["R1"] == pytest.approx(575.0)
    s0 = tr["segments"][0]["phases"][0]
    assert (s0["v_rms"], s0["i_rms"], s0["s_va"]) == pytest.approx((230, 10, 2300))


@pytest.mark.parametrize("phi,key", [(90, "R1"), (270, "R4"), (180, "A-"), (0, "A+")])
def test_truth_axis_cases(phi, key):
    t = truth.energies(sc162([seg(3600, [ph(230, 10, phi)])]))["total"]
    assert t[key] == pytest.approx(2300.0)
    both = 2 if key.startswith("R") else 1             # R1 also counts in R+, R4 in R-
    assert sum(t.values()) - t["duration_s"] == pytest.approx(both * 2300.0)


def test_truth_harmonics_by_hand():
    sc = sc162([seg(3600, [ph(230, 10, 30, [[5, 0.1, 0.4, 60.0], [3, 0.02, 0.0]])])])
    s = truth.energies(sc)["segments"][0]
    p1 = 2300 * math.cos(math.radians(30))
    p5 = 23 * 4 * math.cos(math.radians(60))          # V5 = 23 V, I5 = 4 A
    q = 2300 * 0.5 + 23 * 4 * math.sin(math.radians(60))
    assert s["p_w"] == pytest.approx(p1 + p5)
    assert s["q_var"] == pytest.approx(q)
    x = s["phases"][0]
    assert x["v_rms"] == pytest.approx(230 * math.sqrt(1 + 0.01 + 0.0004))
    assert x["i_rms"] == pytest.approx(10 * math.sqrt(1 + 0.16))
    assert x["s_va"] == pytest.approx(x["v_rms"] * x["i_rms"])


def test_truth_three_phase_and_aron():
    bal = sc351([seg(3600, [ph(230, 5, 30), ph(230, 5, 30), ph(230, 5, 30)])])
    t4 = truth.energies(bal)["total"]
    ta = truth.energies(bal, "aron")["total"]
    assert t4["A+"] == pytest.approx(3 * 1150 * math.cos(math.radians(30)))
    assert ta["A+"] == pytest.approx(t4["A+"]) and ta["R1"] == pytest.approx(t4["R1"])
    # I1 only (a neutral current): the two-wattmeter reading differs by -Re(V2 conj(I1))
    one = sc351([seg(3600, [ph(230, 10, 0), ph(230, 0), ph(230, 0)])], wiring="aron")
    tr = truth.energies(one)
    assert tr["wiring"] == "aron"
    e1 = tr["segments"][0]["systems"][0]
    assert e1["v_rms"] == pytest.approx(230 * math.sqrt(3))
    assert e1["p_w"] == pytest.approx(230 * math.sqrt(3) * 10 * math.cos(math.radians(30)))
    assert tr["total"]["A+"] == pytest.approx(3450.0)           # 2300 + 1150
    assert truth.energies(one, "4w")["total"]["A+"] == pytest.approx(2300.0)


# -- front-end descriptions --------------------------------------------------------------
FRONTENDS = [("rp2040", "162", "4w", True), ("rp2040", "162", "4w", False),
             ("ads131m08", "162", "4w", True), ("ads131m08", "351", "4w", True),
             ("ads131m08", "351", "aron", True)]


@pytest.mark.parametrize("model,prof,wiring,neutral", FRONTENDS)
def test_sampler_contract(model, prof, wiring, neutral):
    n = 1 if prof == "162" else 3
    sc = {"start": START, "profile": prof, "wiring": wiring,
          "segments": [seg(0.05 if model == "rp2040" else 0.1, [ph(230, 1)] * n)]}
    src = waveform.WaveformSource(sc, model, neutral=neutral)
    s = waveform.Sampler(src)
    hal.check_sampler(s)
    assert len(s.systems) == (2 if wiring == "aron" else n)
    if model == "rp2040":
        assert (s.fs, s.frames, s.stride) == (4000, 80, 3 if neutral else 2)
        sy = s.systems[0]
        assert sy["v_lsb"] == 450 / 2048 and sy["i_lsb"] == 130 / 2048
        assert sy["v_bias"] == sy["i_bias"] == 2048
        assert sy["skew"] == pytest.approx(1 / s.stride)
        assert (s.neutral is not None) == neutral
    else:
        assert (s.fs, s.frames, s.stride) == (8000, 320, 8)
        il = 10 / 32768 if prof == "351" else 130 / 32768
        vl = 800 / 32768 if wiring == "aron" else 400 / 32768     # aron: line-to-line
        for sy in s.systems:
            assert sy["v_lsb"] == vl and sy["i_lsb"] == il and sy["skew"] == 0
            assert sy["v_bias"] == sy["i_bias"] == 0
        assert (s.neutral is None) == (wiring == "aron")
        if s.neutral:
            assert s.neutral == {"ch": 6, "lsb": il, "bias": 0}
    blocks = []
    while True:
        b = s.read()
        if b is None:
            break
        assert len(b) == s.frames * s.stride and b.typecode == "h"
        blocks.append(b)
    # 0.05 s = 200 frames at 4 kHz -> 3 blocks of 80; 0.1 s = 800 frames -> 3 blocks of 320
    assert len(blocks) == 3 and src.frames_done == 3 * s.frames
    assert len({id(b) for b in blocks}) == 3                  # ring of three distinct buffers


def test_rp2040_rejects_three_phase():
    with pytest.raises(ValueError, match="^model"):
        adc.frontend("rp2040", "351")
    with pytest.raises(ValueError, match=r"^errors\[3\]\.gain"):
        adc.frontend("ads131m08", "351", errors={3: {"gain": 5}})


def test_sampler_ring_keeps_previous_block():
    src = waveform.WaveformSource(sc162([seg(1, [ph(230, 10, 30)])]), "rp2040")
    s = waveform.Sampler(src, nblocks=3)
    a = s.read()
    snap = list(a)
    b = s.read()
    assert b is not a and list(a) == snap
    c = s.read()
    assert c is not a and c is not b and list(b) != list(c)
    with pytest.raises(ValueError):
        waveform.Sampler(src, nblocks=2)


# -- rendered signals against the scenario -----------------------------------------------
def test_ads_rms_mean_phase_power():
    """Noise off, 3 phases with harmonics: every quantity recomputed from the codes."""
    phs = [ph(230, 4, 30, [[5, 0.05, 0.3, 40.0]]), ph(225, 2.5, 300, [[3, 0.02, 0.1]]),
           ph(235, 1, 180)]
    sc = sc351([seg(0.2, phs, noise=False)])
    src = waveform.WaveformSource(sc, "ads131m08")
    ch = render(src)
    assert src.mode == "exact" and len(ch[0]) == 1600
    tr = truth.energies(sc)["segments"][0]
    vl, il = 400 / 32768, 10 / 32768
    for k in range(3):
        v, i = ch[k], ch[3 + k]
        exp = tr["phases"][k]
        assert abs(mean(v)) < 0.01 and abs(mean(i)) < 0.01
        # tolerances: the converter's own rounding to the 16-bit word (+-0.5 LSB)
        assert rms_ac(v, 0) * vl == pytest.approx(exp["v_rms"], rel=1e-5)
        assert rms_ac(i, 0) * il == pytest.approx(exp["i_rms"], rel=3e-5)
        p = sum(a * b for a, b in zip(v, i)) / len(v) * vl * il
        assert p == pytest.approx(exp["p_w"], abs=3e-5 * exp["s_va"])
        # fundamental phase of V vs the scenario, and I lagging V by phi
        zv = dft(v, 0, 50, 8000)
        zi = dft(i, 0, 50, 8000)
        assert abs(zv) * vl == pytest.approx(phs[k]["v_rms"], rel=1e-5)
        assert wrap180(angle_deg(zv) - [0, -120, 120][k]) == pytest.approx(0, abs=1e-3)
        assert wrap180(angle_deg(zv) - angle_deg(zi) - phs[k]["phi_deg"]) == \
            pytest.approx(0, abs=2e-3)
    assert ch[7] == [0] * 1600                               # spare
    # neutral = i1 + i2 + i3 (7.5 A of phase currents: its peaks clip at +-10 A)
    for n in range(1600):
        tot = ch[3][n] + ch[4][n] + ch[5][n]
        assert abs(max(-32768, min(32767, tot)) - ch[6][n]) <= 2


def test_rp2040_skew_bias_and_scale():
    """Round-robin: I sampled 1/3 frame after V, neutral 2/3; real bias +3/-2/+1 codes."""
    sc = sc162([seg(0.5, [ph(230, 20, 0.0)], noise=False)])
    src = waveform.WaveformSource(sc, "rp2040")
    v, i, n = render(src)
    assert mean(v) == pytest.approx(2051, abs=0.2)
    assert mean(i) == pytest.approx(2046, abs=0.2)
    assert mean(n) == pytest.approx(2049, abs=0.2)
    zv, zi, zn = dft(v, 2051, 50, 4000), dft(i, 2046, 50, 4000), dft(n, 2049, 50, 4000)
    step = 360.0 * 50 / (4000 * 3)                 # 1.5 degrees per channel slot
    assert wrap180(angle_deg(zi) - angle_deg(zv)) == pytest.approx(step, abs=0.01)
    assert wrap180(angle_deg(zn) - angle_deg(zv)) == pytest.approx(2 * step, abs=0.01)
    # transfer curve "centred" (default): between the wide codes the slope is
    # 512 / (512 - 4.5) -> a small signal around mid-rail reads 0.89 % high
    assert abs(zi) * 130 / 2048 == pytest.approx(20 * 512 / 507.5, rel=5e-4)
    assert abs(zv) * 450 / 2048 == pytest.approx(230, rel=3e-3)
    # ... which the Pico board's linearisation table (boards/pico/adc_dnl.py) undoes
    from boards.pico import adc_dnl
    lut = adc_dnl.table(9.0, 8)
    zl = dft([lut[x] for x in i], mean([lut[x] for x in i]), 50, 4000)
    assert abs(zl) * 130 / 2048 / 8 == pytest.approx(20, rel=2e-4)
    zl = dft([lut[x] for x in v], mean([lut[x] for x in v]), 50, 4000)
    assert abs(zl) * 450 / 2048 / 8 == pytest.approx(230, rel=2e-4)
    # transfer curve "outward": I (+-446 codes around mid-rail) is converted ideally;
    # V (+-1480 codes) crosses the wide codes 1536 and 2560 and reads
    # W * (4/pi) * sqrt(1 - (512/1480)^2) = 10.8 codes (0.73 %) low
    v, i, n = render(waveform.WaveformSource(sc, "rp2040", dnl_model="outward"))
    zv, zi = dft(v, 2051, 50, 4000), dft(i, 2046, 50, 4000)
    assert abs(zi) * 130 / 2048 == pytest.approx(20, rel=1e-4)
    a = 230 * math.sqrt(2) / (450 / 2048)
    drop = 9 * 4 / math.pi * math.sqrt(1 - (512 / a) ** 2)
    assert abs(zv) * math.sqrt(2) == pytest.approx(a - drop, rel=1e-3)
    vi = render(waveform.WaveformSource(sc, "rp2040", dnl=False))[0]
    assert abs(dft(vi, 2051, 50, 4000)) * 450 / 2048 == pytest.approx(230, rel=1e-4)
    # without neutral: stride 2, skew 1/2 frame = 2.25 degrees
    v, i = render(waveform.WaveformSource(sc, "rp2040", neutral=False))
    assert wrap180(angle_deg(dft(i, 2046, 50, 4000)) - angle_deg(dft(v, 2051, 50, 4000))) == \
        pytest.approx(2.25, abs=0.01)


def test_quantisation_range_and_clipping():
    big = sc162([seg(0.04, [ph(500, 200, 0.0)])])
    for model, lo, hi in (("rp2040", 0, 4095), ("ads131m08", -32768, 32767)):
        ch = render(waveform.WaveformSource(big, model))
        allc = [x for c in ch for x in c]
        assert min(allc) >= lo and max(allc) <= hi
        assert min(ch[0]) == lo and max(ch[0]) == hi                 # 707 V peak clips
        ich = 1 if model == "rp2040" else 3
        assert min(ch[ich]) == lo and max(ch[ich]) == hi             # 283 A peak clips
    ch = render(waveform.WaveformSource(sc351([seg(0.02, [ph(230, 1)] * 3)]), "ads131m08"))
    assert max(max(ch[3]), -min(ch[3])) < 6000                    # 1.41 A peak of 10 A fs


def _widths(code, lo=-40, hi=4137):
    widths = {}
    prev = None
    for k in range(lo * 64, hi * 64):
        c = code(k * (1 << 14) // 64 - 8192)       # analog value in 1/64 LSB steps
        assert prev is None or c >= prev           # monotonic
        prev = c
        widths[c] = widths.get(c, 0) + 1
    assert sorted(widths) == list(range(4096))     # no missing code
    return widths


WIDE = (512, 1536, 2560, 3584)


def test_rp2040_transfer_curve_centred():
    """Default model: codes 512, 1536, 2560, 3584 are 1 + 9 LSB wide (RP2040-E11), centred on
    their ideal position; the other codes of each 1024-code period share what is left."""
    src = waveform.WaveformSource(sc162([seg(0.02, [ph(0, 0)])]), "rp2040")
    st = src._st
    args = (st[waveform.S_LOEND], st[waveform.S_HISTART], st[waveform.S_HISPAN])
    assert src.frontend["dnl_model"] == "centred" and st[waveform.S_MODE] == 1
    w = _widths(lambda y: waveform.rp2040_code_centred(y, *args), 0, 4096)
    for c in WIDE:
        assert w[c] / 64 == pytest.approx(10.0, abs=0.02)
    rest = [w[c] / 64 for c in range(1, 4095) if c not in WIDE]
    assert min(rest) >= 1 - 9 / 1014 - 0.02 and max(rest) <= 1 - 9 / 1024 + 0.02
    for x, c in ((0, 0), (512, 512), (2048, 2048), (1536, 1536), (1531, 1536), (1000, 1000),
                 (517, 513), (768, 766),
                 (2300, 2302), (4095, 4095), (5000, 4095), (-5, 0)):
        assert waveform.rp2040_code_centred(x << 14, *args) == c, x


def test_rp2040_transfer_curve_outward():
    """Model "outward": wide codes extend away from mid-rail, every other code 1 LSB."""
    src = waveform.WaveformSource(sc162([seg(0.02, [ph(0, 0)])]), "rp2040",
                                  dnl_model="outward")
    wq = src._st[waveform.S_DNLW]
    assert wq == 9 << 14 and src._st[waveform.S_MODE] == 2
    w = _widths(lambda y: waveform.rp2040_code(y, wq))
    for c in WIDE:
        assert w[c] == 10 * 64
    assert {w[c] for c in range(1, 4095) if c not in WIDE} == {64}
    # ideal around mid-rail; 9 LSB further out beyond each wide code
    for x, c in ((2048, 2048), (1537, 1537), (2559, 2559), (1535, 1536), (1527, 1536),
                 (1526, 1535), (513, 522), (504, 513), (503, 512), (494, 512), (493, 511),
                 (0, 18), (-18, 0), (-500, 0), (2560, 2560), (2569, 2560), (2570, 2561),
                 (3000, 2991), (3592, 3583), (3593, 3584), (3602, 3584), (3603, 3585),
                 (4000, 3982), (4113, 4095), (5000, 4095)):
        assert waveform.rp2040_code(x << 14, wq) == c, x
    assert waveform.rp2040_code(1000 << 14, 0) == 1000
    with pytest.raises(ValueError, match="^dnl_model"):
        adc.frontend("rp2040", dnl_model="x")


def test_rp2040_wide_code_visible_in_rendered_histogram():
    # V channel sweeps 571..3531 codes; 49.37 Hz is not coherent with 4 kHz, so the
    # samples visit every phase (at 50 Hz the 80 samples of a cycle repeat forever)
    sc = sc162([seg(10, [ph(230, 0)], 49.37)])
    for model in ("centred", "outward"):
        src = waveform.WaveformSource(sc, "rp2040", neutral=False, dnl_model=model)
        v = render(src)[0]
        assert len(v) == 40000
        hist = {}
        for x in v:
            hist[x] = hist.get(x, 0) + 1
        near = mean([hist.get(c, 0) for c in list(range(1520, 1532)) + list(range(1541, 1553))])
        assert hist[1536] / near == pytest.approx(10, rel=0.35)


def rounded_gauss_rms(sigma):
    """rms of round(N(0, sigma)): sum of k^2 P(k - 1/2 < x < k + 1/2)."""
    cdf = lambda x: 0.5 * (1 + math.erf(x / (sigma * math.sqrt(2))))
    return math.sqrt(sum(k * k * (cdf(k + 0.5) - cdf(k - 0.5)) for k in range(-60, 61)))


def test_noise_statistics_and_seed():
    quiet = sc162([seg(1, [ph(0, 0)])])
    v, i, n = render(waveform.WaveformSource(quiet, "rp2040"))
    for x, b in ((v, 2051), (i, 2046), (n, 2049)):
        assert mean(x) == pytest.approx(b, abs=0.05)
        assert rms_ac(x, b) == pytest.approx(rounded_gauss_rms(1.2), rel=0.03)
    ch = render(waveform.WaveformSource(quiet, "ads131m08", seed=5))
    for c in range(7):
        assert abs(mean(ch[c])) < 0.02
        assert rms_ac(ch[c], 0) == pytest.approx(rounded_gauss_rms(0.3), rel=0.05)
    assert ch[7] == [0] * 8000
    assert ch == render(waveform.WaveformSource(quiet, "ads131m08", seed=5))
    assert ch != render(waveform.WaveformSource(quiet, "ads131m08", seed=6))
    # noise false (per segment, or per source) gives clean constant codes
    assert set(render(waveform.WaveformSource(quiet, "ads131m08", noise=False))[3]) == {0}
    q2 = sc162([seg(0.1, [ph(0, 0)], noise=False)])
    assert set(render(waveform.WaveformSource(q2, "rp2040"))[1]) == {2046}
    ch = render(waveform.WaveformSource(quiet, "ads131m08", noise_lsb=2.0))
    assert rms_ac(ch[0], 0) == pytest.approx(rounded_gauss_rms(2.0), rel=0.03)


def test_segment_switch_at_the_crossing_frame():
    # 0.0101 s at 8 kHz = 80.8 frames -> the second segment starts at frame 81
    sc = sc162([seg(0.0101, [ph(230, 0)], noise=False), seg(0.05, [ph(230, 50, 10)], noise=False)])
    src = waveform.WaveformSource(sc, "ads131m08")
    assert src.seg_starts == [0, 81] and src.total_frames == 81 + 400
    i = render(src)[3]
    assert set(i[:81]) == {0}
    assert all(x != 0 for x in i[81:84])
    # a scenario ending inside a block: the block is completed, then fill() says False
    assert len(i) == 2 * 320 and src.frames_done == 640
    assert src.fill(array("h", bytes(2 * 8 * src.frames))) is False


def test_phase_continuous_across_segments_and_modes():
    one = sc162([seg(0.3, [ph(230, 10, 30)], noise=False)])
    split = sc162([seg(0.1037, [ph(230, 10, 30)], noise=False),
                   seg(0.0963, [ph(230, 3, 80)], noise=False),
                   seg(0.1, [ph(230, 10, 30)], noise=False)])
    a = render(waveform.WaveformSource(one, "ads131m08"))
    b = render(waveform.WaveformSource(split, "ads131m08"))
    assert a[0] == b[0]                                   # the voltage does not notice
    assert a[3][:829] == b[3][:829] and a[3][-800:] == b[3][-800:]
    # frequency changes (exact -> DDS -> exact): no jump beyond the slope of the sine
    fch = sc162([seg(0.1, [ph(230, 10)], 50.0, False), seg(0.1037, [ph(230, 10)], 49.7, False),
                 seg(0.1, [ph(230, 10)], 60.0, False)])
    src = waveform.WaveformSource(fch, "ads131m08")
    v = render(src)[0]
    amp = 230 * math.sqrt(2) / (400 / 32768)
    lim = amp * 2 * math.pi * 60 / 8000 * 1.001 + 1
    assert max(abs(v[k + 1] - v[k]) for k in range(len(v) - 1)) <= lim


def test_dds_equals_exact_within_one_code():
    sc = sc162([seg(0.2, [ph(230, 40, 30, [[5, 0.05, 0.3, 20.0], [13, 0.01, 0.02]])],
                    noise=False)])
    ex = waveform.WaveformSource(sc, "ads131m08")
    dd = waveform.WaveformSource(sc, "ads131m08", dds=True, dds_n=512)
    a, b = render(ex), render(dd)
    assert ex.mode == "exact" and dd.mode == "dds"
    for c in (0, 3, 6):
        # residual images of linear interpolation: sum_h A_h (h / (N - h))^2 < 1 code
        assert max(abs(x - y) for x, y in zip(a[c], b[c])) <= 2
        # both within the converter's own rounding of the analytic rms
        lsb = 400 / 32768 if c == 0 else 130 / 32768
        exp = [230 * math.sqrt(1.0026), 0, 0, 40 * math.sqrt(1.0904)][min(c, 3)]
        assert rms_ac(a[c], 0) * lsb == pytest.approx(exp, rel=1e-5)
        assert rms_ac(b[c], 0) * lsb == pytest.approx(exp, rel=1e-5)
    # a 49th harmonic is still right in rms, its shape carries a (49/975)^2 image
    sc = sc162([seg(0.2, [ph(230, 40, 30, [[49, 0.02, 0.05]])], noise=False)])
    a = render(waveform.WaveformSource(sc, "ads131m08"))
    b = render(waveform.WaveformSource(sc, "ads131m08", dds=True))
    assert rms_ac(a[3], 0) == pytest.approx(rms_ac(b[3], 0), rel=2e-5)


def test_off_nominal_frequency_dds():
    f = 49.5                                          # 99 cycles in 2 s, period 16000 frames
    phs = [ph(230, 5, 60, [[3, 0.03, 0.25, 15.0]]), ph(230, 3, 10), ph(230, 1, 250)]
    sc = sc351([seg(2.0, phs, f, False)])
    src = waveform.WaveformSource(sc, "ads131m08")
    ch = render(src)
    assert src.mode == "dds" and len(ch[0]) == 16000
    tr = truth.energies(sc)["segments"][0]
    vl, il = 400 / 32768, 10 / 32768
    for k in range(3):
        v, i = ch[k], ch[3 + k]
        p = sum(a * b for a, b in zip(v, i)) / len(v) * vl * il
        exp = tr["phases"][k]
        assert p == pytest.approx(exp["p_w"], abs=2e-5 * exp["s_va"])
        assert rms_ac(v, 0) * vl == pytest.approx(exp["v_rms"], rel=5e-6)
        assert rms_ac(i, 0) * il == pytest.approx(exp["i_rms"], rel=2e-5)
    # frequency from interpolated positive zero crossings of V1
    v = ch[0]
    xs = [k + v[k] / (v[k] - v[k + 1]) for k in range(len(v) - 1) if v[k] < 0 <= v[k + 1]]
    fest = (len(xs) - 1) / ((xs[-1] - xs[0]) / 8000)
    assert fest == pytest.approx(f, rel=2e-6)


def test_aron_channels():
    phs = [ph(230, 4, 30), ph(230, 4, 30), ph(230, 4, 30)]
    sc = sc351([seg(0.1, phs, noise=False)], wiring="aron")
    src = waveform.WaveformSource(sc, "ads131m08")
    ch = render(src)
    assert src.systems[0]["v_lsb"] == 800 / 32768                   # line-to-line range
    vl, il = 800 / 32768, 10 / 32768
    z12, z1 = dft(ch[0], 0, 50, 8000), dft(ch[3], 0, 50, 8000)
    assert abs(z12) * vl == pytest.approx(230 * math.sqrt(3), rel=1e-5)
    assert wrap180(angle_deg(z12)) == pytest.approx(30, abs=1e-3)     # V12 leads V1 by 30
    assert wrap180(angle_deg(dft(ch[2], 0, 50, 8000))) == pytest.approx(90, abs=1e-3)  # V32
    assert set(ch[1]) <= {-1, 0, 1} and set(ch[4]) <= {0} and set(ch[6]) <= {0}
    tr = truth.energies(sc)
    ptot = 0.0
    for k, (vc, ic) in enumerate(((0, 3), (2, 5))):
        p = sum(a * b for a, b in zip(ch[vc], ch[ic])) / len(ch[0]) * vl * il
        assert p == pytest.approx(tr["segments"][0]["systems"][k]["p_w"], rel=1e-4)
        ptot += p
    assert ptot == pytest.approx(3 * 920 * math.cos(math.radians(30)), rel=1e-5)
    assert abs(z1) * il == pytest.approx(4, rel=1e-4)


def test_neutral_current():
    vl_i = 10 / 32768
    bal = sc351([seg(0.1, [ph(230, 4, 20, [[3, 0, 0.2]])] * 3, noise=False)])
    ch = render(waveform.WaveformSource(bal, "ads131m08"))
    # balanced fundamentals cancel, the triplen 3rd harmonics add: 3 * 0.8 A
    assert rms_ac(ch[6], 0) * vl_i == pytest.approx(2.4, rel=1e-4)
    one = sc351([seg(0.1, [ph(230, 4, 20), ph(230, 0), ph(230, 0)], noise=False)])
    ch = render(waveform.WaveformSource(one, "ads131m08"))
    assert ch[6] == ch[3]
    ch = render(waveform.WaveformSource(sc162([seg(0.1, [ph(230, 7, 20)], noise=False)]),
                                        "ads131m08"))
    assert ch[6] == ch[3]


def test_analog_errors():
    sc = sc162([seg(0.2, [ph(230, 50, 0)], noise=False)])
    ref = render(waveform.WaveformSource(sc, "ads131m08"))
    err = render(waveform.WaveformSource(
        sc, "ads131m08", errors={3: {"gain": 1.01, "delay_us": 100.0, "offset": 3.5}}))
    zr, ze = dft(ref[3], 0, 50, 8000), dft(err[3], 0, 50, 8000)
    assert abs(ze) / abs(zr) == pytest.approx(1.01, rel=1e-5)
    assert wrap180(angle_deg(zr) - angle_deg(ze)) == pytest.approx(360 * 50 * 100e-6, abs=1e-3)
    assert mean(err[3]) == pytest.approx(3.5, abs=0.51)
    assert err[0] == ref[0]


def test_phasor_source_against_truth():
    phs = [ph(230, 4, 30, [[5, 0.05, 0.3, 40.0]]), ph(225, 2.5, 300), ph(235, 1, 180)]
    phs2 = [ph(231, 1, 10), ph(229, 0.5, 200), ph(232, 5, 90)]
    sc = sc351([seg(2.5, phs), seg(1.0, phs2, 49.9), seg(1.25, phs)], wiring="aron")
    tr = truth.energies(sc)
    src = waveform.PhasorSource(sc, fs=8000)
    reads = []
    while True:
        r = src.read()
        if r is None:
            break
        reads.append(r)
    assert [r[0] for r in reads] == [1, 1, 1, 1, pytest.approx(0.75)]
    assert src.seconds_done == pytest.approx(4.75) and src.frames_done == 38000
    # first second lies in segment 0: instantaneous values equal the truth's systems
    for got, exp in zip(reads[0][1], tr["segments"][0]["systems"]):
        assert got == pytest.approx((exp["p_w"], exp["q_var"], exp["v_rms"], exp["i_rms"]))
    assert reads[2][2] == pytest.approx(0.5 * 50 + 0.5 * 49.9)
    # energy is conserved across the seconds that straddle segment switches
    p_wh = sum(r[0] * sum(s[0] for s in r[1]) for r in reads) / 3600
    q_wh = sum(r[0] * sum(s[1] for s in r[1]) for r in reads) / 3600
    t = tr["total"]
    exp_p = sum(s["p_w"] * s["duration_s"] for s in tr["segments"]) / 3600
    assert p_wh == pytest.approx(exp_p) and (t["A+"] - t["A-"]) == pytest.approx(exp_p)
    assert q_wh == pytest.approx(t["R+"] - t["R-"])


def test_phasor_source_four_wire_per_phase():
    phs = [ph(230, 10, 30, [[3, 0.02, 0.5]]), ph(230, 5, 0), ph(230, 1, 270)]
    src = waveform.PhasorSource(sc351([seg(3, phs)]))
    secs, vals, f = src.read()
    exp = truth.energies(sc351([seg(3, phs)]))["segments"][0]["phases"]
    assert secs == 1 and f == 50.0 and len(vals) == 3
    for got, e in zip(vals, exp):
        assert got == pytest.approx((e["p_w"], e["q_var"], e["v_rms"], e["i_rms"]))


# -- the same codes under MicroPython (viper) and CPython (twin) -------------------------
MP_SCRIPT = r"""
import sys
from array import array
from boards.sim import waveform as W
sc = %s
h = 0
for model, kw in (("ads131m08", {}), ("rp2040", {})):
    if model == "rp2040":
        sc["profile"] = "162"
        for s in sc["segments"]:
            s["phases"] = s["phases"][:1]
    s = W.WaveformSource(sc, model, seed=3)
    b = array("h", bytearray(2 * s.frames * s.stride))
    while s.fill(b):
        for x in b:
            h = (h * 1000003 + (x & 0xFFFF)) %% 2305843009213693951
    s = None
print(h)
"""


def test_identical_codes_micropython_and_cpython(tmp_path):
    mp = os.path.join(ROOT, ".venv", "bin", "micropython")
    if not os.path.exists(mp):
        pytest.skip("no micropython")
    phs = [ph(230, 4.5, 30, [[5, 0.03, 0.2, 10.0]]), ph(231, 2, 300), ph(229, 1, 180)]
    sc = sc351([seg(0.1037, phs), seg(0.2, phs, 49.95), seg(0.05, phs, 60.0)])
    script = MP_SCRIPT % json.dumps(sc)
    path = tmp_path / "ident.py"
    path.write_text(script)
    env = dict(os.environ, MICROPYPATH=ROOT)
    r = subprocess.run([mp, "-X", "heapsize=192k", str(path)], capture_output=True, text=True,
                       env=env, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr + r.stdout
    ns = {}
    code = script.replace("print(h)", "RESULT = h")
    exec(compile(code, "ident", "exec"), ns)   # noqa: S102 - the same script under CPython
    assert int(r.stdout.split()[-1]) == ns["RESULT"]
    assert sys.implementation.name == "cpython"


# -- the generator's own accuracy (before the converter quantises) -----------------------
def _table(src, c):
    row = src._st[waveform.S_ROW]
    return [(x - waveform.TOFF) / (1 << waveform.Q) for x in src._tabs[c][:row]]


def test_fixed_point_tables_exact_mode():
    """Exact mode: table entry k is the analytic sample, rounded to 2**-15 LSB at most."""
    phs = [ph(230, 0.3, 37, [[3, 0.02, 0.5, 25.0]])]
    sc = sc162([seg(0.02, phs, 60.0, False)])
    src = waveform.WaveformSource(sc, "rp2040")
    src.fill(array("h", bytes(2 * 80 * 3)))
    assert src.mode == "exact" and src._L == 200          # 60 Hz at 4 kHz: 3 cycles
    w = 2 * math.pi * 60
    vt = [2051 + math.sqrt(2) * 230 / (450 / 2048) *
          (math.cos(w * k / 4000) + 0.02 * math.cos(3 * w * k / 4000)) for k in range(200)]
    d = 1 / 12000                                          # I sampled one slot later
    it = [2046 + math.sqrt(2) * 0.3 / (130 / 2048) *
          (math.cos(w * (k / 4000 + d) - math.radians(37)) +
           0.5 * math.cos(3 * w * (k / 4000 + d) - math.radians(25))) for k in range(200)]
    tv, ti = _table(src, 0), _table(src, 1)
    assert max(abs(a - b) for a, b in zip(tv, vt)) <= 2 ** -15 + 1e-9
    assert max(abs(a - b) for a, b in zip(ti, it)) <= 2 ** -15 + 1e-9
    # P from the table values (4.7-LSB current!) vs the analytic P: far below 0.001 %
    scale = (450 / 2048) * (130 / 2048) / 200
    p = sum((a - 2051) * (b - 2046) for a, b in zip(tv[:200], ti[:200])) * scale
    exact = sum((a - 2051) * (b - 2046) for a, b in zip(vt, it)) * scale
    assert p == pytest.approx(exact, rel=2e-6)       # 0.001 % would be 1e-5
    assert exact == pytest.approx(230 * 0.3 * math.cos(math.radians(37 - 360 * 60 / 12000))
                                  + 4.6 * 0.15 * math.cos(math.radians(25 - 3 * 360 * 60 / 12000)),
                                  rel=1e-9)


def test_fixed_point_dds_interpolation():
    """DDS mode: samples interpolated from the table as the kernel does give P within 1e-6."""
    phs = [ph(230, 10, 30, [[5, 0.05, 0.3, 20.0], [13, 0.01, 0.1, 0.0]])]
    sc = sc162([seg(1.0, phs, 49.5, False)])
    src = waveform.WaveformSource(sc, "ads131m08")
    src.fill(array("h", bytes(2 * src.frames * 8)))
    assert src.mode == "dds" and src._L == 1024
    st = src._st
    fb, step, wrap = st[waveform.S_FB], st[waveform.S_STEP], st[waveform.S_WRAP]
    assert wrap == 1 << 30 and step == round(49.5 / 8000 * (1 << 30))
    tv, ti = _table(src, 0), _table(src, 3)
    acc, p = 0, 0.0
    n = 16000                                              # 99 whole cycles
    for _ in range(n):
        j, fr = acc >> fb, (acc & ((1 << fb) - 1)) / (1 << fb)
        v = tv[j] + (tv[j + 1] - tv[j]) * fr
        i = ti[j] + (ti[j + 1] - ti[j]) * fr
        p += v * i
        acc = (acc + step) % wrap
    p = p / n * (400 / 32768) * (130 / 32768)
    exp = truth.energies(sc)["segments"][0]["p_w"]
    assert p == pytest.approx(exp, rel=1e-6)

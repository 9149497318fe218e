"""On-MicroPython tests of the simulator's signal side: viper renderer == twin, signal, speed.

The board modules are imported when the first test here runs, not when the runner
imports this file: the suite shares one 192 KB heap, and the other modules' tests
run first.
"""

import gc
import math
import time
import unittest
from array import array

import micropython

waveform = None
scenario = None


def load():
    global waveform, scenario
    if waveform is None:
        gc.collect()
        from boards.sim import scenario as s
        from boards.sim import waveform as w

        waveform, scenario = w, s

START = "2026-01-01T00:00:00Z"


def sc(profile, dur, phases, f=50.0, noise=True, wiring="4w"):
    return {"start": START, "profile": profile, "wiring": wiring,
            "segments": [{"duration_s": dur, "frequency_hz": f, "noise": noise,
                          "phases": phases}]}


def ph(v, i, phi=0.0, harm=None):
    return {"v_rms": v, "i_rms": i, "phi_deg": phi, "harmonics": harm or []}


def block(src):
    return array("h", bytearray(2 * src.frames * src.stride))


class TestRendererTwin(unittest.TestCase):
    def setUp(self):
        load()
        gc.collect()

    def tearDown(self):
        gc.collect()

    def check_twin(self, src, nblocks):
        """After `nblocks` blocks (tables built, state mid-way), one block by both loops."""
        self.assertTrue(waveform.VIPER)
        a, b = block(src), block(src)
        for _ in range(nblocks):
            src.fill(a)
        st_v = array("i", src._st)
        st_p = array("i", src._st)
        for c in range(src.stride):
            waveform.render_viper(a, 0, src.frames, src._tabs[c], st_v, src._gauss, c)
            waveform.render_py(b, 0, src.frames, src._tabs[c], st_p, src._gauss, c)
        self.assertTrue(a == b)
        self.assertTrue(st_v == st_p)

    def test_twin_all_models(self):
        one = [ph(230, 12, 30, [[3, 0.03, 0.4, 20.0]])]
        three = [ph(230, 4, 30, [[5, 0.02, 0.2]]), ph(231, 2, 300), ph(229, 1, 180)]
        cases = ((sc("162", 0.1, one), "rp2040", {}),
                 (sc("162", 0.1, one), "rp2040", {"dnl_model": "outward"}),
                 (sc("162", 0.1, one, 49.95), "rp2040", {"neutral": False}),
                 (sc("162", 0.1, [ph(500, 200)]), "rp2040", {}),           # clipping
                 (sc("351", 0.1, three), "ads131m08", {}),
                 (sc("351", 0.1, three, 61.3, wiring="aron"), "ads131m08", {}),
                 (sc("162", 0.1, [ph(500, 200)]), "ads131m08", {}))
        for s, model, kw in cases:
            src = waveform.WaveformSource(s, model, **kw)
            self.check_twin(src, 2)
            src = None
            gc.collect()


class TestSignal(unittest.TestCase):
    def setUp(self):
        load()
        gc.collect()

    def tearDown(self):
        gc.collect()

    def test_ads_rms_and_power(self):
        s = sc("162", 0.2, [ph(230, 40, 30, [[5, 0.05, 0.3, 20.0]])], noise=False)
        src = waveform.WaveformSource(s, "ads131m08")
        b = block(src)
        n = svv = sii = svi = 0
        while src.fill(b):
            for k in range(0, len(b), 8):
                v, i = b[k], b[k + 3]
                svv += v * v
                sii += i * i
                svi += v * i
                n += 1
        self.assertEqual(n, 1600)
        vl, il = 400 / 32768, 130 / 32768
        v_exp = 230 * math.sqrt(1 + 0.0025)
        i_exp = 40 * math.sqrt(1 + 0.09)
        p_exp = 230 * 40 * math.cos(math.radians(30)) + 11.5 * 12 * math.cos(math.radians(20))
        self.assertAlmostEqual(math.sqrt(svv / n) * vl / v_exp, 1.0, delta=1e-5)
        self.assertAlmostEqual(math.sqrt(sii / n) * il / i_exp, 1.0, delta=1e-5)
        self.assertAlmostEqual(svi / n * vl * il / p_exp, 1.0, delta=3e-5)

    def test_rp2040_bias_and_clock(self):
        src = waveform.WaveformSource(sc("162", 0.5, [ph(0, 0)]), "rp2040")
        smp = waveform.Sampler(src)
        sums = [0, 0, 0]
        blocks = 0
        while True:
            b = smp.read()
            if b is None:
                break
            blocks += 1
            for c in range(3):
                s = 0
                for k in range(c, len(b), 3):
                    s += b[k]
                sums[c] += s
        self.assertEqual(blocks, 25)
        self.assertEqual(src.frames_done, 2000)
        for c, bias in enumerate((2051, 2046, 2049)):
            self.assertAlmostEqual(sums[c] / 2000, bias, delta=0.1)

    def test_sampler_ring(self):
        src = waveform.WaveformSource(sc("162", 1, [ph(230, 5, 10)]), "ads131m08")
        smp = waveform.Sampler(src)
        a = smp.read()
        snap = array("h", a)
        b = smp.read()
        c = smp.read()
        self.assertTrue(a is not b and b is not c and a is not c)
        self.assertTrue(a == snap)
        self.assertTrue(smp.read() is a)          # ring of three
        self.assertEqual(smp.frames_done, 4 * smp.frames)

    def test_no_allocation_in_steady_state(self):
        src = waveform.WaveformSource(sc("351", 1, [ph(230, 4, 30)] * 3), "ads131m08")
        b = block(src)
        src.fill(b)                               # first block builds the tables
        micropython.heap_lock()
        try:
            for _ in range(10):
                src.fill(b)
        finally:
            micropython.heap_unlock()
        self.assertEqual(src.frames_done, 11 * src.frames)

    def test_scenario_errors_name_the_field(self):
        bad = sc("162", 1, [ph(230, -1)])
        try:
            scenario.validate(bad)
            self.fail("accepted")
        except ValueError as e:
            self.assertEqual(str(e), "segments[0].phases[0].i_rms: must be a number in 0..200")
        self.assertEqual(scenario.parse_utc("2000-02-29T12:34:56Z"), 951827696)
        self.assertRaises(ValueError, scenario.parse_utc, "2026-02-29T00:00:00Z")

    def test_phasor_source(self):
        src = waveform.PhasorSource(sc("351", 2.5, [ph(230, 5, 60)] * 3, wiring="aron"))
        secs, vals, f = src.read()
        self.assertEqual((secs, len(vals), f), (1, 2, 50.0))
        p = vals[0][0] + vals[1][0]
        self.assertAlmostEqual(p, 3 * 230 * 5 * 0.5, delta=1e-6)
        src.read()
        secs, vals, f = src.read()
        self.assertAlmostEqual(secs, 0.5, delta=1e-9)
        self.assertTrue(src.read() is None)


class TestSpeed(unittest.TestCase):
    def setUp(self):
        load()
        gc.collect()

    def tearDown(self):
        gc.collect()

    def speed(self, s, model):
        src = waveform.WaveformSource(s, model)
        b = block(src)
        src.fill(b)
        t0 = time.ticks_us()
        n = 0
        while n < 100 and src.fill(b):
            n += 1
        dt = time.ticks_diff(time.ticks_us(), t0)
        rate = n * len(b) * 1e6 / dt
        print(" [%s %s %.1f M channel-samples/s]" % (model, src.mode, rate / 1e6), end="")
        return rate

    def test_speed(self):
        harm = [[3, 0.02, 0.3, 10.0], [5, 0.03, 0.2, 30.0]]
        self.assertTrue(self.speed(sc("162", 5, [ph(230, 10, 30, harm)]), "rp2040") >= 2e6)
        self.assertTrue(self.speed(sc("162", 5, [ph(230, 10, 30, harm)], 49.95),
                                   "rp2040") >= 2e6)
        three = [ph(230, 4, 30, harm)] * 3
        self.assertTrue(self.speed(sc("351", 5, three), "ads131m08") >= 2e6)
        # DDS on the AFE: 1-phase keeps the heap small (4 tables), the same 8 channels
        self.assertTrue(self.speed(sc("162", 5, [ph(230, 10, 30, harm)], 49.95),
                                   "ads131m08") >= 2e6)

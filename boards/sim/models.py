"""Board code on hardware models: a real board's sampler on host_tests' register-level models.

`--board pico` (tools/sim.py, boards/sim/main.py) runs boards/pico/sampler.py, the
driver the Pico runs, on host_tests/rp2040_adc_model.py (ADC round robin, FIFO, DMA,
timer); `--board pico_ads131m08` runs boards/pico_ads131m08/sampler.py on the PIO, DMA
and ADS131M08 models. The analog side is the scenario (or the calibration bench, below)
evaluated at each conversion's own instant, through the same front-end description as
the waveform simulator (boards/sim/adc.py: scales, real biases, noise, the RP2040's E11
wide codes) plus the analog errors of a mis-calibrated board (`errors`):

    {"<channel>": {"gain": g, "delay_us": d, "offset": codes,
                   "gain_points": [[amps, g], ...], "delay_points": [[amps, us], ...]}}

gain_points / delay_points make a current transformer whose ratio and phase errors
depend on the current (interpolated in log(amps) at the phase's present current, on top
of gain and delay_us), as real CTs do: the case multi-point calibration is for.

The calibration bench (`--bench tcp:127.0.0.1:PORT`): a loopback TCP line protocol, as a
remote-controlled meter test bench would offer: `LOAD <json>` sets the load from the
next conversion on ({"frequency_hz": f, "phases": [{v_rms, i_rms, phi_deg, ...}]}, the
scenario's segment format) and answers `OK <model seconds>`; `TIME` answers the model
seconds. With a bench the last load is held until the simulator is stopped.

CPython only: the models are test code (host_tests/), far too slow for MicroPython.
Speed (one core): the Pico model runs ~7x faster than real time; the ADS131M08 model
(PIO executed from its opcodes, replayed once a frame's pin pattern is known) needs
~1.9 s per simulated second.
"""

import json
import math
import os
import random
import sys

from boards.sim import adc as sim_adc
from boards.sim import waveform
from boards.sim.board import SimButton, SimClock, SimPin

_HERE = os.path.dirname(os.path.abspath(__file__))
HOST_TESTS = os.path.join(os.path.dirname(os.path.dirname(_HERE)), "host_tests")
BOARDS = ("pico", "pico_ads131m08")
SQRT2 = math.sqrt(2.0)
T0_US = (1 << 32) - 2000000     # the model's timer wraps 2 s into every run


def _models():
    if HOST_TESTS not in sys.path:
        sys.path.insert(0, HOST_TESTS)


class Load:
    """The analog truth: the scenario's segments in model time, then (with a bench) the
    last load held and replaced by `set`. Phase is continuous across every change."""

    def __init__(self, scenario, hold=False):
        self.segs = scenario["segments"]
        self.k = 0
        self.t_end = self.segs[0]["duration_s"]
        self.hold = hold
        self.theta0 = 0.0        # fundamental angle at t_start
        self.t_start = 0.0
        self._use(self.segs[0])

    def _use(self, seg):
        self.f = seg["frequency_hz"]
        self.w = 2 * math.pi * self.f
        self.phases = seg["phases"]
        self.noise = seg.get("noise", True)
        self.irms = [ph["i_rms"] for ph in self.phases]

    def _switch(self, t, seg):
        self.theta0 += self.w * (t - self.t_start)
        self.t_start = t
        self._use(seg)

    def ended(self, t):
        """Advance to the segment holding t; True when the scenario is over."""
        while t >= self.t_end:
            if self.k + 1 >= len(self.segs):
                return not self.hold
            self.k += 1
            self._switch(self.t_end, self.segs[self.k])
            self.t_end += self.segs[self.k]["duration_s"]
        return False

    def set(self, t, seg):
        """The bench's new load from model time t on (held from then on)."""
        self._switch(t, seg)
        self.k = len(self.segs) - 1
        self.t_end = float("inf")

    def signal(self, terms, t):
        """sum(sign * v or i of phase p) at model time t (the scenario's conventions,
        boards/sim/waveform.py _components)."""
        th = self.theta0 + self.w * (t - self.t_start)
        x = 0.0
        for p, qty, sign in terms:
            ph = self.phases[p]
            va = th + math.radians(ph["v_angle_deg"])
            if qty == "v":
                y = math.cos(va)
                for h, fv, _fi, _a in ph["harmonics"]:
                    y += fv * math.cos(h * va)
                x += sign * SQRT2 * ph["v_rms"] * y
            else:
                y = math.cos(va - math.radians(ph["phi_deg"]))
                for h, _fv, fi, a in ph["harmonics"]:
                    y += fi * math.cos(h * va - math.radians(a))
                x += sign * SQRT2 * ph["i_rms"] * y
        return x


def _interp_log(points, amps):
    """Linear in log(amps) between [amps, value] points, held beyond both ends."""
    if amps <= points[0][0]:
        return points[0][1]
    for k in range(1, len(points)):
        a1, y1 = points[k]
        if amps <= a1:
            a0, y0 = points[k - 1]
            x = math.log(amps / a0) / math.log(a1 / a0)
            return y0 + x * (y1 - y0)
    return points[-1][1]


def parse_errors(raw, stride):
    """--errors JSON -> ({channel: scalar errors} for adc.frontend, {channel: points}).
    ValueError naming the field."""
    if not isinstance(raw, dict):
        raise ValueError("--errors: an object {channel: {gain, delay_us, offset, "
                         "gain_points, delay_points}}")
    scal = {}
    pts = {}
    for key, e in raw.items():
        try:
            c = int(key)
        except ValueError:
            raise ValueError("--errors: channel %r is not a number" % (key,))
        if not 0 <= c < stride:
            raise ValueError("--errors[%d]: channel outside 0..%d" % (c, stride - 1))
        if not isinstance(e, dict):
            raise ValueError("--errors[%d]: must be an object" % c)
        scal[c] = dict((k, v) for k, v in e.items() if not k.endswith("_points"))
        for k in ("gain_points", "delay_points"):
            if k not in e:
                continue
            lst = e[k]
            if not isinstance(lst, list) or not lst:
                raise ValueError("--errors[%d].%s: a list of [amps, value]" % (c, k))
            last = 0.0
            for n, p in enumerate(lst):
                ok = isinstance(p, list) and len(p) == 2 and all(
                    isinstance(x, (int, float)) and not isinstance(x, bool) for x in p)
                if not ok or not p[0] > last:
                    raise ValueError("--errors[%d].%s[%d]: [amps > 0 increasing, value]"
                                     % (c, k, n))
                if k == "gain_points" and not 0.5 <= p[1] <= 2.0:
                    raise ValueError("--errors[%d].gain_points[%d]: gain 0.5..2" % (c, n))
                if k == "delay_points" and not -1000 <= p[1] <= 1000:
                    raise ValueError("--errors[%d].delay_points[%d]: -1000..1000 us" % (c, n))
                last = p[0]
            pts.setdefault(c, {})[k] = [(float(a), float(v)) for a, v in lst]
    return scal, pts


class Analog:
    """value(ch, t): a converter channel's analog input in codes (float, noise-free) at
    model time t, from the load, the front end and the analog errors."""

    def __init__(self, load, fe, points):
        self.load = load
        self.fe = fe
        self.ch = fe["channels"]
        self.points = points

    def value(self, c, t):
        ch = self.ch[c]
        if not ch["terms"]:
            return ch["true_bias"] + ch["offset"]
        g = ch["gain"]
        d = ch["delay_us"]
        pts = self.points.get(c)
        if pts:
            amps = self.load.irms[ch["terms"][0][0]]
            if "gain_points" in pts:
                g *= _interp_log(pts["gain_points"], amps)
            if "delay_points" in pts:
                d += _interp_log(pts["delay_points"], amps)
        x = self.load.signal(ch["terms"], t - d * 1e-6)
        return ch["true_bias"] + ch["offset"] + g * x / ch["lsb"]


class RpAnalog(Analog):
    """The RP2040 model's analog(ain, t) -> code: noise and the E11 transfer curve as
    host_tests/rp2040_adc_model.py MainsInput does; AIN3/AIN4 fixed codes."""

    def __init__(self, load, fe, points, seed=1, noise=True):
        Analog.__init__(self, load, fe, points)
        self.rng = random.Random(seed) if noise else None
        self.sigma = fe["noise_lsb"]
        wq = int(fe["dnl_width"] * (1 << 14) + 0.5)
        self.curve = ((512 << 14) - wq // 2, (513 << 14) + wq // 2, (511 << 14) - wq // 2)
        self.n = len(self.ch)

    def __call__(self, ain, t):
        if ain >= self.n:
            return 2068 if ain == 3 else 876
        y = self.value(ain, t)
        if self.rng is not None and self.load.noise:
            y += self.rng.gauss(0.0, self.sigma)
        return waveform.rp2040_code_centred(int(math.floor(y * (1 << 14) + 0.5)),
                                            *self.curve)


class ModelClock(SimClock):
    """The meter's clock: the model's microsecond timer since the start of the run."""

    def __init__(self, chip, start_epoch):
        SimClock.__init__(self, chip, start_epoch)

    def ms(self):
        return (self.source.time_us() - T0_US) // 1000


class Bench:
    """The calibration bench's loopback TCP line server (see the module doc), polled
    without blocking from the sampling loop."""

    def __init__(self, host, port, load, clock_s):
        import socket

        self.load = load
        self.clock_s = clock_s
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, port))
        s.listen(1)
        s.setblocking(False)
        self.srv = s
        self.conn = None
        self.buf = b""
        self.loads = 0

    def poll(self):
        if self.conn is None:
            try:
                c, _a = self.srv.accept()
            except OSError:
                return
            c.setblocking(False)
            self.conn = c
            self.buf = b""
        try:
            got = self.conn.recv(4096)
        except OSError:
            return
        if not got:
            self.conn.close()
            self.conn = None
            return
        self.buf += got
        if len(self.buf) > 65536:
            self.buf = b""
            self._send("ERROR line too long")
        while b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            self._send(self.command(line.decode("utf-8", "replace").strip()))

    def _send(self, text):
        try:
            self.conn.sendall((text + "\n").encode())
        except OSError:
            pass

    def command(self, line):
        t = self.clock_s()
        if line == "TIME":
            return "%.6f" % t
        if line.startswith("LOAD "):
            try:
                seg = self.segment(json.loads(line[5:]))
            except ValueError as e:
                return "ERROR %s" % e
            self.load.set(t, seg)
            self.loads += 1
            return "OK %.6f" % t
        return "ERROR unknown command (LOAD <json> | TIME)"

    def segment(self, d):
        """A bench load, validated as a scenario segment (boards/sim/scenario.py)."""
        from boards.sim import scenario

        if not isinstance(d, dict):
            raise ValueError("LOAD: a JSON object")
        sc = {"start": "2026-01-01T00:00:00Z", "profile": self.profile,
              "segments": [dict(d, duration_s=1)]}
        if self.wiring != "4w":
            sc["wiring"] = self.wiring
        return scenario.validate(sc)["segments"][0]

    def close(self):
        for s in (self.conn, self.srv):
            if s is not None:
                s.close()


class Driven:
    """The board's sampler, with the model advanced one block period whenever the
    sampler has no block ready (what the passing of time does on a board). read() ->
    None when the scenario has ended (never, with a bench, until `stop` is set)."""

    def __init__(self, sampler, chip, load, period_s, bench=None):
        self.s = sampler
        self.chip = chip
        self.load = load
        self.period = period_s
        self.bench = bench
        self.stop = False
        for k in ("fs", "frames", "stride", "systems", "neutral", "lut", "creep_power"):
            if hasattr(sampler, k):
                setattr(self, k, getattr(sampler, k))

    def read(self):
        s = self.s
        b = s.read()
        while b is None:
            if self.bench is not None:
                self.bench.poll()
            t = (self.chip.time_us() - T0_US) / 1e6
            if self.stop or self.load.ended(t):
                return None
            self.chip.run(self.period)
            b = s.read()
        return b

    def counters(self):
        return dict((k, getattr(self.s, k)) for k in ("overruns", "resyncs", "crc_errors",
                                                      "status_errors", "stalls")
                    if hasattr(self.s, k))


def _pico(cfg, sc, load, points_raw, seed, noise):
    _models()
    from rp2040_adc_model import Rp2040, fakes

    from boards.pico.sampler import PicoSampler

    scal, points = parse_errors(points_raw or {}, 3)
    fe = sim_adc.frontend("rp2040", sc["profile"], sc.get("wiring", "4w"), neutral=True,
                          errors=scal)
    chip = Rp2040(RpAnalog(load, fe, points, seed, noise), t0_us=T0_US)
    m, r, u, t = fakes(chip)
    # the front end of the simulator's RP2040 model: +-450 V and +-130 A peak = +-1.65 V
    ct = 2000.0
    s = PicoSampler(m, r, u, t, 450.0 / 1.65, ct, ct * 1.65 / 130.0, neutral=True)
    return chip, s, s.frames / s.fs


class AdsAnalog(Analog):
    """The ADS131M08 model's analog input: frame(t) -> the 8 channels in volts at the
    chip's pins (the front end's codes at PGA gain 1: 1.2 V / 32768 per 16-bit code)."""

    VOLTS = 1.2 / 32768

    def frame(self, t):
        k = self.VOLTS
        return [self.value(c, t) * k for c in range(8)]

    def __call__(self, ch, t):
        return self.value(ch, t) * self.VOLTS


def _ads(cfg, sc, load, points_raw, seed, noise):
    _models()
    from ads131m08_model import Ads131m08Model
    from pio_model import Hub, fakes
    from rp2040_adc_model import Rp2040

    from boards.pico_ads131m08.sampler import PINS, AdsSampler

    wiring = sc.get("wiring", "4w")
    scal, points = parse_errors(points_raw or {}, 8)
    fe = sim_adc.frontend("ads131m08", sc["profile"], wiring, neutral=True, errors=scal)
    ana = AdsAnalog(load, fe, points)
    chip = Rp2040(lambda ain, t: 0, t0_us=T0_US)
    wires = {"sclk": PINS["sck"], "din": PINS["mosi"], "dout": PINS["miso"],
             "cs": PINS["cs"], "drdy": PINS["drdy"], "sync_reset": PINS["sync_reset"]}
    ads = Ads131m08Model(ana, wires, seed=seed,
                         noise_v=fe["noise_lsb"] * AdsAnalog.VOLTS if noise else 0.0)
    m, r, u, t = fakes(Hub(chip, [ads], fast=True))
    # the simulator's scales (boards/sim/adc.py): V +-400 V (Aron +-800 V line to line)
    # and I +-10 A peak secondary = +-1.2 V at gain 1
    v_ratio = (800.0 if wiring == "aron" else 400.0) / 1.2
    s = AdsSampler(m, r, u, t, PINS, v_ratio, 2500.0, 300.0, wiring=wiring)
    s.model = ads
    return chip, s, s.frames / s.fs


def make_board(name, cfg, sc, errors=None, seed=1, noise=True, bench=None):
    """(Board, Driven sampler) of board `name` on its models; bench: (host, port)."""
    from mpmeter.display.textlcd import TextLcd
    from mpmeter.hal import Board

    if name not in BOARDS:
        raise ValueError("--board: one of %s, got %r" % (", ".join(BOARDS), name))
    if name == "pico" and sc["profile"] != "162":
        raise ValueError("--board pico: a 1-phase board (scenario profile 162)")
    if name == "pico_ads131m08" and sc["profile"] != "351":
        raise ValueError("--board pico_ads131m08: a 3-phase board (scenario profile 351)")
    load = Load(sc, hold=bench is not None)
    chip, s, period = (_pico if name == "pico" else _ads)(cfg, sc, load, errors, seed,
                                                           noise)
    clock = ModelClock(chip, sc["start_epoch"])
    b_srv = None
    if bench is not None:
        b_srv = Bench(bench[0], bench[1], load, lambda: clock.ms() / 1000)
        b_srv.profile = sc["profile"]
        b_srv.wiring = sc.get("wiring", "4w")
    drv = Driven(s, chip, load, period, b_srv)
    b = Board(name + "-model", sampler=drv, clock=clock, led=SimPin("LED kWh"),
              led_q=SimPin("LED kvarh"), s0=SimPin("S0") if cfg.s0_imp_kwh else None,
              lcd=TextLcd(), button=SimButton(clock, sc.get("button", [])))
    if sc["profile"] == "162":
        b.relay = SimPin("relay")
        b.relay.value(1)
    b.source = chip
    b.adc = name
    b.chip = chip
    b.bench = b_srv
    return b

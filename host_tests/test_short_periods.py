"""Short and partial measurement periods are a normal case: boot at every mains phase,
a power-down at every frame of a block, a fault that never stops the meter.

The first period after boot runs from the start of sampling to the first zero
crossing, so at a random phase of the mains it lasts anything from one frame to a
cycle; a power-down closes whatever period is open. Truth is analytic (the scenario's
sinusoid), and the frame of the first crossing is computed here from the start phase.
"""

import math

import pytest

from boards.sim import scenario as scn
from boards.sim.board import SimPin, make_board
from mpmeter.config import Config
from mpmeter.display.lcd import ERROR
from mpmeter.logs import events as ev
from mpmeter.meter import FAULT_PERIOD, FAULT_PULSES, Meter
from mpmeter.storage.ramflash import RamFlash
from mpmeter.storage.store import REGION_BLOCKS, Store

PHASES = 80               # start phases, evenly spaced: one frame apart at 4000 Hz / 50 Hz
FS = 4000
V, AMPS = 230.0, 85.0        # the 162 at Imax: 19.55 kW, 5.4 LED pulses a second
SECONDS = 3               # a partial first period, two whole ones (50 cycles), the rest
PERIOD = 50 * FS // 50    # frames of a whole period (config "cycles": 50)


def board_at(phase_deg, seconds, phi=0.0, **settings):
    sc = scn.validate({"start": "2026-03-01T12:00:00Z", "profile": "162", "segments": [
        {"duration_s": seconds, "phases": [{"v_rms": V, "i_rms": AMPS, "phi_deg": phi,
                                            "v_angle_deg": phase_deg}]}]})
    cfg = Config("162", settings)
    board = make_board(cfg, sc, "waveform", noise=False)
    board.power_fail = SimPin("power fail")
    return cfg, board


def first_rising(phase_deg):
    """The engine's first crossing (metrology/kernels.py crossings): the first frame n
    with v(n) >= 0 after v went below -0.1 of its peak (the hysteresis), for
    v = cos(2 pi 50 n / fs + phase). The first period is frames 0 .. n - 1."""
    armed = False
    for n in range(2 * FS // 50):
        v = math.cos(2 * math.pi * 50 * n / FS + math.radians(phase_deg))
        if armed and round(v * 1e6) >= 0:      # a sample of exactly 0 (a code)
            return n
        armed = armed or v < -0.1
    raise AssertionError("no crossing")


def secondary_mwh(meter):
    return meter.registers.mwh("a_plus", False) + meter.registers.mwh("a_minus", False)


def led_exact(meter, base=0):
    """The LED owes exactly the whole pulses of the energy it was fed since it started
    (base: the registers' secondary mWh then; 1000 imp/kWh)."""
    led = meter.led_p
    return led.emitted + led.owed() == (secondary_mwh(meter) - base) // 1000


def test_boot_at_every_phase_of_the_mains_cycle():
    firsts = set()
    for k in range(PHASES):
        phase = 360.0 * k / PHASES
        cfg, board = board_at(phase, SECONDS)
        m = Meter(board, cfg, None, Store(RamFlash(REGION_BLOCKS)))
        got = []
        m.engine.on_period = lambda mm, real=m.engine.on_period, got=got: (
            got.append((mm.frames, mm.whole, mm.freq)), real(mm))
        t = 0
        while m.step():
            t = board.clock.ms()
            m.tick(t)
        m.finish()
        while m.busy():
            t += 1
            m.tick(t)
        assert m.faults == 0 and m.errors == 0, (phase, m.last_fault)
        # the first period: start of sampling to the first crossing, not whole, no f
        assert got[0][:2] == (first_rising(phase), False), (phase, got[0])
        firsts.add(got[0][0])
        assert got[0][2] == 0.0 and all(w for _n, w, _f in got[1:-1])
        assert sum(n for n, _w, _f in got) == SECONDS * FS   # every frame in one period
        assert [n for n, _w, _f in got[1:-1]] == [PERIOD, PERIOD]
        wh = V * AMPS * SECONDS / 3600
        a = m.registers.exact("a_plus", False)
        assert abs(a[0] / a[1] / 1000 - wh) < 2e-4 * wh, phase
        assert led_exact(m) and m.led_p.owed() == 0 and m.led_p.overrun == 0
        assert board.led.rises == m.led_p.emitted == int(a[0] / a[1]) // 1000
        # the measure window: f from whole periods only (the partial first one has none)
        d = m.measure()
        assert abs(d["f"] - 50.0) < 1e-3, (phase, d["f"])
        assert d["seconds"] == SECONDS
        assert m.m.pf_total <= 1.0 and all(-1.0 <= x <= 1.0 for x in m.m.pf)
    # a first period of every length over a cycle; the shortest is 2 frames (the signal
    # must go below the hysteresis before a crossing counts), i.e. 0 ms of pulse time
    assert {2, 3} <= firsts and len(firsts) == PHASES, sorted(firsts)


@pytest.mark.parametrize("blocks", [51, 52])
def test_power_down_at_every_frame_of_a_block(blocks):
    """After `blocks` 20 ms blocks the supply fails: the period open at that moment is
    80 - c (+ 80) frames long (c: the first crossing's frame; a whole period is 4000
    frames), 1 to 80 (81 to 160) over the 80 phases. The
    save and the POWER_DOWN event always happen, and the next boot resumes exactly."""
    dev = RamFlash(REGION_BLOCKS)
    open_lengths = set()
    state = None
    for k in range(PHASES):
        phase = 360.0 * k / PHASES
        cfg, board = board_at(phase, 1.1)
        m = Meter(board, cfg, None, Store(dev))
        if state is not None:
            assert m.registers.state() == state and m.persist.restored is not None
        before = m.registers.mwh("a_plus")
        base = secondary_mwh(m)
        for _ in range(blocks):
            assert m.step()
        open_lengths.add(m.engine._fill)
        board.power_fail.value(1)
        saves = m.persist.saves
        assert m.step() and m.down
        assert m.faults == 0, (phase, m.last_fault)
        assert m.persist.saves == saves + 1
        assert [e[1] for e in m.persist.events()][-1] == ev.POWER_DOWN
        assert m.engine._fill == 0
        state = m.registers.state()
        wh = V * AMPS * blocks * 0.02 / 3600
        assert abs((m.registers.mwh("a_plus") - before) / 1000 - wh) < 2e-3 * wh + 1e-3
        assert led_exact(m, base)
    short = set(range(1 + 80 * (blocks - 51), 4 + 80 * (blocks - 51)))
    assert short <= open_lengths and len(open_lengths) >= PHASES - 1


def test_a_fault_in_a_period_is_counted_logged_shown_and_measuring_goes_on():
    cfg, board = board_at(0.0, 4.0, cycles=10)          # 200 ms periods
    m = Meter(board, cfg, None, Store(RamFlash(REGION_BLOCKS)))
    real = m.registers.integrate
    bad = set(range(3, 10))            # periods 3..9 fail (a defect above the engine)

    def integrate(p, q, ticks):
        if m.m.count in bad:
            raise ArithmeticError("a defect")
        return real(p, q, ticks)

    m.registers.integrate = integrate
    real_tick = m.led_p.tick
    ticks = [0]

    def tick(now):
        ticks[0] += 1
        if ticks[0] == 5:
            raise RuntimeError("a pin that failed once")
        real_tick(now)

    m.led_p.tick = tick
    while m.step():
        m.tick(board.clock.ms())
    m.finish()
    assert m.faults == len(bad) + 1 and m.last_fault[0] == FAULT_PERIOD
    logged = [e[2:] for e in m.persist.events() if e[1] == ev.METER_ERROR]
    assert logged == [(FAULT_PULSES, 1), (FAULT_PERIOD, 2), (FAULT_PERIOD, 4),
                      (FAULT_PERIOD, 8)]
    assert m.display.status() & ERROR
    # the periods that failed are missing, the others are all there
    frames = 4 * FS - len(bad) * 10 * FS // 50         # 800 frames each
    wh = V * AMPS * frames / FS / 3600
    a = m.registers.exact("a_plus", False)
    assert abs(a[0] / a[1] / 1000 - wh) < 2e-4 * wh
    assert m.m.count > 15

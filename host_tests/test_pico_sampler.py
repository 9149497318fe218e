"""The Pico sampler (boards/pico/sampler.py) on the register-level RP2040 model: what it
writes to the ADC and DMA (decoded here with the datasheet's bit positions), the blocks
it returns against the model's conversion log and the analog input, overruns and FIFO
resync, and the energy the real meter registers from its blocks against analytic truth.
"""

import math
import os

import pytest
import truth
from rp2040_adc_model import CLK, DMA_BASE, MainsInput, Rp2040, fakes
from test_accuracy import B_PF1, B_PFX, B_REACT

from boards.pico import adc_dnl
from boards.pico.sampler import PicoSampler
from boards.sim.board import SimClock
from mpmeter.config import Config
from mpmeter.hal import Board, check_sampler
from mpmeter.meter import Meter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# the simulator's RP2040 scales (boards/sim/adc.py): +-450 V and +-130 A peak = +-1.65 V
VREF = 3.3
V_RATIO = 450.0 / 1.65          # mains volts per volt at the pin
CT = 2000.0                     # SCT-013-000: 100 A : 50 mA
BURDEN = CT * 1.65 / 130.0      # ohms: 130 A peak -> 1.65 V
ADC_CS, ADC_FCS, ADC_FIFO, ADC_DIV = 0x4004C000, 0x4004C008, 0x4004C00C, 0x4004C010
TIMERAWL = 0x40054028
START_US = (1 << 32) - 300000   # the timer (and ticks_us) wraps 0.3 s into every test
T = 0.02                        # one block (80 frames at 4000 frames/s)


def make(analog=None, neutral=False, **kw):
    # noise on by default: a block from another lap (or a torn one) cannot look right
    chip = Rp2040(analog or MainsInput(noise=True), t0_us=START_US)
    m, r, u, t = fakes(chip)
    s = PicoSampler(m, r, u, t, V_RATIO, CT, BURDEN, neutral=neutral, **kw)
    return chip, s


def bits(v, lsb, width):
    return (v >> lsb) & ((1 << width) - 1)


def dma_roles(chip):
    """(data, stamp, control) channels, found by what they read, not by the driver's names."""
    busy = [c for c in chip.dma.ch if c.ctrl & 1]
    data = [c for c in busy if c.read == ADC_FIFO]
    stamp = [c for c in busy if c.read == TIMERAWL]
    assert len(data) == 1 and len(stamp) == 1
    d = data[0]
    ctl = [c for c in busy if c.write == DMA_BASE + 0x40 * d.n + 0x2C]
    assert len(ctl) == 1
    return d, stamp[0], ctl[0]


def drain(s):
    out = []
    while True:
        b = s.read()
        if b is None:
            return out
        out.append((s.seq, list(b)))


def check_block(chip, s, seq, codes):
    """codes are the model's conversions seq*L .. seq*L + L - 1 of this capture, in
    round-robin order, sampled one conversion period apart."""
    adc = chip.adc
    base = adc.starts[-1]
    n = s.frames * s.stride
    j = base + seq * n
    assert codes == adc.log_code[j:j + n], "block %d is not conversions %d.." % (seq, j)
    period = CLK // (s.fs * s.stride)
    for i in (0, 1, n - 1):
        assert adc.log_ain[j + i] == i % s.stride
        assert adc.log_t[j + i] - adc.log_t[base] == (seq * n + i) * period


# -- (a) registers -------------------------------------------------------------------------
@pytest.mark.parametrize("neutral", [False, True])
def test_register_writes_decoded(neutral):
    chip, s = make(neutral=neutral)
    stride = 3 if neutral else 2
    w = chip.adc.writes
    start = [k for k, (_c, off, v) in enumerate(w) if off == 0 and v & 8]
    assert len(start) == 1
    cs = w[start[0]][2]
    assert bits(cs, 0, 1) == 1 and bits(cs, 1, 1) == 0              # EN, no temp sensor
    assert bits(cs, 12, 3) == 0                                       # AINSEL: AIN0 first
    assert bits(cs, 16, 5) == (0b111 if neutral else 0b011)           # RROBIN
    div = [v for _c, off, v in w[:start[0]] if off == 0x10][-1]
    assert bits(div, 8, 16) == 48000000 // (4000 * stride) - 1 and bits(div, 0, 8) == 0
    fcs = [v for _c, off, v in w[:start[0]] if off == 0x08][-1]
    assert bits(fcs, 0, 1) == 1 and bits(fcs, 3, 1) == 1              # EN, DREQ_EN
    assert bits(fcs, 24, 4) == 1                                      # THRESH 1
    assert bits(fcs, 1, 1) == 0 and bits(fcs, 2, 1) == 0              # no SHIFT, no ERR bit
    assert sorted(chip.analog_pins) == [26, 27, 28][:stride]
    # DMA: data, stamp and control channel
    d, st, c = dma_roles(chip)
    dc = d.ctrl
    assert bits(dc, 2, 2) == 1                                        # halfwords
    assert bits(dc, 4, 1) == 0 and bits(dc, 5, 1) == 1                # FIFO fixed, buffer incr
    assert bits(dc, 15, 6) == 36                                      # DREQ_ADC
    assert bits(dc, 11, 4) == st.n                                    # chain: data -> stamp
    assert bits(dc, 21, 1) == 1 and bits(dc, 6, 4) == 0               # no IRQ, no ring
    assert d.reload == 80 * stride
    sc = st.ctrl
    assert bits(sc, 2, 2) == 2 and bits(sc, 15, 6) == 0x3F            # words, unpaced
    assert bits(sc, 4, 1) == 0 and bits(sc, 5, 1) == 1
    assert bits(sc, 10, 1) == 1 and bits(sc, 6, 4) == 7               # write ring 128 bytes
    assert bits(sc, 11, 4) == c.n and st.reload == 1                  # stamp -> control
    cc = c.ctrl
    assert bits(cc, 2, 2) == 2 and bits(cc, 15, 6) == 0x3F
    assert bits(cc, 4, 1) == 1 and bits(cc, 5, 1) == 0
    assert bits(cc, 10, 1) == 0 and bits(cc, 6, 4) == 7               # read ring 128 bytes
    assert bits(cc, 11, 4) == c.n and c.reload == 1                   # end of the chain
    assert chip.dma.inte0 == 0                                        # no interrupt at all
    # the control channel's list: 32 aligned words, the addresses of 32 distinct blocks
    lst = c.read & ~127
    addrs = [chip.bus.read(lst + 4 * k, 4) for k in range(32)]
    assert c.read == lst + 4 and d.write == addrs[0]
    assert len(set(addrs)) == 32
    for a in addrs:
        end, _mv, obj = chip.bus.objs[a]
        assert end - a == 2 * 80 * stride and obj.typecode == "h"
    assert st.write & ~127 != lst and st.write % 128 == 0
    # the contract, and the scales the front end gives
    check_sampler(s)
    assert (s.fs, s.frames, s.stride) == (4000, 80, stride)
    sy = s.systems[0]
    assert sy["v_lsb"] == pytest.approx(450.0 / 2048 / 8) and sy["v_bias"] == 0
    assert sy["i_lsb"] == pytest.approx(130.0 / 2048 / 8)
    assert (sy["v"], sy["i"], sy["skew"]) == (0, 1, pytest.approx(1.0 / stride))
    assert list(s.lut) == list(adc_dnl.table())
    if neutral:
        assert s.neutral["ch"] == 2 and s.neutral["lsb"] == pytest.approx(130.0 / 2048 / 8)
    else:
        assert s.neutral is None
    assert chip.errors == [] and chip.stray == []


# -- (b) blocks ------------------------------------------------------------------------------
def test_blocks_in_order_with_the_models_codes_at_their_times():
    # no noise, ideal rounding, and 49.7 Hz: no two blocks alike, codes computable here
    ana = MainsInput(230.0, 20.0, 30.0, f=49.7, noise=False, dnl=False)
    chip, s = make(ana)
    chip.run(0.0195)
    assert s.read() is None                     # block 0 is 159 conversions + 2 us long
    chip.run(0.0005)
    got = drain(s)
    assert [g[0] for g in got] == [0]
    for _ in range(24):
        chip.run(T)
        got += drain(s)
    assert [g[0] for g in got] == list(range(25))
    for seq, codes in got:
        check_block(chip, s, seq, codes)
    # against the analog input itself, at the instants the round robin samples:
    # frame n's V at t0 + n / 4000, its I one conversion (125 us) later
    fe = ana.frontend["channels"]
    t0 = chip.adc.log_t[chip.adc.starts[-1]] / CLK
    w = 2 * math.pi * 49.7
    for seq, n in ((0, 0), (3, 17), (24, 79)):
        t = t0 + (seq * 80 + n) / 4000.0
        v = fe[0]["true_bias"] + math.sqrt(2) * 230.0 * math.cos(w * t) / fe[0]["lsb"]
        ti = t + 125e-6
        i = fe[1]["true_bias"] + math.sqrt(2) * 20.0 * math.cos(w * ti - math.pi / 6) \
            / fe[1]["lsb"]
        codes = got[seq][1]
        assert codes[2 * n] == math.floor(v + 0.5)
        assert codes[2 * n + 1] == math.floor(i + 0.5)
    assert s.overruns == 0 and chip.errors == [] and chip.stray == []


# -- (c) overruns ------------------------------------------------------------------------------
def test_a_400ms_stall_loses_nothing_a_longer_one_counts_overruns():
    chip, s = make()
    got = []
    for _ in range(10):
        chip.run(T)
        got += drain(s)
    chip.run(0.4)                                # a flash sector erase at its worst
    got += drain(s)
    assert s.overruns == 0
    assert [g[0] for g in got] == list(range(len(got))) and len(got) == 30
    for seq, codes in got:
        check_block(chip, s, seq, codes)
    # the consumer away for 1.5 s: more than the 640 ms ring
    chip.run(1.5)
    after = drain(s)
    seqs = [g[0] for g in after]
    assert seqs == sorted(set(seqs)) and seqs[0] > got[-1][0] + 1
    assert s.overruns == seqs[0] - got[-1][0] - 1 > 0
    assert s.seq + 1 == len(got) + len(after) + s.overruns     # nothing lost silently
    assert seqs == list(range(seqs[0], seqs[-1] + 1))
    assert len(after) == 29                      # the oldest still safe: (32 - 3) blocks
    for seq, codes in after:
        check_block(chip, s, seq, codes)
    assert chip.errors == [] and chip.stray == []


def test_the_oldest_block_returned_is_at_most_nblocks_minus_3_old():
    """With 8 blocks, a block is returned up to 5 T after it completed (its predecessor,
    the engine's `prev`, is then untouched for one more T); older ones are counted."""
    chip, s = make(nblocks=8)
    chip.run(8 * T - 0.0005)                     # blocks 0..6 done, 6 is 0.38 ms old
    got = drain(s)
    assert s.overruns == 2 and [g[0] for g in got] == [2, 3, 4, 5, 6]
    for _ in range(20):
        chip.run(T)
        got += drain(s)
    for seq, codes in got:
        check_block(chip, s, seq, codes)
    assert [g[0] for g in got] == list(range(2, 27)) and s.overruns == 2


def test_a_block_returned_at_the_oldest_leaves_it_and_its_predecessor_one_block_period():
    chip, s = make(nblocks=8)
    chip.run(5 * T - 0.0005)
    assert [g[0] for g in drain(s)] == [0, 1, 2, 3]
    # block 4 is read while fresh and becomes the engine's `prev`; block 5 only when it is
    # just under (8 - 3) T old
    chip.run(T)
    prev = s.read()
    assert s.seq == 4 and s.read() is None
    adc = chip.adc
    done5 = adc.log_t[adc.starts[-1]] + (6 * 160 - 1) * 6000 + 96   # block 5 completes
    chip.run_until(done5 + int((5 * T - 0.0003) * CLK))
    cur = s.read()
    assert s.seq == 5 and s.overruns == 0
    chip.run(0.99 * T)
    check_block(chip, s, 4, list(prev))
    check_block(chip, s, 5, list(cur))
    chip.run(0.05 * T)                           # then the DMA reaches prev's buffer
    with pytest.raises(AssertionError):
        check_block(chip, s, 4, list(prev))


@pytest.mark.parametrize("held", [False, True], ids=["released", "still-held"])
def test_fifo_overflow_restarts_aligned_and_counts(held):
    chip, s = make(neutral=True)
    for _ in range(5):
        chip.run(T)
        drain(s)
    assert s.seq == 4
    chip.dma.hold = True                         # bus starved: 12 conversions, FIFO of 4
    chip.run(0.001)
    if not held:
        chip.dma.hold = False
        chip.run(0.0005)
    assert chip.bus.read(ADC_FCS, 4) >> 11 & 1  # OVER
    assert s.read() is None                      # held: the restart must empty the FIFO
    chip.dma.hold = False
    assert s.resyncs == 1 and s.overruns >= 1
    assert len(chip.adc.starts) == 2
    assert not chip.bus.read(ADC_FCS, 4) >> 11 & 1
    got = []
    for _ in range(5):
        chip.run(T)
        got += drain(s)
    first = s.seq - len(got) + 1
    assert [g[0] for g in got] == list(range(first, s.seq + 1))
    for k, (_seq, codes) in enumerate(got):     # numbered on, but from the new start
        adc = chip.adc
        j = adc.starts[-1] + k * 240
        assert codes == adc.log_code[j:j + 240]
        assert adc.log_ain[j:j + 6] == [0, 1, 2, 0, 1, 2]
    assert chip.errors == [] and chip.stray == []


def test_close_stops_the_adc_and_frees_the_channels():
    chip, s = make()
    chip.run(0.05)
    s.close()
    assert not chip.bus.read(ADC_CS, 4) & 8
    assert not any(c.busy for c in chip.dma.ch) and chip.dma_claimed == set()
    n = len(chip.adc.log_t)
    chip.run(0.05)
    assert len(chip.adc.log_t) == n


# -- the model itself ------------------------------------------------------------------------
def test_model_dma_irq_and_ctrl_packing():
    chip = Rp2040(MainsInput(noise=False))
    _m, rp2, _u, _t = fakes(chip)
    d = rp2.DMA()
    assert d.pack_ctrl() == 0x003F8039 | (d.channel << 11)         # rp2_dma.c's default
    f = d.unpack_ctrl(d.pack_ctrl(size=1, treq_sel=36, inc_read=False))
    assert (f["size"], f["treq_sel"], f["inc_read"], f["enable"]) == (1, 36, 0, 1)
    with pytest.raises(ValueError):
        d.pack_ctrl(size=4)
    import array

    src = array.array("H", range(8))
    dst = array.array("H", [0] * 8)
    calls = []
    d.irq(lambda ch: calls.append(ch.count))
    d.config(read=src, write=dst, count=8, ctrl=d.pack_ctrl(size=1, irq_quiet=False),
             trigger=True)
    assert list(dst) == list(range(8)) and calls == [0] and not d.active()
    d.close()
    assert chip.errors == [] and chip.stray == []


# -- (d) accuracy through the real meter -----------------------------------------------------
class ModelClock(SimClock):
    """The meter's clock: the model's microsecond timer (no wall time); now/set/ticks
    as the simulator's sample-driven clock."""

    def __init__(self, chip):
        SimClock.__init__(self, chip, 1767225600)

    def ms(self):
        return (self.source.time_us() - START_US) // 1000


@pytest.mark.parametrize("phi,lim_a", [(0.0, B_PF1), (60.0, B_PFX)], ids=["PF1", "PF0.5L"])
def test_energy_through_the_meter(phi, lim_a):
    ana = MainsInput(230.0, 5.0, phi, noise=True, seed=7)
    chip, s = make(ana)
    meter = Meter(Board("pico-model", sampler=s, clock=ModelClock(chip)), Config("162"))
    for _ in range(150):                         # 3 s
        chip.run(T)
        while meter.step():
            pass
    meter.finish()
    assert s.overruns == 0 and chip.errors == [] and chip.stray == []
    seconds = (s.seq + 1) * s.frames / s.fs
    ph = {"v_rms": 230.0, "i_rms": 5.0, "phi_deg": phi}
    t = truth.energies({"segments": [{"duration_s": seconds, "phases": [ph]}]})["total"]
    reg = meter.report()["registers"]
    a = reg["a_plus"]["secondary_wh"]
    err_a = (a - t["A+"]) / t["A+"] * 100
    assert abs(err_a) <= lim_a, "A+ error %.3f %%" % err_a
    assert reg["a_minus"]["secondary_wh"] == 0
    if phi:
        r = reg["r_plus"]["secondary_wh"]
        err_r = (r - t["R+"]) / t["R+"] * 100
        assert abs(err_r) <= B_REACT, "R+ error %.3f %%" % err_r
    else:
        # no reactive energy of any size (the round-robin skew corrected)
        assert reg["r_plus"]["secondary_wh"] + reg["r_minus"]["secondary_wh"] \
            < 0.005 * t["A+"]


def test_the_e11_table_is_a_constant_of_the_image():
    """The defaults' table is the committed constant (tools/gen_adc_dnl.py writes it),
    the same as the rule entry by entry; another width is computed."""
    path = os.path.join(ROOT, "boards", "pico", "adc_dnl_table.py")
    with open(path) as f:
        assert f.read() == adc_dnl.source(), "run python tools/gen_adc_dnl.py"
    t = adc_dnl.table()
    assert t.typecode == "h" and list(t) == list(adc_dnl.compute())
    # by hand: the 512 codes below a wide one share 512 - 4.5 LSB, so code 0's centre is
    # -0.5 + 0.5 * 507.5 / 512 LSB: (-0.0044 - 2048) * 8 = -16384.04; a wide code sits
    # at its own value: (512 - 2048) * 8
    assert t[0] == round((-0.5 + 0.5 * 507.5 / 512 - 2048) * 8) == -16384
    assert t[512] == (512 - 2048) * 8 and t[2560] == 512 * 8
    assert list(adc_dnl.table(7.0)) == list(adc_dnl.compute(7.0)) != list(t)

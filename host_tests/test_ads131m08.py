"""The ADS131M08 sampler (boards/pico_ads131m08) on the RP2040 DMA model, the PIO model and the
chip model: the configuration decoded from the chip's registers, the PIO program decoded
by hand here, blocks against the chip's conversion log, the CRC rule, a consumer stall,
the fast path against the cycle-by-cycle one, and energy through the real meter.
"""

import binascii
import math

import pytest
import truth
from ads131m08_model import Ads131m08Model, MainsInput3
from pio_model import PIO0_BASE, Hub, fakes
from rp2040_adc_model import Rp2040
from test_accuracy import B_PF1, B_PFX, B_REACT
from test_pico_sampler import START_US, ModelClock, drain

from boards.pico_ads131m08 import ads131m08 as reg
from boards.pico_ads131m08.sampler import PINS, AdsSampler, ref_convert
from mpmeter.config import Config
from mpmeter.hal import Board, check_sampler
from mpmeter.meter import Meter

WIRES = {"sclk": 2, "din": 3, "dout": 4, "cs": 5, "drdy": 6, "sync_reset": 7}
V_RATIO = 400.0 / 1.2           # +-400 V peak = +-1.2 V (boards/sim/adc.py's scale)
CT, BURDEN = 2500.0, 300.0      # +-10 A peak secondary = +-1.2 V
T = 0.04
SYS = 125000000


def make(analog=None, fast=True, **kw):
    chip = Rp2040(lambda ain, t: 0, t0_us=START_US)
    ana = analog or MainsInput3([(230.0, 5.0, 30.0)] * 3, f=49.7, v_ratio=V_RATIO,
                                ct_ratio=CT, burden_ohm=BURDEN)
    ads = Ads131m08Model(ana, WIRES, noise_v=kw.pop("noise_v", 0.0))
    hub = Hub(chip, [ads], fast=fast)
    m, r, u, t = fakes(hub)
    s = AdsSampler(m, r, u, t, PINS, V_RATIO, CT, BURDEN, **kw)
    return chip, ads, hub, s


def s16(x):
    x &= 0xFFFF
    return x - 65536 if x & 0x8000 else x


def check_block(ads, n0, s, seq, codes):
    """Block seq = the conversions delivered by frames n0 + seq * frames ..., as 16-bit."""
    for f in range(s.frames):
        frame_no, k = ads.reads[n0 + seq * s.frames + f]
        assert frame_no == n0 + seq * s.frames + f and k >= 0
        want = [s16(c >> 8) for c in ads.conv_codes[k]]
        assert codes[8 * f:8 * f + 8] == want, "block %d frame %d" % (seq, f)


def first_frame(ads):
    return ads.nframe


# -- CRC ------------------------------------------------------------------------------------
def test_crc_is_ccitt_with_init_ffff():
    assert reg.crc16(b"123456789") == 0x29B1 == binascii.crc_hqx(b"123456789", 0xFFFF)
    import array

    tab = reg.crc_table(array.array("H", [0] * 256))
    data = bytes(range(40))
    crc = 0xFFFF
    for b in data:
        crc = ((crc << 8) & 0xFFFF) ^ tab[((crc >> 8) ^ b) & 0xFF]
    assert crc == binascii.crc_hqx(data, 0xFFFF)
    whole = data + crc.to_bytes(2, "big")
    assert binascii.crc_hqx(whole, 0xFFFF) == 0


# -- (a) configuration, decoded from the chip model's registers -------------------------------
def test_configuration_in_the_chips_registers():
    gains = (1, 1, 1, 4, 4, 4, 2, 1)
    chip, ads, hub, s = make(gains=gains)
    r = ads.regs
    mode = r[reg.MODE]
    assert (mode >> 8) & 3 == 0                     # WLENGTH 16 bit
    assert not mode >> 12 & 1 and not mode >> 13 & 1  # RX_CRC_EN, REGCRC_EN off
    assert not mode >> 11 & 1                       # CRC-CCITT
    assert not mode >> 10 & 1                       # RESET flag cleared
    assert mode & 1 == 0                            # DRDY low until read
    clk = r[reg.CLOCK]
    assert clk >> 8 == 0xFF                         # all 8 channels on
    assert (clk >> 2) & 7 == 2                      # OSR 512
    assert clk & 3 == 2                             # high resolution: fmod = CLKIN / 2
    assert 8192000 / 2 / 512 == 8000
    got = [1 << ((r[reg.GAIN1 + c // 4] >> (4 * (c % 4))) & 7) for c in range(8)]
    assert got == list(gains)
    assert ads.commands[0][1] == 0x0011             # RESET first
    assert ads.errors == [] and chip.errors == [] and chip.stray == []
    # the contract and the scales: 1.2 V / gain / 32768 per code at the pin
    check_sampler(s)
    assert (s.fs, s.frames, s.stride) == (8000, 320, 8)
    assert [(y["v"], y["i"], y["skew"]) for y in s.systems] == [(0, 3, 0), (1, 4, 0), (2, 5, 0)]
    assert s.systems[0]["v_lsb"] == pytest.approx(400.0 / 32768)
    assert s.systems[1]["i_lsb"] == pytest.approx(10.0 / 32768 / 4)
    assert s.neutral == {"ch": 6, "lsb": pytest.approx(10.0 / 32768 / 2), "bias": 0}


def test_aron_wiring_two_systems():
    _chip, ads, _hub, s = make(wiring="aron")
    assert [(y["v"], y["i"]) for y in s.systems] == [(0, 3), (2, 5)] and s.neutral is None
    assert ads.errors == []


def test_a_wrong_id_or_readback_raises_naming_the_register():
    class Bad(Ads131m08Model):
        def _command(self, cmd, data, t, nwords):
            Ads131m08Model._command(self, cmd, data, t, nwords)
            if cmd & 0xE000 == reg.WREG and (cmd >> 7) & 0x3F == reg.GAIN2:
                self.regs[reg.GAIN2] ^= 0x0100      # a bit that does not stick
    chip = Rp2040(lambda ain, t: 0, t0_us=START_US)
    ads = Bad(MainsInput3([(230.0, 5.0, 0.0)] * 3), WIRES)
    hub = Hub(chip, [ads])
    m, r, u, t = fakes(hub)
    with pytest.raises(ValueError, match="GAIN2"):
        AdsSampler(m, r, u, t, PINS, V_RATIO, CT, BURDEN)


# -- (b) the PIO program, decoded by hand ------------------------------------------------------
def test_pio_program_decoded_by_hand():
    chip, ads, hub, s = make()
    pio = hub.pio
    sm = pio.sm[0]
    off = 23                                        # 9 instructions at the top of memory
    # (opcode, what it is) as assembled by hand from the RP2040 datasheet's encoding
    table = [
        (0x2006, "wait 0 gpio 6 side 0"),           # 001 0 0000 | pol 0 | src 00 | 6
        (0xE000, "set pins 0 side 0"),              # 111 0 0000 | dest 000 | 0
        (0xE049, "set y 9 side 0"),                 # dest 010 | 9
        (0xE02F, "set x 15 side 0"),                # dest 001 | 15
        (0xB142, "nop side 1 [1]"),                 # mov y, y = 0xA042 | side 1 (bit 12) | 1
        (0x4001, "in pins 1 side 0"),               # 010 | src 000 | 1
        (0x0040 | (off + 4), "jmp x-- bit"),        # 000 | cond 010 | address
        (0x0080 | (off + 3), "jmp y-- word"),       # cond 100
        (0xE001, "set pins 1 side 0"),
    ]
    assert [pio.mem[off + i] for i in range(9)] == [op for op, _ in table]
    assert not any(pio.mem[:off])
    ex, sh, pc, cd = sm.execctrl, sm.shiftctrl, sm.pinctrl, sm.clkdiv
    assert (ex >> 12) & 31 == off + 8 and (ex >> 7) & 31 == off      # wrap top / bottom
    assert not ex >> 30 & 1                                          # side-set not optional
    assert sh >> 16 & 1 and (sh >> 20) & 31 == 16                    # autopush at 16
    assert not sh >> 18 & 1                                          # in: shift left
    assert sh >> 31 & 1 and not sh >> 30 & 1                         # RX FIFO joined
    assert pc >> 29 == 1 and (pc >> 10) & 31 == 2                    # side-set: SCLK
    assert (pc >> 26) & 7 == 1 and (pc >> 5) & 31 == 5               # set: CS
    assert (pc >> 15) & 31 == 4                                      # in: DOUT (MISO)
    assert cd >> 16 == 6 and (cd >> 8) & 0xFF == 0                   # sysclk / 6
    # the DMA: PIO0 RXF0 by halfwords, paced by DREQ_PIO0_RX0 (4)
    d = [c for c in chip.dma.ch if c.ctrl & 1 and c.read == PIO0_BASE + 0x20]
    assert len(d) == 1
    assert (d[0].ctrl >> 2) & 3 == 1 and (d[0].ctrl >> 15) & 63 == 4
    assert d[0].reload == 320 * 10 and chip.dma.inte0 == 0


# -- (c) blocks, frames and timing -------------------------------------------------------------
def test_blocks_in_order_with_the_chips_codes_and_125us_frames():
    chip, ads, hub, s = make()
    n0 = first_frame(ads)
    got = []
    for _ in range(12):
        chip.run(T)
        got += drain(s)
    assert [g[0] for g in got] == list(range(len(got))) and len(got) >= 11
    for seq, codes in got:
        check_block(ads, n0, s, seq, codes)
    ks = [k for _f, k in ads.reads[n0:n0 + 11 * 320]]
    assert ks == list(range(ks[0], ks[0] + len(ks)))                 # no conversion lost
    dt = [ads.conv_t[k + 1] - ads.conv_t[k] for k in ks[:-1]]
    assert max(dt) == pytest.approx(125e-6) and min(dt) == pytest.approx(125e-6)
    ft = ads.frame_t[n0 + 4:n0 + 11 * 320]                          # after the start-up
    per = [b - a for a, b in zip(ft, ft[1:])]
    assert min(per) >= 15625 - 6 and max(per) <= 15625 + 6          # 125 us, +- 1 SM cycle
    assert s.overruns == 0 and s.crc_errors == 0 and s.status_errors == 0 and s.stalls == 0
    assert ads.errors == [] and chip.errors == [] and chip.stray == []
    assert hub.stats["replays"] > 3000


def test_bad_frames_are_counted_and_held_never_summed():
    chip, ads, hub, s = make()
    n0 = first_frame(ads)
    crc_frame = n0 + 320 + 180                       # block 1, frame 180: a bit flips
    st_frame = n0 + 2 * 320 + 7                      # block 2, frame 7: STATUS says reset
    ads.inject(crc_frame, 3, 0x0100)
    ads.inject(st_frame, 0, 0x0400, fix_crc=True)
    got = []
    for _ in range(5):
        chip.run(T)
        got += drain(s)
    assert s.crc_errors == 1 and s.status_errors == 1
    by = dict(got)
    for seq, f in ((1, 180), (2, 7)):
        codes = by[seq]
        assert codes[8 * f:8 * f + 8] == codes[8 * (f - 1):8 * f]   # the previous good frame
        bad = list(codes)
        bad[8 * f:8 * f + 8] = [s16(c >> 8) for c in ads.conv_codes[ads.reads[
            n0 + seq * 320 + f][1]]]
        check_block(ads, n0, s, seq, bad)           # every other frame is the chip's
    for seq in (0, 3):
        check_block(ads, n0, s, seq, by[seq])
    assert ads.errors == [] and chip.errors == []


def test_convert_twin_rules():
    import array

    tab = reg.crc_table(array.array("H", [0] * 256))

    def frame(status, codes, flip=0):
        words = [status] + [c & 0xFFFF for c in codes]
        data = b"".join(w.to_bytes(2, "big") for w in words)
        return words + [binascii.crc_hqx(data, 0xFFFF) ^ flip]

    raw = array.array("H", frame(0x00FF, range(-4, 4)) + frame(0x00FF, range(8), flip=1)
                      + frame(0x00FE, range(10, 18)) + frame(0x80FF, [-32768] * 8))
    out = array.array("h", [0] * 32)
    st = array.array("i", [0] * 12)
    st[10], st[11] = 0x4FFF, 0x00FF
    assert ref_convert(raw, out, 4, tab, st) == 2
    assert list(out) == list(range(-4, 4)) * 3 + [-32768] * 8       # LOCK bit ignored
    assert (st[8], st[9]) == (1, 1)


def test_a_consumer_stall_is_counted_not_torn():
    chip, ads, hub, s = make()
    n0 = first_frame(ads)
    got = []
    for _ in range(4):
        chip.run(T)
        got += drain(s)
    chip.run(0.2)                                    # 5 T: inside the (8 - 2) T window
    got += drain(s)
    assert s.overruns == 0 and [g[0] for g in got] == list(range(len(got)))
    chip.run(0.6)                                    # 15 T away: more than the 8-block ring
    after = drain(s)
    seqs = [g[0] for g in after]
    assert s.overruns > 0 and seqs == list(range(seqs[0], seqs[-1] + 1))
    assert seqs[0] == got[-1][0] + 1 + s.overruns
    assert s.seq + 1 == len(got) + len(after) + s.overruns
    assert len(after) == 6                            # the oldest still safe: (8 - 2) blocks
    for seq, codes in got + after:
        check_block(ads, n0, s, seq, codes)
    assert ads.errors == [] and chip.errors == [] and chip.stray == []


def test_fast_path_equals_the_cycle_by_cycle_run():
    res = []
    for fast in (False, True):
        chip, ads, hub, s = make(fast=fast, frames=40)
        got = []
        for _ in range(4):
            chip.run(0.005)
            got += drain(s)
        res.append((got, ads.frame_t[-100:], ads.errors, chip.errors))
        assert (hub.stats["replays"] > 0) == fast
    assert res[0] == res[1] and res[0][0] and not res[0][2] and not res[0][3]


def test_protocol_errors_are_seen_by_the_model():
    """A driver in SPI mode 0 is caught by the chip model (and its CRC check)."""
    chip = Rp2040(lambda ain, t: 0, t0_us=START_US)
    ads = Ads131m08Model(MainsInput3([(230.0, 5.0, 0.0)] * 3), WIRES)
    hub = Hub(chip, [ads])
    m, _r, _u, t = fakes(hub)
    spi = m.SPI(0, baudrate=1000000, polarity=0, phase=0, sck=m.Pin(2), mosi=m.Pin(3),
                miso=m.Pin(4))
    cs = m.Pin(5, m.Pin.OUT, value=1)
    try:
        reg.configure(spi, cs, t.sleep_us)
    except ValueError:
        pass
    assert any("phase 0" in e for e in ads.errors)


# -- (d) accuracy through the real meter -----------------------------------------------------
@pytest.mark.parametrize("phi,lim_a", [(0.0, 0.1), (60.0, 0.2)], ids=["PF1", "PF0.5L"])
def test_energy_through_the_meter(phi, lim_a):
    assert lim_a < B_PF1 and lim_a < B_PFX
    ana = MainsInput3([(230.0, 5.0, phi)] * 3, v_ratio=V_RATIO, ct_ratio=CT,
                      burden_ohm=BURDEN)
    chip, ads, hub, s = make(ana, noise_v=1.2 / 2 ** 23 * 100)   # 100 LSB24 rms noise
    meter = Meter(Board("ads-model", sampler=s, clock=ModelClock(chip)), Config("351"))
    for _ in range(38):                              # ~1.5 s
        chip.run(T)
        while meter.step():
            pass
    meter.finish()
    assert s.overruns == 0 and s.crc_errors == 0 and ads.errors == [] and chip.errors == []
    seconds = (s.seq + 1) * s.frames / s.fs
    ph = {"v_rms": 230.0, "i_rms": 5.0, "phi_deg": phi}
    t = truth.energies({"segments": [{"duration_s": seconds, "phases": [ph] * 3}]})["total"]
    reg_ = meter.report()["registers"]
    a = reg_["a_plus"]["secondary_wh"]
    err_a = (a - t["A+"]) / t["A+"] * 100
    print("ads131m08 model, %.2f s, phi %g: A+ %+.4f %%" % (seconds, phi, err_a))
    assert abs(err_a) <= lim_a, "A+ error %.3f %%" % err_a
    assert reg_["a_minus"]["secondary_wh"] == 0
    if phi:
        r = reg_["r_plus"]["secondary_wh"]
        err_r = (r - t["R+"]) / t["R+"] * 100
        print("R+ %+.4f %%" % err_r)
        assert abs(err_r) <= 0.5 < B_REACT, "R+ error %.3f %%" % err_r
    else:
        assert reg_["r_plus"]["secondary_wh"] + reg_["r_minus"]["secondary_wh"] \
            < 0.005 * t["A+"]
    assert math.isfinite(a)

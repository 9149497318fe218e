"""Pico sampler: the RP2040 ADC's round robin drained by chained rp2.DMA into a ring of blocks.

The hal.py Sampler contract for the Raspberry Pi Pico, profile 162: voltage on
AIN0 (GPIO26), current on AIN1 (GPIO27), optional neutral CT on AIN2 (GPIO28).

Rate. fs = 4000 frames/s, the ADC free-running (CS.START_MANY) in round robin
over the 2 (3) inputs: 8000 (12000) conversions/s, DIV = 48 MHz / 8000 - 1 =
5999 (3999) exactly (FRAC 0: no delta-sigma jitter between conversions).
80 samples per 50 Hz cycle reach the 39th harmonic; the quarter-cycle delay of the
reactive sums is a whole 20 frames at 50 Hz; a whole block costs 1.1-1.4 ms of the
core in Meter.step() (linearisation, kernels and the engine's share: 5.5-7 % of the
core, measured on the emulated RP2040, ../shared/toolchain/README.md); and it is the
rate the simulator's RP2040 model (and the accuracy table measured on it) uses. The
ADC could go to 500 kSa/s: more would only cost CPU.
frames = 80 per block (20 ms, one 50 Hz cycle: the engine needs >= a quarter cycle).

Ring. nblocks = 32 preallocated array('h') blocks of frames * stride codes (10 KB, 15 KB
with the neutral): 640 ms. A flash sector erase stops the CPU for up to 400 ms with
interrupts off (boards/pico/README.md); the ring rides through it with no CPU help.

DMA (three channels, chained, no interrupt at all):
    D data    ADC FIFO -> block (halfwords, no incr_read, incr_write), paced by
              DREQ_ADC (36), count = frames * stride; chain_to S.
    S stamp   TIMERAWL (the 1 MHz timer) -> stamps[k] (a word, write ring of 4 * nblocks
              bytes); permanent request; chain_to C.
    C control addrs[k + 1] -> D's AL2_WRITE_ADDR_TRIG (read ring of 4 * nblocks bytes),
              which points D at the next block and starts it.
The FIFO (4 deep, 125 us per conversion) covers the few cycles of S and C. Nothing
needs re-arming: the chain D -> S -> C -> D runs as long as the ADC does. The two
small lists sit at a 4 * nblocks alignment inside one array (ring wrap needs it).

read() knows block k is complete when stamps[k % nblocks] carries block k's own time:
blocks end T = frames / fs apart (the ADC clock and the timer share the crystal), so
block k's stamp is the previous block's stamp + T (+- T/2 tolerated; each block
re-anchors). An older stamp means not written yet; a newer one, overwritten a lap
later. A complete block is returned only while its age (now - stamp) is at most
(nblocks - 3) T: the DMA then needs >= 1 T more before it reaches the block returned
before it (the engine's `prev`), so a consumer has a whole block period to finish a
block. A consumer that fell further behind skips to the oldest block that is still
safe and counts the skipped blocks in `overruns`: a block is never returned torn,
twice, or out of order, and never skipped silently (returned + overruns = blocks
since start; `seq` is the number of the block last returned). After a skip the
engine's `prev` is from before the gap (its buffer possibly reused): the delayed
voltage of the next block's first quarter cycle is wrong, inside a counted gap
anyway. An ADC FIFO overflow
(OVER: samples dropped, so V and I would swap places in the frame) restarts the
capture aligned, counts `resyncs`, and counts the lost time in `overruns`. The
converter's ERR flag is not looked at (the datasheet gives no case where it is set).
read() allocates nothing (small ints; the stamp is fetched by a viper helper as 30
bits, the width of time.ticks_us) and runs no per-sample Python.

Channels: systems/neutral give the codes' meaning: LSBs from the front end passed in
(vref / 4096 per code at the pin, times the voltage divider ratio, or the CT ratio /
burden), bias = mid-rail 2048 (the real bias is removed by the engine's DC sums),
and skew = 1 / stride frame: the round robin samples AIN1 one conversion after AIN0.
The E11 wide codes are undone exactly as the simulator does: `lut` =
adc_dnl.table(dnl_width), systems/neutral through adc_dnl.linearised().

Modules are passed in (machine, rp2, uctypes, time) so the host tests can hand in the
register-level model (host_tests/rp2040_adc_model.py); make() imports the real ones.
Nothing else may use the ADC (machine.ADC.read_u16, the temperature sensor) while the
sampler runs: it would move AINSEL inside the round robin.

Not verified on silicon (written against the MicroPython rp2.DMA docs, ports/rp2/
rp2_dma.c and the RP2040 datasheet; run only on host_tests/rp2040_adc_model.py):
that a write to D's AL2_WRITE_ADDR_TRIG reloads its count from TRANS_COUNT and
starts it, as the datasheet says; the latency of the D -> S -> C chain (a few bus
cycles assumed, against the 330..500 us the FIFO holds); that clk_adc (USB PLL) and
the timer run from the same crystal (a slow drift would be absorbed: each block
re-anchors; only a skip predicts T ahead); that time.ticks_us() is TIMERAWL's low
30 bits (rp2 mphalport); the stop sequence (EN cleared and chains removed before
CHAN_ABORT, against erratum RP2040-E13); that the DMA does not starve during a flash
erase (it touches only SRAM and APB); the ADC's real noise and DNL, and the front
end's gain and phase errors (calibration, a later piece of issue 7).
"""

import array

import micropython
from micropython import const

from boards.pico import adc_dnl

CLK_ADC = const(48000000)
ADC_CS = const(0x4004C000)
ADC_FCS = const(0x4004C008)
ADC_FIFO = const(0x4004C00C)
ADC_DIV = const(0x4004C010)
TIMER_RAWL = const(0x40054028)
DMA_BASE = const(0x50000000)
AL2_WRITE_ADDR_TRIG = const(0x2C)
DREQ_ADC = const(36)
TREQ_PERMANENT = const(0x3F)

CS_EN = const(0x1)
CS_START_MANY = const(0x8)
CS_READY = const(0x100)
CS_AINSEL_LSB = const(12)
CS_RROBIN_LSB = const(16)
FCS_EN = const(0x1)
FCS_DREQ_EN = const(0x8)
FCS_EMPTY = const(0x100)
FCS_UNDER = const(0x400)
FCS_OVER = const(0x800)
FCS_THRESH_LSB = const(24)

MASK = const(0x3FFFFFFF)    # time.ticks_us period (2**30 us)
HALF = const(0x20000000)
FIRST_PIN = const(26)       # GPIO26..28 = AIN0..2


@micropython.viper
def _stamp(st: ptr32, k: int) -> int:
    """stamps[k] as 30 bits (a small int: no allocation)."""
    return st[k] & 0x3FFFFFFF


def _wrap(x):
    return ((x + HALF) & MASK) - HALF


def ring_lists(o, uctypes, blocks):
    """The DMA's address list and stamp list: two 4 * nblocks byte regions inside one
    array('I'), each aligned to its size (a DMA ring wraps on that alignment): o._lists,
    the address list at index o._ao (filled with the blocks' addresses), the stamps at
    o._so, o._abase the address list's address, o._ring_bits log2 of the region size.
    Shared with boards/pico_ads131m08/sampler.py."""
    n = len(blocks)
    ring = 4 * n
    o._lists = array.array("I", bytearray(3 * ring))
    off = (-uctypes.addressof(o._lists)) % ring
    o._ao = off // 4
    o._so = o._ao + n
    o._abase = uctypes.addressof(o._lists) + off
    o._ring_bits = 0
    while (1 << o._ring_bits) < ring:
        o._ring_bits += 1
    for k in range(n):
        o._lists[o._ao + k] = uctypes.addressof(blocks[k])


def arm_ring(o):
    """Preset the stamp list ("a lap older" than each block: not written yet) and arm the
    stamp (S) and control (C) channels of o._dma = (D, S, C) (the module doc); shared
    with boards/pico_ads131m08/sampler.py. The caller sets o._exp once it starts D."""
    d, s, c = o._dma
    t = o._t
    n = o._n
    exp = (o._ticks() + t) & MASK
    for k in range(n):
        o._lists[o._so + k] = (exp + (k - n) * t) & MASK
    abase = o._abase
    rb = o._ring_bits
    c.config(read=abase + 4, write=DMA_BASE + 0x40 * d.channel + AL2_WRITE_ADDR_TRIG,
             count=1, ctrl=c.pack_ctrl(size=2, inc_read=True, inc_write=False,
                                       ring_sel=False, ring_size=rb,
                                       treq_sel=TREQ_PERMANENT, chain_to=c.channel))
    s.config(read=TIMER_RAWL, write=abase + 4 * n, count=1,
             ctrl=s.pack_ctrl(size=2, inc_read=False, inc_write=True, ring_sel=True,
                              ring_size=rb, treq_sel=TREQ_PERMANENT, chain_to=c.channel))


def due_us(o):
    """Microseconds until the next block is complete (<= 0: it is due now). The main
    loop sleeps that long (boards/pico/main.py). Small ints only."""
    return ((o._exp - o._ticks() + HALF) & MASK) - HALF


def next_block(o, now):
    """The ring index of the oldest complete block not yet returned, or -1 (the read()
    rule of the module doc, shared with boards/pico_ads131m08/sampler.py). `o` is the
    sampler: its stamp list (_lists at _so), ring size _n, block period _t, tolerance
    _half_t, _max_age, the next block _k and its expected stamp _exp are advanced;
    `seq` and `overruns` counted; o._s is the returned block's stamp. Small ints only:
    nothing is allocated."""
    st = o._lists
    so = o._so
    n = o._n
    t = o._t
    ht = o._half_t
    max_age = o._max_age
    k = o._k
    exp = o._exp
    tries = 0
    while tries <= n:
        tries += 1
        s = _stamp(st, so + k)
        d = ((s - exp + HALF) & MASK) - HALF
        if -ht < d < ht:
            if ((now - s + HALF) & MASK) - HALF <= max_age:
                o._exp = (s + t) & MASK
                o._k = k + 1 if k + 1 < n else 0
                o.seq += 1
                o._s = s
                return k
        elif d < 0 and ((now - exp + HALF) & MASK) - HALF <= max_age:
            break                     # not written yet
        # behind the DMA: skip to the oldest block that is still safe
        late = ((now - exp + HALF) & MASK) - HALF
        j = (late - max_age) // t + 1
        if j < 1:
            j = 1
        o.overruns += j
        o.seq += j
        exp = (exp + j * t) & MASK
        k = (k + j) & (n - 1)
    o._k = k
    o._exp = exp
    return -1


class PicoSampler:
    """hal.py Sampler over the RP2040 ADC (see the module doc).

    v_ratio     mains volts per volt at the V pin (transformer x divider)
    ct_ratio    primary amps per secondary amp of the phase CT; burden_ohm its burden
    neutral     also sample the neutral CT on n_pin (n_ct_ratio / n_burden_ohm, default
                the phase CT's)
    vref        ADC reference (the Pico's 3V3 through its filter)
    dnl_width   E11 width for adc_dnl.table(); None: no linearisation table
    """

    def __init__(self, machine, rp2, uctypes, time, v_ratio, ct_ratio, burden_ohm,
                 neutral=False, n_ct_ratio=None, n_burden_ohm=None, vref=3.3, fs=4000,
                 frames=80, nblocks=32, dnl_width=9.0, lut_scale=8, v_pin=26, i_pin=27,
                 n_pin=28):
        if nblocks < 4 or nblocks & (nblocks - 1) or nblocks > 4096:
            raise ValueError("nblocks: a power of two in 4..4096")
        pins = [v_pin, i_pin] + ([n_pin] if neutral else [])
        ains = [p - FIRST_PIN for p in pins]
        for a in ains:
            if not 0 <= a <= 2 or ains.count(a) > 1:
                raise ValueError("pins: distinct GPIO26..28 (AIN0..2), got %r" % (pins,))
        # round robin: enabled inputs in ascending order, starting at AINSEL = V
        order = sorted(ains)
        k = order.index(ains[0])
        order = order[k:] + order[:k]
        stride = len(order)
        rate = fs * stride
        if CLK_ADC % rate or CLK_ADC // rate < 96:
            raise ValueError("fs: 48 MHz / (fs * %d) must be a whole number >= 96" % stride)
        if (frames * 1000000) % fs:
            raise ValueError("frames / fs must be a whole number of microseconds")
        self.fs = fs
        self.frames = frames
        self.stride = stride
        lsb = vref / 4096
        i_lsb = lsb * ct_ratio / burden_ohm
        pi = order.index(ains[1])
        self.systems = [{"v": 0, "i": pi, "v_lsb": lsb * v_ratio, "i_lsb": i_lsb,
                         "v_bias": 2048, "i_bias": 2048, "skew": pi / stride}]
        self.neutral = None
        if neutral:
            nl = lsb * (n_ct_ratio or ct_ratio) / (n_burden_ohm or burden_ohm)
            self.neutral = {"ch": order.index(ains[2]), "lsb": nl, "bias": 2048}
        self.lut = None
        if dnl_width is not None:
            self.lut = adc_dnl.table(dnl_width, lut_scale)
            self.systems, self.neutral = adc_dnl.linearised(self.systems, self.neutral,
                                                            lut_scale)
        self.overruns = 0        # blocks never returned (consumer too late, FIFO resync)
        self.resyncs = 0         # ADC FIFO overflows (capture restarted aligned)
        self.seq = -1            # number of the block last returned (0 = the first)
        self._s = 0              # the stamp of that block (next_block)
        self._order = order
        self._mem = machine.mem32
        self._ticks = time.ticks_us
        self._n = nblocks
        self._len = frames * stride
        self._t = frames * 1000000 // fs
        self._half_t = self._t // 2
        self._max_age = (nblocks - 3) * self._t
        self._div = (CLK_ADC // rate - 1) << 8
        self._cs = CS_EN | (order[0] << CS_AINSEL_LSB)
        for a in order:
            self._cs |= 1 << (CS_RROBIN_LSB + a)
        # analog pins (digital input off, no pulls) and the ADC powered
        self.adcs = [machine.ADC(machine.Pin(p)) for p in pins]
        self._blocks = [array.array("h", bytearray(2 * self._len)) for _ in range(nblocks)]
        # address list and stamps: two 4 * nblocks byte regions aligned to their size
        ring_lists(self, uctypes, self._blocks)
        self._dma = (rp2.DMA(), rp2.DMA(), rp2.DMA())
        self._start()

    # -- capture ---------------------------------------------------------------------
    def _stop(self):
        mem = self._mem
        mem[ADC_CS] = self._cs
        n = 0
        while not mem[ADC_CS] & CS_READY and n < 100:   # a conversion is 2 us
            n += 1
        for ch in self._dma:
            ch.ctrl = ch.pack_ctrl(default=ch.ctrl & 0xFFFFFF, enable=False,
                                   chain_to=ch.channel)
        for ch in self._dma:
            ch.active(0)
        n = 0
        while not mem[ADC_FCS] & FCS_EMPTY and n < 8:
            _ = mem[ADC_FIFO]
            n += 1

    def _start(self):
        d, s, c = self._dma
        mem = self._mem
        self._stop()
        t = self._t
        arm_ring(self)
        d.config(read=ADC_FIFO, write=self._blocks[0], count=self._len,
                 ctrl=d.pack_ctrl(size=1, inc_read=False, inc_write=True,
                                  treq_sel=DREQ_ADC, chain_to=s.channel, irq_quiet=True),
                 trigger=True)
        mem[ADC_DIV] = self._div
        # FIFO on, DREQ at >= 1 sample, no SHIFT, no ERR bit; OVER/UNDER written 1: cleared
        mem[ADC_FCS] = FCS_EN | FCS_DREQ_EN | (1 << FCS_THRESH_LSB) | FCS_OVER | FCS_UNDER
        mem[ADC_CS] = self._cs
        self._exp = (self._ticks() + t) & MASK
        mem[ADC_CS] = self._cs | CS_START_MANY
        self._k = 0

    def close(self):
        """Stop the ADC and the three DMA channels and release the channels."""
        self._stop()
        for ch in self._dma:
            ch.close()

    # -- the contract ------------------------------------------------------------------
    def read(self):
        """The oldest complete block not yet returned (array('h')), or None."""
        if self._mem[ADC_FCS] & FCS_OVER:
            return self._resync()
        k = next_block(self, self._ticks())
        return self._blocks[k] if k >= 0 else None

    def due_us(self):
        """Microseconds until the next block is complete (<= 0: due or late)."""
        return due_us(self)

    def _resync(self):
        # every block from the start of the next one (exp - T) up to now is lost
        late = _wrap(self._ticks() - self._exp)
        lost = (late + 2 * self._t - 1) // self._t
        if lost < 0:
            lost = 0
        self.overruns += lost
        self.seq += lost
        self.resyncs += 1
        self._start()
        return None


def make(v_ratio, ct_ratio, burden_ohm, **kw):
    """The sampler on the board's own modules (MicroPython rp2 port)."""
    import machine
    import rp2
    import time
    import uctypes

    return PicoSampler(machine, rp2, uctypes, time, v_ratio, ct_ratio, burden_ohm, **kw)

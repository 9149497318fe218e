"""ADS131M08 sampler: PIO reads each DRDY frame, chained DMA fills a ring, a viper kernel a block.

The hal.py Sampler contract for the 3-phase board (profile 351): fs = 8000 frames/s,
320 frames per block (40 ms), stride 8, channels 0..2 V1..V3, 3..5 I1..I3, 6 neutral
current, 7 spare (boards/sim/adc.py's "ads131m08" map); all channels converted at the
same instant (skew 0).

Pins (`pins` dict of GPIO numbers; the board file decides; defaults `PINS`): SPI0 on
"sck" GP2, "mosi" GP3 (the chip's DIN), "miso" GP4 (DOUT), "cs" GP5, "drdy" GP6,
"sync_reset" GP7, "clkin" None = an external 8.192 MHz oscillator on CLKIN (a GPIO
number: a PWM output at 8.192 MHz, which needs a system clock that is a multiple of
it, e.g. machine.freq(122880000); anything else raises ValueError).

Start (once): machine.SPI (mode 1, 1 MHz) and Pins configure the chip
(ads131m08.configure: SYNC/RESET pulse, RESET, ID, MODE 16-bit words / CRC-CCITT /
DRDY level, CLOCK all channels high-resolution OSR 512, GAIN1/2, all read back), then
the SPI is released, DIN is driven low (a NULL command in every frame), and the pins
SCLK, CS and DOUT go to PIO0.

Capture, with no CPU work per sample:
  PIO   state machine `sm_id` of PIO0 at sysclk / 6 (20.8 MHz at 125 MHz; integer
        divider), 4 cycles per bit (SCLK 5.2 MHz):
            wait 0 gpio DRDY      side 0      ; conversion ready
            set pins 0 (CS low)   side 0
            set y 9               side 0      ; 10 words
          word:
            set x 15              side 0      ; 16 bits
          bit:
            nop                   side 1 [1]  ; SCLK high: the chip shifts out (mode 1)
            in pins 1             side 0      ; SCLK low: DOUT into the ISR, MSB first
            jmp x-- bit           side 0
            jmp y-- word          side 0
            set pins 1 (CS high)  side 0
        autopush at 16 bits, shift left, RX FIFO joined (8 words): every FIFO entry is one
        16-bit word, 10 per frame (STATUS, 8 channels, CRC); a frame takes ~33 us of the
        125 us period. DRDY (level format) goes high once the channel data are out, so the
        next wait blocks until the next conversion.
  DMA   three channels chained as in boards/pico/sampler.py (D -> S -> C -> D, no IRQ):
        D  PIO0 RXF[sm] -> raw block (halfwords), paced by DREQ_PIO0_RX0 + sm, count
           frames * 10; S stamps TIMERAWL into stamps[k]; C writes addrs[k + 1] to D's
           AL2_WRITE_ADDR_TRIG. The RX FIFO (8 words, 25 us of data at 20 B / 125 us)
           covers the few bus cycles of S and C.
Ring: nblocks (power of two, default 8) raw blocks of frames * 10 halfwords (6.4 KB
each: 51 KB, 320 ms) and 3 output blocks array('h') of frames * 8 (15 KB).
read(): the completion stamps work as in boards/pico/sampler.py (T = 40 ms; the ADC
clock is the chip's CLKIN, not the RP2040 crystal: each block re-anchors, and a
100 ppm difference is 4 us per block against the +-T/2 window). A raw block is taken
while its age is at most (nblocks - 2) T (the DMA reaches it again (nblocks - 1) T
after it completed), converted, and checked again after conversion (older than
(nblocks - 1) T by then: counted in `overruns`, not returned). A consumer that fell
further behind skips to the oldest safe block and counts the skipped ones in
`overruns` (returned + overruns = blocks since start; `seq` numbers the block last
returned). The 3 output blocks rotate: the block returned and the one before it (the
engine's `prev`) stay intact until the next read().

Kernel (`convert`, viper with the plain twin `ref_convert`): per frame the CRC-16-CCITT
over all 10 words (table-driven, 2 lookups per word; a frame with its CRC gives 0),
then the STATUS word: (STATUS & 0x4FFF) must be 0x00FF (all 8 DRDY bits: new data of
every channel; WLENGTH 16 bit; the RESET flag clear - the chip did not reset since it
was configured; no F_RESYNC, CRC-CCITT). A good frame's 8 words are copied to
out[frame * 8 + ch] and remembered; a bad frame is REPLACED BY THE LAST GOOD FRAME
(zero-order hold) and counted: `crc_errors` (CRC) or `status_errors` (STATUS). The
meter never sums a bad frame's data; one held frame in 8000 changes a second's energy
by at most 1/8000 of it. A chip that reset or a broken link shows as every frame
counted (and a held, flat signal: no energy). `stalls` counts RX FIFO overflows seen
in FDEBUG (the DMA starved: frames were delayed / conversions lost; never torn words).
Cost: ~20 table steps per frame; allocates nothing; all values < 2**24 (32-bit safe).

Scales: +-1.2 V / gain full scale = +-32768 codes: 1.2 / gain / 32768 V per code at the
pin, times v_ratio (mains volts per pin volt) or ct_ratio / burden_ohm. Bias 0 (the
engine removes the DC). Wiring "aron" (3-wire): 2 systems (V1, I1), (V3, I3), V1/V3
carrying the line-to-line voltages V1-V2 / V3-V2, no neutral.

Modules are passed in (machine, rp2, uctypes, time) so the host tests run the class on
host_tests/pio_model.py + ads131m08_model.py; make() imports the real ones.

Not verified on silicon (written against the ADS131M08 datasheet SBAS950B, MicroPython's
rp2 docs / rp2.py / rp2_pio.c and the RP2040 datasheet; run only on the models): the
DRDY level-mode behaviour (high once the channel data are out) and the chip's 2-deep
data FIFO; that the CRC covers the status word as modelled; SPI signal integrity at
5.2 MHz on the board; that a halfword DMA read of RXF pops one entry and returns its
low half; the D -> S -> C latency against the 8-word FIFO; the rp2 PWM CLKIN option;
the front end's gain and phase errors (calibration, later in issue 7).
"""

import array
import sys

import micropython
from micropython import const

from boards.pico.sampler import HALF, MASK, arm_ring, due_us, next_block, ring_lists
from boards.pico_ads131m08 import ads131m08

PIO0_BASE = const(0x50200000)
PIO0_FDEBUG = const(0x50200008)
PIO0_RXF0 = const(0x50200020)
DREQ_PIO0_RX0 = const(4)
WORDS = const(10)               # per frame: STATUS, 8 channels, CRC
STRIDE = const(8)
ST_MASK = const(0x4FFF)         # F_RESYNC, CRC_TYPE, RESET, WLENGTH, DRDY7..0
ST_WANT = const(0x00FF)
K_CRC = const(8)                # kernel state words (array('i')): 0..7 last good frame
K_STATUS = const(9)
K_MASK = const(10)
K_WANT = const(11)
K_WORDS = const(12)
SM_DIV = const(6)               # sysclk / 6 for the state machine: an integer divider
PINS = {"sck": 2, "mosi": 3, "miso": 4, "cs": 5, "drdy": 6, "sync_reset": 7, "clkin": None}
CLKIN_HZ = const(8192000)


@micropython.viper
def _convert(raw: ptr16, out: ptr16, frames: int, tab: ptr16, st: ptr32) -> int:
    mask = st[10]
    want = st[11]
    f = 0
    r = 0
    o = 0
    bad = 0
    while f < frames:
        crc = 0xFFFF
        w = r
        end = r + 10
        while w < end:
            x = raw[w]
            crc = ((crc << 8) & 0xFFFF) ^ tab[((crc >> 8) ^ (x >> 8)) & 0xFF]
            crc = ((crc << 8) & 0xFFFF) ^ tab[((crc >> 8) ^ x) & 0xFF]
            w += 1
        ok = 1
        if crc != 0:
            st[8] = st[8] + 1
            ok = 0
        elif (raw[r] & mask) != want:
            st[9] = st[9] + 1
            ok = 0
        c = 0
        if ok:
            while c < 8:
                x = raw[r + 1 + c]
                out[o + c] = x
                st[c] = x
                c += 1
        else:
            bad += 1
            while c < 8:
                out[o + c] = st[c]
                c += 1
        f += 1
        r += 10
        o += 8
    return bad


def ref_convert(raw, out, frames, tab, st):
    """Plain-Python twin of `convert` (same contract, same state words)."""
    mask = st[K_MASK]
    want = st[K_WANT]
    bad = 0
    for f in range(frames):
        r = f * WORDS
        crc = 0xFFFF
        for w in range(r, r + WORDS):
            x = raw[w] & 0xFFFF
            crc = ((crc << 8) & 0xFFFF) ^ tab[((crc >> 8) ^ (x >> 8)) & 0xFF]
            crc = ((crc << 8) & 0xFFFF) ^ tab[((crc >> 8) ^ x) & 0xFF]
        ok = True
        if crc:
            st[K_CRC] += 1
            ok = False
        elif (raw[r] & 0xFFFF) & mask != want:
            st[K_STATUS] += 1
            ok = False
        o = f * STRIDE
        if ok:
            for c in range(8):
                x = raw[r + 1 + c] & 0xFFFF
                out[o + c] = x - 65536 if x & 0x8000 else x
                st[c] = x
        else:
            bad += 1
            for c in range(8):
                x = st[c] & 0xFFFF
                out[o + c] = x - 65536 if x & 0x8000 else x
    return bad


VIPER = sys.implementation.name == "micropython"

# The asm_thumb twin of _convert (rp2 port, Cortex-M0+): the same CRC steps, STATUS test,
# copy and hold, the same words written (host_tests/test_rp2_kernels.py compares them on the
# emulated chip). A source string compiled at import on the rp2 port only, for the reason
# given in firmware/metrology/kernels.py (asm_thumb compiles neither for the unix port nor
# under CPython); what asm_thumb does not spell is data(2, ..) with the instruction in its
# comment. Arguments: raw, out, tab and ctx = array('i') [frames, address of st] (4 at most).
# Per word: (crc ^ x) >> 8 is the first table index (both 16-bit), the second
# ((crc' >> 8) ^ x) & 0xFF; crc is cut to 16 bits once per word.
# the 8 channel words of a good frame: to out and remembered in st[0..7]; of a bad one:
# the remembered words to out
_COPY = "".join("    ldrh(r5, [r7, %d])\n    strh(r5, [r1, %d])\n    str(r5, [r3, %d])\n"
                % (2 + 2 * k, 2 * k, 4 * k) for k in range(8))
_HOLD = "".join("    ldr(r5, [r3, %d])\n    strh(r5, [r1, %d])\n" % (4 * k, 2 * k)
                for k in range(8))
_CONVERT_THUMB = """
@micropython.asm_thumb
def _convert_thumb(r0, r1, r2, r3):
    # r0 raw, r1 out, r2 tab, r3 ctx: ctx[0] frames, ctx[1] address of st
    mov(r4, r8)
    mov(r5, r9)
    mov(r6, r10)
    mov(r7, r11)
    push({r4, r5, r6, r7})
    ldr(r4, [r3, 0])  # frames
    ldr(r5, [r3, 4])
    mov(r9, r5)  # st
    ldr(r6, [r5, 40])
    mov(r11, r6)  # STATUS mask
    ldr(r6, [r5, 44])
    mov(r12, r6)  # STATUS wanted
    mov(r6, 20)
    mul(r6, r4)
    add(r6, r6, r0)
    mov(r8, r6)  # end of the raw block
    mov(r6, 0)
    mov(r10, r6)  # frames replaced
    b(f_test)
    label(f_loop)
    mov(r7, r0)  # this frame
    mov(r3, r0)
    add(r3, 20)  # its end
    mov(r4, 0)
    mvn(r4, r4)
    lsr(r4, r4, 16)  # crc = 0xFFFF
    label(w_loop)
    ldrh(r5, [r0, 0])  # x
    mov(r6, r4)
    eor(r6, r5)
    lsr(r6, r6, 8)  # (crc >> 8) ^ (x >> 8)
    add(r6, r6, r6)
    data(2, 0x5B96)  # ldrh r6, [r2, r6]
    lsl(r4, r4, 8)
    eor(r4, r6)  # crc << 8 ^ tab[..] (bits 16.. ignored below)
    lsr(r6, r4, 8)
    eor(r6, r5)
    data(2, 0xB2F6)  # uxtb r6, r6
    add(r6, r6, r6)
    data(2, 0x5B96)  # ldrh r6, [r2, r6]
    lsl(r4, r4, 8)
    eor(r4, r6)
    data(2, 0xB2A4)  # uxth r4, r4
    add(r0, 2)
    cmp(r0, r3)
    blt(w_loop)
    mov(r3, r9)  # st
    cmp(r4, 0)
    bne(f_crc)
    ldrh(r5, [r7, 0])
    mov(r6, r11)
    and_(r5, r6)
    mov(r6, r12)
    cmp(r5, r6)
    bne(f_status)
""" + _COPY + """    b(f_next)
    label(f_crc)
    ldr(r5, [r3, 32])
    add(r5, 1)
    str(r5, [r3, 32])  # st[K_CRC] += 1
    b(f_held)
    label(f_status)
    ldr(r5, [r3, 36])
    add(r5, 1)
    str(r5, [r3, 36])  # st[K_STATUS] += 1
    label(f_held)
    mov(r5, r10)
    add(r5, 1)
    mov(r10, r5)
""" + _HOLD + """    label(f_next)
    add(r1, 16)
    label(f_test)
    data(2, 0x4540)  # cmp r0, r8
    blt(f_loop)
    mov(r0, r10)
    pop({r4, r5, r6, r7})
    mov(r8, r4)
    mov(r9, r5)
    mov(r10, r6)
    mov(r11, r7)
"""

THUMB = False           # the asm_thumb kernel is in use (rp2 port)
THUMB_ERROR = None      # why not, on the rp2 port (the viper kernel runs instead)
_convert_viper = _convert
if VIPER and sys.platform == "rp2":
    try:
        import uctypes

        from mpmeter.metrology.kernels import compile_thumb

        _convert_thumb = compile_thumb(_CONVERT_THUMB, "_convert_thumb")
        _addressof = uctypes.addressof
        _CTX = array.array("i", (0, 0))
        THUMB = True
    except Exception as e:      # no inline assembler in this build: viper it is
        THUMB_ERROR = repr(e)


def _convert_m0(raw, out, frames, tab, st):
    """`convert` by the asm_thumb kernel (same arguments, same result and words)."""
    c = _CTX
    c[0] = frames
    c[1] = _addressof(st)
    return _convert_thumb(raw, out, tab, c)


if THUMB:
    _convert = _convert_m0              # what convert() calls


def convert(raw, out, frames, tab, st):
    """Check and copy `frames` raw frames (array('H'), 10 words each: STATUS, 8 channel
    codes, CRC) into out (array('h'), frame * 8 + ch); a frame with a bad CRC or STATUS
    is replaced by the last good one (st[0..7], kept across calls) and counted in
    st[K_CRC] / st[K_STATUS]. st[K_MASK] / st[K_WANT]: the STATUS test. Returns the
    number of frames replaced. Allocates nothing."""
    if VIPER:
        return _convert(raw, out, frames, tab, st)
    return ref_convert(raw, out, frames, tab, st)


def program(rp2, drdy):
    """The frame reader for rp2.StateMachine (see the module doc); drdy: GPIO number."""
    P = rp2.PIO

    @rp2.asm_pio(set_init=P.OUT_HIGH, sideset_init=P.OUT_LOW, in_shiftdir=P.SHIFT_LEFT,
                 autopush=True, push_thresh=16, fifo_join=P.JOIN_RX)
    def frame():
        wait(0, gpio, drdy)     .side(0)
        set(pins, 0)            .side(0)
        set(y, 9)               .side(0)
        label("word")
        set(x, 15)              .side(0)
        label("bit")
        nop()                   .side(1)[1]
        in_(pins, 1)            .side(0)
        jmp(x_dec, "bit")       .side(0)
        jmp(y_dec, "word")      .side(0)
        set(pins, 1)            .side(0)

    return frame


class AdsSampler:
    """hal.py Sampler over an ADS131M08 (see the module doc).

    pins        {"sck", "mosi", "miso", "cs", "drdy", "sync_reset", "clkin"} GPIO numbers
    v_ratio     mains volts per volt at a V input; ct_ratio, burden_ohm: the phase CTs
    gains       8 PGA gains (1..128), channel order; default all 1
    wiring      "4w" (3 systems, neutral on channel 6 if `neutral`) or "aron"
    n_ct_ratio, n_burden_ohm   the neutral CT (default the phase CTs')
    """

    def __init__(self, machine, rp2, uctypes, time, pins, v_ratio, ct_ratio, burden_ohm,
                 gains=None, wiring="4w", neutral=True, n_ct_ratio=None, n_burden_ohm=None,
                 fs=8000, frames=320, nblocks=8, sm_id=0, spi_id=0, spi_baud=1000000):
        if nblocks < 4 or nblocks & (nblocks - 1) or nblocks > 1024:
            raise ValueError("nblocks: a power of two in 4..1024")
        if fs != 8000:
            raise ValueError("fs: 8000 (8.192 MHz CLKIN, OSR 512)")
        if (frames * 1000000) % fs or not 1 <= frames <= 4096:
            raise ValueError("frames: 1..4096, frames / fs a whole number of microseconds")
        if wiring not in ("4w", "aron"):
            raise ValueError('wiring: "4w" or "aron"')
        if not 0 <= sm_id <= 3:
            raise ValueError("sm_id: a PIO0 state machine 0..3")
        p = dict(PINS)
        p.update(pins or {})
        for k in ("sck", "mosi", "miso", "cs", "drdy"):
            if p.get(k) is None:
                raise ValueError("pins.%s: a GPIO number is needed" % k)
        gains = tuple(gains) if gains is not None else (1,) * 8
        ads131m08.gain_values(gains)                     # checks them
        self.fs = fs
        self.frames = frames
        self.stride = STRIDE
        fsv = ads131m08.FS_V / 32768
        i_lsb = [fsv / gains[c] * ct_ratio / burden_ohm for c in range(8)]
        v_lsb = [fsv / gains[c] * v_ratio for c in range(8)]
        pairs = ((0, 3), (2, 5)) if wiring == "aron" else ((0, 3), (1, 4), (2, 5))
        self.systems = [{"v": v, "i": i, "v_lsb": v_lsb[v], "i_lsb": i_lsb[i], "v_bias": 0,
                         "i_bias": 0, "skew": 0.0} for v, i in pairs]
        self.neutral = None
        if neutral and wiring == "4w":
            nl = fsv / gains[6] * (n_ct_ratio or ct_ratio) / (n_burden_ohm or burden_ohm)
            self.neutral = {"ch": 6, "lsb": nl, "bias": 0}
        self.overruns = 0
        self.stalls = 0
        self.seq = -1
        self._s = 0                 # the stamp of the block last taken (next_block)
        self.pins = p
        self._mem = machine.mem32
        self._ticks = time.ticks_us
        self._sm_bit = 1 << sm_id
        self._n = nblocks
        self._len = frames * WORDS
        self._t = frames * 1000000 // fs
        self._half_t = self._t // 2
        self._max_age = (nblocks - 2) * self._t
        self._gone = (nblocks - 1) * self._t
        # -- the chip, once, over machine.SPI ---------------------------------------------
        Pin = machine.Pin
        if p.get("clkin") is not None:
            if machine.freq() % CLKIN_HZ:
                raise ValueError("clkin: the system clock must be a multiple of 8.192 MHz")
            self._pwm = machine.PWM(Pin(p["clkin"]), freq=CLKIN_HZ, duty_u16=32768)
        cs = Pin(p["cs"], Pin.OUT, value=1)
        sr = Pin(p["sync_reset"], Pin.OUT, value=1) if p.get("sync_reset") is not None \
            else None
        drdy = Pin(p["drdy"], Pin.IN)
        spi = machine.SPI(spi_id, baudrate=spi_baud, polarity=0, phase=1, bits=8,
                          firstbit=machine.SPI.MSB if hasattr(machine.SPI, "MSB") else 0,
                          sck=Pin(p["sck"]), mosi=Pin(p["mosi"]), miso=Pin(p["miso"]))
        self.registers = ads131m08.configure(spi, cs, time.sleep_us, gains, sync_reset=sr,
                                             drdy=drdy)
        spi.deinit()
        Pin(p["mosi"], Pin.OUT, value=0)                 # DIN low: NULL commands
        # -- buffers -------------------------------------------------------------------------
        self._raw = [array.array("H", bytearray(2 * self._len)) for _ in range(nblocks)]
        self._out = [array.array("h", bytearray(2 * frames * STRIDE)) for _ in range(3)]
        self._j = 0
        self._tab = ads131m08.crc_table(array.array("H", bytearray(512)))
        self._st = array.array("i", bytearray(4 * K_WORDS))
        self._st[K_MASK] = ST_MASK
        self._st[K_WANT] = ST_WANT
        ring_lists(self, uctypes, self._raw)
        # -- PIO and DMA -----------------------------------------------------------------------
        self._prog = program(rp2, p["drdy"])
        self._rxf = PIO0_RXF0 + 4 * sm_id
        self._dreq = DREQ_PIO0_RX0 + sm_id
        self._dma = (rp2.DMA(), rp2.DMA(), rp2.DMA())
        self._sm = rp2.StateMachine(sm_id, self._prog, freq=machine.freq() // SM_DIV,
                                    in_base=Pin(p["miso"]), set_base=Pin(p["cs"]),
                                    sideset_base=Pin(p["sck"]))
        self._start()

    @property
    def crc_errors(self):
        """Frames with a bad CRC (replaced by the last good frame)."""
        return self._st[K_CRC]

    @property
    def status_errors(self):
        """Frames with a good CRC but a STATUS showing old data, a reset or a resync."""
        return self._st[K_STATUS]

    # -- capture -----------------------------------------------------------------------------
    def _stop_dma(self):
        for ch in self._dma:
            ch.ctrl = ch.pack_ctrl(default=ch.ctrl & 0xFFFFFF, enable=False,
                                   chain_to=ch.channel)
        for ch in self._dma:
            ch.active(0)

    def _start(self):
        d, s, c = self._dma
        self._sm.active(0)
        self._stop_dma()
        t = self._t
        arm_ring(self)
        d.config(read=self._rxf, write=self._raw[0], count=self._len,
                 ctrl=d.pack_ctrl(size=1, inc_read=False, inc_write=True,
                                  treq_sel=self._dreq, chain_to=s.channel, irq_quiet=True),
                 trigger=True)
        self._mem[PIO0_FDEBUG] = self._sm_bit            # RXSTALL written 1: cleared
        self._exp = (self._ticks() + t) & MASK
        self._sm.active(1)
        self._k = 0

    def close(self):
        """Stop the state machine and the three DMA channels; release the channels."""
        self._sm.active(0)
        self._stop_dma()
        for ch in self._dma:
            ch.close()

    # -- the contract --------------------------------------------------------------------------
    def due_us(self):
        """Microseconds until the next block is complete (<= 0: due or late)."""
        return due_us(self)

    def read(self):
        """The oldest complete block not yet returned (array('h')), or None."""
        mem = self._mem
        if mem[PIO0_FDEBUG] & self._sm_bit:
            self.stalls += 1
            mem[PIO0_FDEBUG] = self._sm_bit
        k = next_block(self, self._ticks())
        if k < 0:
            return None
        out = self._out[self._j]
        convert(self._raw[k], out, self.frames, self._tab, self._st)
        if ((self._ticks() - self._s + HALF) & MASK) - HALF >= self._gone:
            self.overruns += 1                   # overwritten while converting
            return None
        self._j = self._j + 1 if self._j < 2 else 0
        return out


def make(pins=None, **front_end):
    """The sampler on the board's own modules (MicroPython rp2 port). front_end:
    v_ratio, ct_ratio, burden_ohm, gains, wiring, neutral, ... (AdsSampler)."""
    import machine
    import rp2
    import time
    import uctypes

    return AdsSampler(machine, rp2, uctypes, time, pins, **front_end)

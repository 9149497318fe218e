"""Model of a TI ADS131M08 on GPIO wires: SPI mode-1 frames, registers, CRC, DRDY, conversions.

CPython, tests only. The chip is a "part" on host_tests/pio_model.py's Gpio: it watches
SCLK, CS and DIN, drives DOUT and DRDY, and is advanced in the model's time base
(system clock cycles of the RP2040, `sys_hz`, integers). Facts from the ADS131M08
datasheet (SBAS950B); what is assumed is marked so.

Frames. CS falling starts a frame: the output words are latched then (word 0 the
response to the PREVIOUS frame's command, words 1..8 the channel data of the oldest
unread conversion, word 9 the CRC-16-CCITT (init 0xFFFF) of every byte before it);
DOUT presents bit k after SCLK rising edge k+1 (mode 1), DIN is latched on falling
edges. CS rising ends the frame: the command in the first input word is executed and
its response queued for the next frame. Word length 24 bits after reset, 16 bits with
MODE.WLENGTH = 00 (24/32-bit modes: 32-bit modes are recorded as an error, the
driver never asks for them). Commands: NULL, RESET (full frame needed; response
0xFF28), STANDBY, WAKEUP, LOCK, UNLOCK, RREG (one register; several: error, not
modelled), WREG (n registers from the following input words; locked: ignored).
MODE.RX_CRC_EN: the input CRC word after the command (and data) is checked; a bad one
drops the command and sets STATUS.CRC_ERR.

Conversions. CLOCK.OSR and PWR give the period (OSR / fmod, fmod = CLKIN / 2 in
high resolution, / 4 low power, / 8 very low power); CLKIN is `clkin_hz` (+ `ppm`).
Every period a conversion of all 8 channels completes: `analog(ch, t_seconds)` ->
volts at the channel's input (differential) sampled at t - `delay_periods` periods
(the sinc3's group delay, 1.5 periods assumed; the same for all channels), times the
PGA gain, + `noise_v` Gaussian noise (seeded), quantised to 24 bits (round to nearest,
clipped) at 1.2 V / 2**23 per code; 16-bit words carry the top 16 bits (code >> 8). A
disabled channel gives 0. The sinc3 filter's magnitude response is not modelled.
`analog` may have a method frame(t) -> 8 volts (one call per conversion, faster).
Each conversion is logged: conv_t[k] (its sample instant, s), conv_codes[k] (8 codes).
Data FIFO (assumed from the datasheet's "two-deep" buffering): 2 conversions; a third
drops the oldest (`overflows`). DRDY (DRDY_FMT 0): falls when a conversion completes;
goes high when the frame that reads it has shifted out all channel data (the falling
edge after the last bit of word 8), unless more unread data wait; with data unread, a
new conversion pulses it high for `DRH_CLKIN` CLKIN periods first (not during a
frame). DRDY_FMT 1: a pulse of that width. The conversion delivered by every frame
is logged in `reads` (frame number, conversion number or -1 for a repeat).

Checks (appended to `errors`; a correct driver causes none): SCLK faster than 25 MHz
or a phase shorter than 16 ns, SCLK high when CS falls (mode 1 idles low), SCLK
edges with CS high, CS high shorter than 20 ns, a frame ending mid-word, a short
frame while the ADCs run, DOUT sampled within `TP_NS` after the edge that changes it,
a transfer in another SPI mode, unknown commands, writes to read-only registers.

`inject(frame_no, word, xor, fix_crc=False)`: flip bits of an output word of frame
number frame_no (`nframe` counts frames since power-up) after its CRC was computed (a
transmission error), or before (fix_crc: e.g. a STATUS the chip really sends).
`frame_t`: the CS-fall time (sys cycles) of every frame. The CRC here is CPython's
binascii.crc_hqx (CRC-CCITT, init 0xFFFF), not the driver's code.

Fast path: `summary()` / replay used by pio_model.Hub: the pin waveform of a PIO
segment (identical every frame) is decoded ONCE by the same SpiDecoder as the live
edges, giving the frame's begin / data-read / end instants, DIN bits and, for every
DOUT sample, the output bit index; each replay then applies those to the chip state.
"""

import binascii
import math
import random

from boards.pico_ads131m08 import ads131m08 as reg

SCLK_MIN_NS = 40.0          # 25 MHz
PHASE_MIN_NS = 16.0
CSH_MIN_NS = 20.0
TP_NS = 25.0                # DOUT propagation delay after SCLK rising (max, assumed)
DRH_CLKIN = 4               # DRDY high pulse width, CLKIN periods (assumed)
FIFO_DEPTH = 2


class SpiDecoder:
    """Mode-1 slave edge decoding with the timing checks (live and summary alike).
    Times in ns. Events returned to the caller: "begin", "data", "end"."""

    def __init__(self, errors):
        self.errors = errors
        self.cs = 1
        self.sclk = 0
        self.rises = 0
        self.falls = 0
        self.din = 0
        self.t_rise = -1e18
        self.t_fall = -1e18
        self.t_cs = -1e18
        self.t_csfall = -1e18
        self.data_bits = 0      # falls after which the channel data are all out

    def err(self, msg):
        if msg not in self.errors:
            self.errors.append(msg)

    def on_cs(self, level, t):
        if level == self.cs:
            return None
        self.cs = level
        if level == 0:
            if t - self.t_cs < CSH_MIN_NS:
                self.err("CS high for %.1f ns (< %g)" % (t - self.t_cs, CSH_MIN_NS))
            if self.sclk:
                self.err("CS fell with SCLK high (mode 1 idles low)")
            self.rises = self.falls = self.din = 0
            self.t_csfall = t
            return "begin"
        self.t_cs = t
        return "end"

    def on_sclk(self, level, t, din):
        if level == self.sclk:
            return None
        self.sclk = level
        if self.cs:
            self.err("SCLK edge with CS high")
            return None
        if level:
            if t - self.t_fall < PHASE_MIN_NS:
                self.err("SCLK low for %.1f ns" % (t - self.t_fall))
            if t - self.t_rise < SCLK_MIN_NS:
                self.err("SCLK period %.1f ns (> 25 MHz)" % (t - self.t_rise))
            if t - self.t_csfall < PHASE_MIN_NS:
                self.err("first SCLK %.1f ns after CS fell" % (t - self.t_csfall))
            self.rises += 1
            self.t_rise = t
            return None
        if t - self.t_rise < PHASE_MIN_NS:
            self.err("SCLK high for %.1f ns" % (t - self.t_rise))
        self.t_fall = t
        self.din = (self.din << 1) | (din & 1)
        self.falls += 1
        if self.falls == self.data_bits:
            return "data"
        return None

    def dout_bit(self, t):
        """Index of the output bit on DOUT at t (None: CS high / before the first edge)."""
        if self.cs or self.rises == 0:
            return None
        if t - self.t_rise < TP_NS:
            self.err("DOUT sampled %.1f ns after the SCLK rising edge (< %g)"
                     % (t - self.t_rise, TP_NS))
        return self.rises - 1


class Ads131m08Model:
    """The chip (see module doc). pins: {"sclk", "din", "dout", "cs", "drdy",
    "sync_reset"} GPIO numbers (the board's MOSI is DIN, MISO is DOUT)."""

    def __init__(self, analog, pins, clkin_hz=8192000.0, ppm=0.0, noise_v=0.0, seed=1,
                 delay_periods=1.5, sys_hz=125000000):
        self.analog = analog
        self.pins = dict(pins)
        self.clkin = clkin_hz * (1.0 + ppm * 1e-6)
        self.noise_v = noise_v
        self.rng = random.Random(seed)
        self.delay_periods = delay_periods
        self.sys_hz = sys_hz
        self.ns = 1e9 / sys_hz
        self.errors = []
        self.gpio = None
        self.nframe = 0
        self.injections = {}
        self.conv_t = []
        self.conv_codes = []
        self.reads = []
        self.frame_t = []           # sys time of every frame's CS fall
        self.overflows = 0
        self.commands = []          # (frame number, command word) of every non-NULL frame
        self._summaries = {}
        self.dec = SpiDecoder(self.errors)
        self._power_up(0)

    # -- state -------------------------------------------------------------------------
    def _power_up(self, t):
        self.regs = dict(reg.RESET_VALUES)
        self.fifo = []              # conversion numbers, oldest first
        self.last = -1              # conversion delivered last
        self.response = None        # word 0 of the next frame (None: STATUS)
        self.locked = False
        self.crc_err = False
        self.drdy = 1
        self.in_frame = False
        self.out = 0
        self.out_bits = 0
        self.out_words = []
        self.latched = -1
        self.frame_new = False
        self._reperiod(t)

    def _reperiod(self, t):
        clk = self.regs[reg.CLOCK]
        osr = reg.OSR_CODES[(clk >> 2) & 7]
        pwr = clk & 3
        fmod = self.clkin / (8, 4, 2, 2)[pwr]
        self.period = osr / fmod * self.sys_hz      # in sys cycles (float)
        self.t_origin = float(t)
        self.k_next = 1
        self.next_conv = int(math.ceil(self.t_origin + self.period))
        self.drh_at = None
        self.drh = DRH_CLKIN / self.clkin * self.sys_hz

    def wbits(self):
        wl = (self.regs[reg.MODE] >> 8) & 3
        return (16, 24, 32, 32)[wl]

    def status(self):
        m = self.regs[reg.MODE]
        s = (m & 0x0F00) | (0x1000 if self.crc_err else 0) | (0x8000 if self.locked else 0)
        if self.fifo:
            s |= self.regs[reg.CLOCK] >> 8
        return s

    # -- wires ---------------------------------------------------------------------------
    def attach(self, gpio):
        self.gpio = gpio
        p = self.pins
        gpio.drive(p["drdy"], 1, self)
        gpio.drive(p["dout"], 0, self)
        gpio.watch(p["cs"], self._cs)
        gpio.watch(p["sclk"], self._sclk)
        if p.get("sync_reset") is not None:
            gpio.watch(p["sync_reset"], self._sync)
        self._t_sync_low = None

    def _set_drdy(self, level):
        if level != self.drdy:
            self.drdy = level
            self.gpio.drive(self.pins["drdy"], level, self)

    def _sync(self, level, t):
        if level == 0:
            self._t_sync_low = t
        elif self._t_sync_low is not None:
            low = (t - self._t_sync_low) / self.sys_hz * self.clkin
            if low >= 2048:
                self._power_up(t)
                self._set_drdy(1)
            else:                           # a SYNC pulse: conversions restart
                self.fifo = []
                self._reperiod(t)
            self._t_sync_low = None

    def _cs(self, level, t):
        ev = self.dec.on_cs(level, t * self.ns)
        if ev == "begin":
            self.begin_frame(t)
            self.gpio.drive(self.pins["dout"], 0, self)
        elif ev == "end":
            self.end_frame(t, self.dec.din, self.dec.falls)

    def _sclk(self, level, t, din=None):
        if din is None:
            din = self.gpio.level(self.pins["din"])
        ev = self.dec.on_sclk(level, t * self.ns, din)
        if ev == "data":
            self.data_read(t)
        if level and not self.dec.cs:
            b = self.dec.rises - 1
            self.gpio.drive(self.pins["dout"], self.bit(b), self)

    def dout_level(self, t):
        """DOUT as the host samples it at t (the timing checked)."""
        b = self.dec.dout_bit(t * self.ns)
        return 0 if b is None else self.bit(b)

    def sample(self, pin, t):
        if pin == self.pins["dout"]:
            return self.dout_level(t)
        return self.gpio.ext[pin][0]

    def replay(self, kind, t, plan):
        """A replayed PIO segment's frame events (pio_model.Hub, see summary())."""
        d = self.dec
        ns = t * self.ns
        if kind == "begin":
            d.cs = 0
            d.rises = d.falls = d.din = 0
            d.t_csfall = ns
            self.begin_frame(t)
        elif kind == "data":
            self.data_read(t)
        else:
            d.cs = 1
            d.sclk = 0
            d.t_cs = d.t_fall = ns
            d.din = plan["din"]
            d.falls = plan["falls"]
            d.rises = plan["falls"]
            self.end_frame(t, plan["din"], plan["falls"])

    def bit(self, b):
        n = self.out_bits
        return (self.out >> (n - 1 - b)) & 1 if b < n else 0

    # -- frames -----------------------------------------------------------------------------
    def begin_frame(self, t):
        self.in_frame = True
        w = self.wbits()
        self.dec.data_bits = 9 * w
        words = [self.status() if self.response is None else self.response]
        self.response = None
        self.frame_new = bool(self.fifo)
        k = self.fifo[0] if self.fifo else self.last
        self.latched = k
        en = self.regs[reg.CLOCK] >> 8
        for ch in range(8):
            c = self.conv_codes[k][ch] if k >= 0 and en >> ch & 1 else 0
            words.append(c & 0xFFFFFF if w == 24 else (c >> 8) & 0xFFFF if w == 16
                         else (c << 8) & 0xFFFFFFFF)
        if w == 16:
            words[0] &= 0xFFFF
        else:
            words[0] = (words[0] & 0xFFFF) << (w - 16)
        nb = w // 8
        inj = self.injections.pop(self.nframe, {})
        for word, (x, fix) in inj.items():
            if fix:
                words[word] ^= x
        data = b"".join(x.to_bytes(nb, "big") for x in words)
        words.append(binascii.crc_hqx(data, 0xFFFF) << (w - 16))   # CRC-16-CCITT, init FFFF
        for word, (x, fix) in inj.items():
            if not fix:
                words[word] ^= x
        self.out_words = words
        self.out = 0
        for x in words:
            self.out = (self.out << w) | x
        self.out_bits = w * len(words)
        self.reads.append((self.nframe, k if self.frame_new else -1))
        self.frame_t.append(t)

    def data_read(self, t):
        if self.frame_new and self.fifo and self.fifo[0] == self.latched:
            self.last = self.fifo.pop(0)
        self.frame_new = False
        if not self.fifo and self.regs[reg.MODE] & 1 == 0:
            self._set_drdy(1)

    def end_frame(self, t, din, nbits):
        self.in_frame = False
        frame_no = self.nframe
        self.nframe += 1
        w = self.wbits()
        if nbits % w:
            self.dec.err("frame of %d bits ends inside a %d-bit word" % (nbits, w))
        nwords = nbits // w
        words = [(din >> (w * (nwords - 1 - j))) & ((1 << w) - 1) for j in range(nwords)]
        words = [x >> (w - 16) for x in words]      # 16-bit commands/data, MSB-aligned
        if nwords < reg.WORDS and self.regs[reg.CLOCK] >> 8:
            self.dec.err("short frame (%d words) while the ADCs run" % nwords)
        if nbits < 9 * w and self.frame_new:
            self.frame_new = False                  # data not read: kept in the FIFO
        if not words:
            return
        cmd = words[0]
        if cmd != reg.NULL:
            self.commands.append((frame_no, cmd))
        nd = 0
        if cmd & 0xE000 == reg.WREG:
            nd = (cmd & 0x7F) + 1
        if self.regs[reg.MODE] & reg.MODE_RX_CRC_EN and cmd != reg.NULL:
            if len(words) < 2 + nd:
                self.dec.err("frame too short for the input CRC")
                return
            nb = w // 8
            data = b"".join((x << (w - 16)).to_bytes(nb, "big") for x in words[:1 + nd])
            if binascii.crc_hqx(data, 0xFFFF) != words[1 + nd]:
                self.crc_err = True
                return
        self._command(cmd, words[1:1 + nd], t, nwords)

    def _command(self, cmd, data, t, nwords):
        if cmd == reg.NULL:
            return
        if cmd == reg.RESET:
            if nwords < reg.WORDS:
                self.dec.err("RESET in a short frame")
                return
            self._power_up(t)
            self._set_drdy(1)
            self.response = reg.RESET_ACK
            return
        if cmd in (reg.STANDBY, reg.WAKEUP, reg.LOCK, reg.UNLOCK):
            if cmd == reg.LOCK:
                self.locked = True
            elif cmd == reg.UNLOCK:
                self.locked = False
            self.response = cmd
            return
        addr = (cmd >> 7) & 0x3F
        n = (cmd & 0x7F) + 1
        if cmd & 0xE000 == reg.RREG:
            if n > 1:
                self.dec.err("RREG of %d registers: not modelled" % n)
                return
            self.response = self.status() if addr == reg.STATUS else self.regs.get(addr, 0)
            return
        if cmd & 0xE000 == reg.WREG:
            if self.locked:
                return
            if len(data) < n:
                self.dec.err("WREG of %d registers with %d data words" % (n, len(data)))
                return
            for j in range(n):
                a = addr + j
                if a in (reg.ID, reg.STATUS) or a not in self.regs:
                    self.dec.err("WREG to read-only or reserved register 0x%02x" % a)
                    continue
                self.regs[a] = data[j]
                if a == reg.MODE and (data[j] >> 8) & 3 >= 2:
                    self.dec.err("32-bit word modes not modelled")
                if a == reg.CLOCK:
                    self._reperiod(t)
            self.response = reg.WREG_ACK | (addr << 7) | (n - 1)
            return
        self.dec.err("unknown command 0x%04x" % cmd)

    def inject(self, frame_no, word, xor, fix_crc=False):
        """Flip bits `xor` of output word `word` (0..9) of frame `frame_no`: after the
        CRC (a transmission error), or before it with fix_crc (the chip sending it)."""
        self.injections.setdefault(frame_no, {})[word] = (xor, fix_crc)

    # -- conversions ------------------------------------------------------------------------
    def next_event(self):
        d = self.drh_at
        return d if d is not None and d < self.next_conv else self.next_conv

    def process(self, t):
        if self.drh_at is not None and t >= self.drh_at:
            self.drh_at = None
            pulse = self.regs[reg.MODE] & 1
            if pulse or (self.fifo and not self.in_frame):
                self._set_drdy(1)       # end of the pulse / the high pulse of unread data
            return
        if t < self.next_conv:
            return
        self._convert(t)
        self.k_next += 1
        self.next_conv = int(math.ceil(self.t_origin + self.k_next * self.period))
        if self.regs[reg.MODE] & 1 == 0:
            self.drh_at = int(self.next_conv - self.drh)

    def _convert(self, t):
        ts = (t - self.delay_periods * self.period) / self.sys_hz
        a = self.analog
        vs = a.frame(ts) if hasattr(a, "frame") else [a(ch, ts) for ch in range(8)]
        g1, g2 = self.regs[reg.GAIN1], self.regs[reg.GAIN2]
        codes = []
        rng = self.rng if self.noise_v else None
        for ch in range(8):
            gr = g1 if ch < 4 else g2
            gain = 1 << ((gr >> (4 * (ch & 3))) & 7)
            v = vs[ch]
            if rng is not None:
                v += rng.gauss(0.0, self.noise_v)
            c = int(math.floor(v * gain / reg.FS_V * 8388608.0 + 0.5))
            codes.append(-8388608 if c < -8388608 else 8388607 if c > 8388607 else c)
        k = len(self.conv_codes)
        self.conv_codes.append(codes)
        self.conv_t.append(ts)
        if len(self.fifo) >= FIFO_DEPTH:
            self.fifo.pop(0)
            self.overflows += 1
        self.fifo.append(k)
        self._set_drdy(0)
        if self.regs[reg.MODE] & 1:                 # pulse format: high again after DRH
            self.drh_at = int(t + self.drh)

    # -- bulk SPI (machine.SPI) --------------------------------------------------------------
    def spi_transfer(self, t0, tx, polarity, phase, baud, pins):
        """A machine.SPI write_readinto of bytes tx starting at sys time t0 while CS is
        (must be) low: returns the bytes on DOUT (0xFF when not selected)."""
        p = self.pins
        if (pins["sck"], pins["mosi"], pins["miso"]) != (p["sclk"], p["din"], p["dout"]):
            self.dec.err("machine.SPI pins %r are not the ADS131M08's" % (pins,))
            return bytes(len(tx))
        if (polarity, phase) != (0, 1):
            self.dec.err("machine.SPI polarity %d phase %d (mode 1 is 0, 1)" % (polarity, phase))
        if self.dec.cs:
            self.dec.err("SPI transfer with CS high")
            return b"\xff" * len(tx)
        half = self.sys_hz / baud / 2.0
        out = bytearray()
        t = float(t0)
        for byte in tx:
            v = 0
            for i in range(8):
                t += half
                self._sclk(1, int(t))
                v = (v << 1) | self.bit(self.dec.rises - 1)
                t += half
                self._sclk(0, int(t), (byte >> (7 - i)) & 1)
            out.append(v)
        return bytes(out)

    # -- fast path (pio_model.Hub) ------------------------------------------------------------
    def summary(self, key, changes, samples, ns_of):
        """Decode a PIO segment's waveform once: changes [(cycle, pin, level)], samples
        [(cycle, pin)], ns_of(cycle) -> ns. Returns the plan {"begin", "data", "end":
        cycle or None, "din", "falls", "bits": [output bit index or None per DOUT
        sample]}, or None if the segment is not one whole frame of this chip. Cached by
        (key, word length)."""
        ck = (key, self.wbits())
        if ck in self._summaries:
            return self._summaries[ck]
        p = self.pins
        mine = (p["cs"], p["sclk"], p["din"])
        if not any(pin in mine for _c, pin, _l in changes):
            self._summaries[ck] = None
            return None
        dec = SpiDecoder(self.errors)
        dec.cs = self.dec.cs
        dec.sclk = self.dec.sclk
        dec.data_bits = 9 * self.wbits()
        din = self.gpio.level(p["din"])
        plan = {"begin": None, "data": None, "end": None, "din": 0, "falls": 0, "bits": []}
        si = 0
        ci = 0
        while ci < len(changes) or si < len(samples):
            # inputs are read before the outputs of the same cycle change
            if si < len(samples) and (ci >= len(changes) or samples[si][0] <= changes[ci][0]):
                c, pin = samples[si]
                si += 1
                if pin == p["dout"]:
                    plan["bits"].append(dec.dout_bit(ns_of(c)))
                else:
                    plan["bits"].append(None)
                continue
            c, pin, level = changes[ci]
            ci += 1
            t = ns_of(c)
            if pin == p["din"]:
                din = level
            elif pin == p["cs"]:
                ev = dec.on_cs(level, t)
                if ev == "begin":
                    if plan["begin"] is not None:
                        plan = None
                        break
                    plan["begin"] = c
                elif ev == "end":
                    plan["end"] = c
                    plan["din"] = dec.din
                    plan["falls"] = dec.falls
            elif pin == p["sclk"]:
                if dec.on_sclk(level, t, din) == "data":
                    plan["data"] = c
        if plan is not None and (plan["begin"] is None or plan["end"] is None
                                 or plan["end"] < plan["begin"]):
            plan = None             # a segment that is not one whole frame: slow path
        self._summaries[ck] = plan
        return plan


class MainsInput3:
    """analog(ch, t) -> volts at the ADS131M08 inputs for 3-phase mains (the sim's
    "ads131m08" channel map, boards/sim/adc.py): 0..2 V1..V3 (wiring "aron": V1-V2 on
    0, V3-V2 on 2, nothing on 1), 3..5 I1..I3 (aron: I2 nothing), 6 the neutral
    (i1 + i2 + i3; aron: nothing), 7 nothing. Phases: [(v_rms, i_rms, phi_deg,
    v_angle_deg)], currents lag by phi. Volts at the pin: v / v_ratio, i / ct_ratio *
    burden_ohm."""

    def __init__(self, phases, f=50.0, v_ratio=400.0 / 1.2, ct_ratio=1.0, burden_ohm=0.12,
                 wiring="4w", harmonics=()):
        self.phases = [tuple(p) for p in phases]
        self.w = 2 * math.pi * f
        self.kv = 1.0 / v_ratio
        self.ki = burden_ohm / ct_ratio
        self.aron = wiring == "aron"

    def quantities(self, t):
        v = []
        i = []
        for n, ph in enumerate(self.phases):
            vr, ir, phi = ph[0], ph[1], ph[2]
            va = math.radians(ph[3]) if len(ph) > 3 and ph[3] is not None \
                else math.radians((0.0, -120.0, 120.0)[n])
            th = self.w * t + va
            v.append(math.sqrt(2) * vr * math.cos(th))
            i.append(math.sqrt(2) * ir * math.cos(th - math.radians(phi)))
        while len(v) < 3:
            v.append(0.0)
            i.append(0.0)
        return v, i

    def frame(self, t):
        v, i = self.quantities(t)
        kv, ki = self.kv, self.ki
        if self.aron:
            return [(v[0] - v[1]) * kv, 0.0, (v[2] - v[1]) * kv, i[0] * ki, 0.0, i[2] * ki,
                    0.0, 0.0]
        return [v[0] * kv, v[1] * kv, v[2] * kv, i[0] * ki, i[1] * ki, i[2] * ki,
                (i[0] + i[1] + i[2]) * ki, 0.0]

    def __call__(self, ch, t):
        return self.frame(t)[ch]


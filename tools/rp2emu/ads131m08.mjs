// A TI ADS131M08 attached to the emulated RP2040 (rp2040js 1.4.1), for mpmeter's 3-phase board.
//
//   import { ADS131M08 } from './ads131m08.mjs';
//   const afe = new ADS131M08(mcu, { pins: {sclk: 2, din: 3, dout: 4, cs: 5, drdy: 6, sync: 7} });
//   afe.command({ f: 50, channels: { 0: { amp: 26823, phase: 0 }, ... }, noise: 0.5 });
//
// Written from the datasheet's rules (SBAS950B), independent of host_tests/ads131m08_model.py:
//   SPI      mode 1 (CPOL 0, CPHA 1): the device shifts DOUT out on SCLK rising edges and
//            latches DIN on falling edges, while /CS is low. A frame is words of 16, 24
//            (reset) or 32 bits (MODE.WLENGTH): the response to the previous frame's
//            command, the 8 channel words, the output CRC word. Commands are the top 16
//            bits of the first DIN word; WREG's data words follow it. A command is
//            decoded when /CS rises; its response is the first word of the next frame.
//   commands NULL -> STATUS, RESET -> 0xFF28 (registers to their reset values, 24-bit
//            words), STANDBY / WAKEUP (conversions stop / restart) / LOCK / UNLOCK -> the
//            command word, RREG (one register -> its value; n > 1 -> 111a aaaa annn nnnn
//            then the registers in the next frame's words), WREG -> 010a aaaa ammm mmmm.
//            A locked device takes only NULL, RREG, UNLOCK.
//   CRC      output CRC over every byte of the frame's words before the CRC word (padding
//            included): CRC-16-CCITT (0x1021) or, with MODE.CRC_TYPE, CRC-16-ANSI (0x8005);
//            init 0xFFFF, MSB first, no final XOR. The 16-bit CRC sits in the word's top.
//            Input CRC (MODE.RX_CRC_EN) is not checked (mpmeter leaves it off).
//   data     every channel converted at the same instant, every OSR / fMOD
//            (fMOD = CLKIN / 2, 4, 8 for CLOCK.PWR high-resolution, low-power, very-low-
//            power): 8 kSa/s at OSR 512 with the 8.192 MHz CLKIN. Code: 24-bit two's
//            complement of (input x PGA gain (GAIN1/2)) + OCAL, times GCAL / 2^23, clamped;
//            16-bit words carry its top 16 bits (truncated), 32-bit ones it padded with
//            zeros (WLENGTH 10) or sign-extended (11). CHn_CFG.MUX 01 (shorted input) gives
//            0, 10 / 11 the +-160 mV test signal; CHn_CFG.PHASE delays the channel by that
//            many fMOD periods. Disabled channels (CLOCK.CH_EN) read 0.
//   STATUS   LOCK, RESET (= MODE.RESET, set by a reset, cleared by writing MODE), CRC_TYPE,
//            WLENGTH, DRDY7..0 (a conversion not yet read, per enabled channel).
//   DRDY     (GP6) low when a conversion is ready. MODE.DRDY_FMT 0 (level): high again
//            once the last channel word has been shifted out; when a conversion comes
//            while the previous one is unread, a short high pulse then low again (that
//            conversion replaces the unread one: counted in `missed`, and in
//            `missed_pio` once a frame has been read by the PIO). DRDY_FMT 1: a low
//            pulse of 4 CLKIN periods.
//   /SYNC/RESET  (GP7) low for more than 2048 CLKIN periods: a reset; shorter: a
//            re-synchronisation (the conversion clock restarts when it rises). Conversions
//            are held while it is low; the first one after it comes one data period later
//            (the sinc3 settling is not modelled).
// The analog inputs: per channel a sum of sines in 16-bit codes at gain 1 (32768 codes =
// 1.2 V at the pin): amp, phase (degrees), harmonics [[h, amp, phase_deg], ...], dc, at
// frequency f (Hz) of emulated time, plus Gaussian noise (`noise` codes rms, seeded).
// `ppm`: the CLKIN's error (the conversion rate scales with it).
// Fault injection: `corrupt: N` flips one data bit in each of the next N frames read after
// their CRC was computed (the host must see N CRC errors).
//
// The RP2040 side (rp2040js 1.4.1, checked in its dist/esm):
//   hardware SPI   RPSPI calls onTransmit(word) per data word and takes the reply with
//                  completeTransmit(value): answered at once (the SPI's timing is not
//                  modelled); the device's /CS is a GPIO (SIO), followed by a pin listener.
//   PIO            RPPIO.run() steps every state machine 1000 instructions per host
//                  setTimeout, unrelated to emulated time, and ignores the clock divider
//                  and the instructions' delay cycles: here `run` is replaced by a pacer on
//                  the emulated clock (a clock alarm): each enabled state machine executes
//                  its instructions at sysclk / (CLKDIV INT + FRAC / 256), an instruction
//                  with delay [d] taking 1 + d cycles, a stalled WAIT taking its cycles; the
//                  pins the state machine drives are propagated after every instruction
//                  (the device follows SCLK / CS edges exactly in instruction order). When
//                  every enabled machine waits on a GPIO, the pacer sleeps until a pin input
//                  changes (GPIO setInputValue is wrapped to wake it). Batches of BATCH_NS.
//                  Not in 1.4.1 and not needed here: FIFO join (SHIFTCTRL.FJOIN_RX: the RX
//                  FIFO stays 4 deep; the DMA drains it within a few ns of emulated time),
//                  the 2-cycle input synchroniser (INPUT_SYNC_BYPASS).

import { mulberry32 } from './adc.mjs';

const GP = { sclk: 2, din: 3, dout: 4, cs: 5, drdy: 6, sync: 7 };
const LOW = 0;
const HIGH = 1;
const BATCH_NS = 1000;                 // the PIO pacer's batch of emulated time
const FS_CODES = 32768;                // 16-bit codes per 1.2 V at gain 1
const TEST_CODES = 0.16 / 1.2 * FS_CODES;

// registers
const R = { ID: 0x00, STATUS: 0x01, MODE: 0x02, CLOCK: 0x03, GAIN1: 0x04, GAIN2: 0x05,
            CFG: 0x06, THRSHLD_MSB: 0x07, THRSHLD_LSB: 0x08, CH0_CFG: 0x09, REGMAP_CRC: 0x3e };
const ID_VALUE = 0x2800;               // 0x28xx: 8 channels
const OSR = [128, 256, 512, 1024, 2048, 4096, 8192, 16256];
const READ_ONLY = new Set([R.ID, R.STATUS, R.REGMAP_CRC]);

function resetValues() {
  const r = new Uint16Array(64);
  r[R.ID] = ID_VALUE;
  r[R.STATUS] = 0x0500;
  r[R.MODE] = 0x0510;
  r[R.CLOCK] = 0xff0e;
  r[R.CFG] = 0x0600;
  for (let n = 0; n < 8; n++) r[R.CH0_CFG + 5 * n + 3] = 0x8000;   // GCAL_MSB: gain 1
  return r;
}

function crc16(bytes, poly) {
  let crc = 0xffff;
  for (const b of bytes) {
    crc ^= b << 8;
    for (let k = 0; k < 8; k++) {
      crc = (crc & 0x8000) ? ((crc << 1) ^ poly) & 0xffff : (crc << 1) & 0xffff;
    }
  }
  return crc;
}

// ---- the PIO pacer: rp2040js's PIO on the emulated clock ------------------------------------
export class PioPacer {
  constructor(mcu, sysNs = 8) {
    this.mcu = mcu;
    this.sysNs = sysNs;
    this.alarm = mcu.clock.createAlarm(() => this.pump());
    this.pending = false;
    this.inPump = false;
    this.steps = 0;
    this.t = 0;
    for (const pio of mcu.pio) {
      if (pio.runTimer) clearTimeout(pio.runTimer);
      pio.run = () => this.kick();
    }
    for (const pin of mcu.gpio) {
      const set = pin.setInputValue.bind(pin);
      pin.setInputValue = (v) => {
        if (this.inPump) return set(v);
        this.sync();
        set(v);
        this.kick();
        return undefined;
      };
    }
  }

  period(m) {
    const div = (m.clockDivInt || 65536) + m.clockDivFrac / 256;
    return this.sysNs * div;
  }

  // machines idle in a WAIT (nothing stepped them): their time starts now
  sync() {
    const now = this.mcu.clock.nanos;
    for (const pio of this.mcu.pio) {
      for (const m of pio.machines) {
        if (m.enabled && m.waiting && m._due !== undefined && m._due < now) m._due = now;
      }
    }
  }

  kick() {
    if (!this.pending) {
      this.pending = true;
      this.alarm.schedule(0);
    }
  }

  pump() {
    this.pending = false;
    const now = this.mcu.clock.nanos;
    let busy = false;
    this.inPump = true;
    for (const pio of this.mcu.pio) {
      if (pio.stopped) continue;
      for (const m of pio.machines) {
        if (!m.enabled) { m._due = undefined; continue; }
        if (m._due === undefined) m._due = now;
        const per = this.period(m);
        while (m._due <= now) {
          if (m.waiting) {
            m.checkWait();
            if (m.waiting) {
              m._due = now + per;
              break;
            }
          }
          const c0 = m.cycles;
          this.t = m._due;                 // the emulated time of this instruction
          m.step();
          pio.checkChangedPins();
          this.steps += 1;
          m._due += Math.max(1, m.cycles - c0) * per;
        }
        // only a wait on a GPIO is woken by something the pacer sees (setInputValue)
        if (!(m.waiting && m.waitType === 1)) busy = true;
      }
    }
    this.inPump = false;
    if (busy) {
      this.pending = true;
      this.alarm.schedule(BATCH_NS);
    }
  }
}

// ---- the device -----------------------------------------------------------------------------
export class ADS131M08 {
  constructor(mcu, opts = {}) {
    this.mcu = mcu;
    this.clock = mcu.clock;
    this.pins = { ...GP, ...(opts.pins || {}) };
    this.pacer = opts.pacer || new PioPacer(mcu, opts.sysNs || 8);
    this.clkin = 8192000;
    this.ppm = 0;
    this.f = 50;
    this.channels = Array.from({ length: 8 }, () => ({ amp: 0, phase: 0, dc: 0, harmonics: [] }));
    this.noise = 0;
    this.rand = mulberry32(1);
    this.corruptLeft = 0;
    this.stats = { frames: 0, frames_pio: 0, frames_spi: 0, conversions: 0, missed: 0,
                   missed_pio: 0, corrupted: 0, resets: 0, commands: 0, bad_spi_mode: 0,
                   syncs: 0, frame_ns: 0, frame_bits: 0, sclk_ns: 0, sclk_min_ns: 0 };
    this.gpio = (n) => mcu.gpio[n];
    this.convAlarm = this.clock.createAlarm(() => this.convert());
    this.drdyAlarm = this.clock.createAlarm(() => this.drdyPulseEnd());
    this.reset(false);
    this.setDrdy(true);
    this.hookSpi(mcu.spi[0]);
    this.watch(this.pins.cs, (v, old) => this.onCs(v, old));
    this.watch(this.pins.sclk, (v, old) => this.onSclk(v, old));
    this.watch(this.pins.sync, (v, old) => this.onSync(v, old));
    this.syncLowAt = null;
    this.csLow = false;
  }

  // the time of an edge: within the pacer's batch, the instruction's own time
  now() {
    return this.pacer.inPump ? this.pacer.t : this.clock.nanos;
  }

  watch(n, fn) {
    this.mcu.gpio[n].addListener(fn);
  }

  // -- state ------------------------------------------------------------------------------
  reset(count = true) {
    this.regs = resetValues();
    this.response = 0xff28;            // the first frame after a reset
    this.responseWords = null;
    this.newData = 0;
    this.code = new Int32Array(8);     // the latest conversion (24-bit codes)
    this.frame = null;
    this.standby = false;
    this.locked = false;
    if (count) this.stats.resets += 1;
    this.restartConversions();
  }

  get mode() { return this.regs[R.MODE]; }
  get wordBits() { return [16, 24, 32, 32][(this.mode >> 8) & 3]; }
  get fmod() { return this.clkin * (1 + this.ppm * 1e-6) / [8, 4, 2, 2][this.regs[R.CLOCK] & 3]; }
  get dataPeriodNs() { return OSR[(this.regs[R.CLOCK] >> 2) & 7] / this.fmod * 1e9; }
  get chEn() { return (this.regs[R.CLOCK] >> 8) & 0xff; }

  status() {
    const m = this.mode;
    return ((this.locked ? 0x8000 : 0) | (m & 0x0800) | (m & 0x0400) | (m & 0x0300)
            | (this.newData & this.chEn)) & 0xffff;
  }

  restartConversions() {
    this.convAlarm.cancel();
    if (this.standby || this.syncLowAt !== null && this.syncLowAt !== undefined) return;
    this.nextConv = this.clock.nanos + this.dataPeriodNs;
    this.convAlarm.schedule(this.nextConv - this.clock.nanos);
  }

  // -- conversions ---------------------------------------------------------------------------
  input(ch, t) {
    const c = this.channels[ch];
    const cfg = this.regs[R.CH0_CFG + 5 * ch];
    const mux = cfg & 3;
    if (mux === 1) return 0;
    if (mux === 2) return TEST_CODES;
    if (mux === 3) return -TEST_CODES;
    let phase = (cfg >> 6) & 0x3ff;
    if (phase & 0x200) phase -= 0x400;
    const tc = t - phase / this.fmod;
    const w = 2 * Math.PI * this.f * tc;
    let x = c.dc + c.amp * Math.sin(w + c.phase * Math.PI / 180);
    for (const [h, a, p] of c.harmonics) x += a * Math.sin(h * w + p * Math.PI / 180);
    if (this.noise) {
      const u = Math.max(this.rand(), 1e-12);
      x += this.noise * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.rand());
    }
    return x;
  }

  convert() {
    const t = this.clock.nanos * 1e-9;
    const g = [this.regs[R.GAIN1], this.regs[R.GAIN2]];
    for (let ch = 0; ch < 8; ch++) {
      if (!(this.chEn & (1 << ch))) { this.code[ch] = 0; continue; }
      const gain = 1 << ((g[ch >> 2] >> (4 * (ch & 3))) & 7);
      const base = R.CH0_CFG + 5 * ch;
      let ocal = (this.regs[base + 1] << 8) | (this.regs[base + 2] >> 8);
      if (ocal & 0x800000) ocal -= 0x1000000;
      const gcal = ((this.regs[base + 3] << 8) | (this.regs[base + 4] >> 8)) / 0x800000;
      let v = Math.round((this.input(ch, t) * 256 * gain + ocal) * gcal);
      v = Math.max(-0x800000, Math.min(0x7fffff, v));
      this.code[ch] = v;
    }
    this.stats.conversions += 1;
    const fmt = this.mode & 1;
    if (this.newData & this.chEn) {
      this.stats.missed += 1;
      if (this.stats.frames_pio) this.stats.missed_pio += 1;
      if (!fmt) this.setDrdy(true);      // the short high pulse before the new data
    }
    this.newData = this.chEn;
    this.setDrdy(false);
    if (fmt) this.drdyAlarm.schedule(4 / this.clkin * 1e9);
    this.nextConv += this.dataPeriodNs;
    this.convAlarm.schedule(Math.max(0, this.nextConv - this.clock.nanos));
  }

  drdyPulseEnd() {
    this.setDrdy(true);
  }

  setDrdy(high) {
    const pin = this.mcu.gpio[this.pins.drdy];
    if (pin.rawInputValue !== high || this.drdyInit === undefined) {
      this.drdyInit = true;
      pin.setInputValue(high);
    }
  }

  setDout(bit) {
    const pin = this.mcu.gpio[this.pins.dout];
    if (pin.rawInputValue !== bit) pin.setInputValue(bit);
  }

  // -- frames --------------------------------------------------------------------------------
  dataWord(code) {
    switch ((this.mode >> 8) & 3) {
      case 0: return (code >> 8) & 0xffff;
      case 1: return code & 0xffffff;
      case 2: return ((code & 0xffffff) << 8) >>> 0;
      default: return code >>> 0;
    }
  }

  beginFrame() {
    const bits = this.wordBits;
    const pad = bits - 16;
    const words = new Array(10).fill(0);
    let resp = this.response;
    if (resp === null) resp = this.status();
    words[0] = (resp << pad) >>> 0;
    const extra = this.responseWords;
    for (let ch = 0; ch < 8; ch++) {
      words[1 + ch] = extra ? ((ch < extra.length ? extra[ch] : 0) << pad) >>> 0
        : this.dataWord(this.chEn & (1 << ch) ? this.code[ch] : 0);
    }
    const nb = bits / 8;
    const bytes = [];
    for (let k = 0; k < 9; k++) {
      for (let b = nb - 1; b >= 0; b--) bytes.push((words[k] >>> (8 * b)) & 0xff);
    }
    const crc = crc16(bytes, this.mode & 0x0800 ? 0x8005 : 0x1021);
    words[9] = (crc << pad) >>> 0;
    if (this.corruptLeft > 0) {
      this.corruptLeft -= 1;
      this.stats.corrupted += 1;
      words[1] = (words[1] ^ (1 << (bits - 8))) >>> 0;
    }
    this.response = null;
    this.responseWords = null;
    this.frame = { words, bits, out: 0, inBits: [], dataEnd: 9 * bits, read: false,
                   pio: false, spi: false, conv: this.stats.conversions,
                   t0: this.now(), rise0: 0, rise1: 0, riseMin: Infinity };
  }

  outBit(fr) {
    const i = fr.out++;
    const w = Math.floor(i / fr.bits);
    const bit = w < 10 ? (fr.words[w] >>> (fr.bits - 1 - (i % fr.bits))) & 1 : 0;
    return bit;
  }

  dataOut(fr) {
    if (!fr.read && fr.out >= fr.dataEnd) {
      fr.read = true;
      if (fr.conv !== this.stats.conversions) return;   // a newer conversion is waiting
      this.newData = 0;
      if (!(this.mode & 1)) this.setDrdy(true);
    }
  }

  endFrame() {
    const fr = this.frame;
    this.frame = null;
    if (!fr) return;
    this.stats.frames += 1;
    if (fr.pio) {                       // its timing: CS low, SCLK period (first to last rise)
      this.stats.frames_pio += 1;
      this.stats.frame_ns = this.now() - fr.t0;
      this.stats.frame_bits = fr.out;
      this.stats.sclk_ns = fr.out > 1 ? (fr.rise1 - fr.rise0) / (fr.out - 1) : 0;
      this.stats.sclk_min_ns = fr.riseMin;
    }
    if (fr.spi) this.stats.frames_spi += 1;
    const bits = fr.bits;
    const nWords = Math.floor(fr.inBits.length / bits);
    const word = (k) => {
      let v = 0;
      for (let b = 0; b < 16; b++) v = (v << 1) | (fr.inBits[k * bits + b] || 0);
      return v;
    };
    if (nWords < 1) return;
    this.execute(word(0), (k) => (k < nWords ? word(k) : null));
  }

  execute(cmd, word) {
    this.stats.commands += 1;
    this.lastCommand = cmd;
    const locked = this.locked;
    if (cmd === 0x0000) return;                                   // NULL: STATUS next
    if (cmd === 0x0655) { this.locked = false; this.response = cmd; return; }
    if ((cmd & 0xe000) === 0xa000) {                              // RREG
      const addr = (cmd >> 7) & 0x3f;
      const n = (cmd & 0x7f) + 1;
      const rd = (a) => (a === R.STATUS ? this.status() : this.regs[a & 0x3f]);
      if (n === 1) this.response = rd(addr);
      else {
        this.response = 0xe000 | (addr << 7) | (n - 1);
        this.responseWords = Array.from({ length: Math.min(n, 8) }, (_, k) => rd(addr + k));
      }
      return;
    }
    if (locked) return;
    switch (cmd) {
      case 0x0011: this.reset(); return;                          // RESET
      case 0x0022: this.standby = true; this.convAlarm.cancel(); this.response = cmd; return;
      case 0x0033: this.standby = false; this.restartConversions(); this.response = cmd; return;
      case 0x0555: this.locked = true; this.response = cmd; return;
      default: break;
    }
    if ((cmd & 0xe000) === 0x6000) {                              // WREG
      const addr = (cmd >> 7) & 0x3f;
      const n = (cmd & 0x7f) + 1;
      let done = 0;
      for (let k = 0; k < n; k++) {
        const v = word(1 + k);
        if (v === null) break;
        this.writeReg(addr + k, v);
        done += 1;
      }
      this.response = 0x4000 | (addr << 7) | Math.max(0, done - 1);
    }
  }

  writeReg(addr, v) {
    if (addr > 0x3f || READ_ONLY.has(addr)) return;
    const clock = this.regs[R.CLOCK];
    this.regs[addr] = v & 0xffff;
    if (addr === R.CLOCK && (clock & 0xff) !== (v & 0xff)) this.restartConversions();
  }

  // -- pins ----------------------------------------------------------------------------------
  onCs(v, old) {
    if (v === LOW && old !== LOW) {
      this.csLow = true;
      this.beginFrame();
    } else if (v !== LOW && old === LOW) {
      this.csLow = false;
      this.endFrame();
    }
  }

  onSclk(v, old) {
    const fr = this.frame;
    if (!this.csLow || !fr) return;
    if (v === HIGH && old !== HIGH) {          // rising: the next bit out
      fr.pio = true;
      const t = this.now();
      if (!fr.out) fr.rise0 = t;
      else fr.riseMin = Math.min(fr.riseMin, t - fr.rise1);
      fr.rise1 = t;
      this.setDout(!!this.outBit(fr));
    } else if (v !== HIGH && old === HIGH) {   // falling: DIN latched
      fr.inBits.push(this.mcu.gpio[this.pins.din].value === HIGH ? 1 : 0);
      this.dataOut(fr);
    }
  }

  onSync(v, old) {
    const now = this.clock.nanos;
    if (v === LOW && old !== LOW) {
      this.syncLowAt = now;
      this.convAlarm.cancel();
    } else if (v !== LOW && old === LOW && this.syncLowAt !== null) {
      const dur = now - this.syncLowAt;
      this.syncLowAt = null;
      if (dur > 2048 / this.clkin * 1e9) this.reset();
      else { this.stats.syncs += 1; this.restartConversions(); }
    }
  }

  hookSpi(spi) {
    this.spi = spi;
    spi.onTransmit = (value) => {
      const fr = this.frame;
      const n = spi.dataBits;
      if (!this.csLow || !fr) { spi.completeTransmit(0); return; }
      fr.spi = true;
      let out = 0;
      for (let k = n - 1; k >= 0; k--) {
        out = (out << 1) | this.outBit(fr);
        fr.inBits.push((value >> k) & 1);
      }
      this.dataOut(fr);
      if (spi.spiMode !== 1) {               // sampled on the wrong edge: one bit late
        this.stats.bad_spi_mode += 1;
        out = (out >> 1) | (this.lastSpiBit << (n - 1));
      }
      this.lastSpiBit = out & 1;
      spi.completeTransmit(out);
    };
    this.lastSpiBit = 0;
  }

  // -- the harness command (`afe {...}`) --------------------------------------------------------
  command(msg) {
    if (msg.f !== undefined) this.f = Number(msg.f);
    if (msg.noise !== undefined) this.noise = Number(msg.noise);
    if (msg.seed !== undefined) this.rand = mulberry32(Number(msg.seed));
    if (msg.ppm !== undefined) this.ppm = Number(msg.ppm);
    if (msg.corrupt !== undefined) this.corruptLeft += Number(msg.corrupt);
    if (msg.channels) {
      for (const [k, c] of Object.entries(msg.channels)) {
        const ch = Number(k);
        if (!(ch >= 0 && ch < 8)) throw new Error(`afe: channel ${k}`);
        this.channels[ch] = { amp: Number(c.amp || 0), phase: Number(c.phase || 0),
                              dc: Number(c.dc || 0), harmonics: (c.harmonics || []).map(
                                (h) => [Number(h[0]), Number(h[1]), Number(h[2] || 0)]) };
      }
    }
    return { ...this.stats, corrupt_left: this.corruptLeft, pio_steps: this.pacer.steps,
             status: this.status(), mode: this.regs[R.MODE], clock: this.regs[R.CLOCK],
             gain1: this.regs[R.GAIN1], gain2: this.regs[R.GAIN2],
             data_period_ns: this.dataPeriodNs, word_bits: this.wordBits,
             last_command: this.lastCommand === undefined ? null : this.lastCommand };
  }
}

// The analog side of the emulated Pico: pin voltages of the ADC inputs at any instant, and the
// RP2040 ADC's transfer curve with the E11 wide codes and noise.
//
// set({f, vref, noise_lsb, dnl, channels: {AIN: {bias, harmonics: [[h, volts_peak,
// phase_rad], ...]}}}) replaces the model; code(ain, t_seconds) is the 12-bit result of
// a conversion that samples at t. Unset inputs sit at mid-rail; AIN4 (the temperature
// sensor) reads 0.706 V (27 C).
//
// Transfer curve, from the RP2040 datasheet's erratum RP2040-E11 ("ADC DNL at codes 512,
// 1536, 2560 and 3584"), written here without reference to the firmware's own model:
// the ideal converter gives code c for an input of c..c+1 LSB (LSB = vref / 4096). Each
// of the four codes is WIDE_LSB wide and centred on its ideal centre; the codes below
// and above it in its 1024-code period share what is left of that period evenly (so
// the four periods keep their ideal ends: no gain error, INL of a few LSB between the
// wide codes). Measured DNL at these codes on real parts is 8-10 LSB (M. Omo 2021).
// Noise: Gaussian, `noise_lsb` rms at the input, from a seeded generator
// (mulberry32 + Box-Muller), so a run repeats exactly for a seed.

const WIDE_LSB = 10;            // 1 + 9 LSB of extra width
const HALF = WIDE_LSB / 2;

// a small seeded generator (also the ADS131M08 model's noise)
export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// input in LSB (continuous) -> code, the E11 curve
export function e11Code(u) {
  if (u < 0) return 0;
  if (u >= 4096) return 4095;
  const k = Math.floor(u / 1024);
  const x = u - 1024 * k;               // position in the period, 0..1024
  const wideLo = 512 + 0.5 - HALF;      // the wide code's edges (ideal centre 512.5)
  const wideHi = 512 + 0.5 + HALF;
  let c;
  if (x < wideLo) c = Math.floor(x * 512 / wideLo);                     // codes 0..511
  else if (x < wideHi) c = 512;
  else c = 513 + Math.floor((x - wideHi) * 511 / (1024 - wideHi));     // 513..1023
  return 1024 * k + Math.min(c, 1023);
}

export class Analog {
  constructor(seed = 1) {
    this.rand = mulberry32(seed);
    this.spare = null;
    this.set({});
  }

  set(m) {
    this.f = m.f !== undefined ? m.f : 50;
    this.vref = m.vref !== undefined ? m.vref : 3.3;
    this.noise = m.noise_lsb !== undefined ? m.noise_lsb : 0;
    this.dnl = m.dnl !== undefined ? !!m.dnl : true;
    this.t0 = m.t0 !== undefined ? m.t0 : 0;        // phase reference instant (s)
    this.channels = [];
    const ch = m.channels || {};
    for (let k = 0; k < 4; k++) {
      const c = ch[k] || ch[String(k)] || {};
      this.channels.push({
        bias: c.bias !== undefined ? c.bias : this.vref / 2,
        harmonics: (c.harmonics || []).map((h) => [h[0], h[1], h[2] || 0]),
      });
    }
  }

  gauss() {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.rand();
    const v = this.rand();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  volts(ain, t) {
    if (ain >= 4) return 0.706;
    const c = this.channels[ain];
    const w = 2 * Math.PI * this.f * (t - this.t0);
    let v = c.bias;
    for (const [h, a, ph] of c.harmonics) v += a * Math.sin(h * w + ph);
    return v;
  }

  code(ain, t) {
    let u = this.volts(ain, t) / this.vref * 4096;
    if (this.noise) u += this.noise * this.gauss();
    return this.dnl ? e11Code(u) : Math.max(0, Math.min(4095, Math.floor(u)));
  }
}

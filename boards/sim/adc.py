"""Converter / analog front-end models of the simulator: channel maps, scales, noise, DNL.

`frontend(model, profile, wiring, ...)` returns a description dict. Its keys
fs, frames, stride, systems, neutral are exactly the Sampler contract of
firmware/hal.py; the other keys tell the renderer (boards/sim/waveform.py)
what each channel carries and how it is converted.

Models
------
"rp2040"  The Pico's internal 12-bit SAR ADC, free-running round-robin over
          ADC0 (V), ADC1 (I) and optionally ADC2 (neutral I), FIFO drained by DMA
          into int16 blocks. Profile 162 only (4 analog inputs cannot carry 3 phases).
          fs = 4000 frames/s, the ADC converting at fs * stride conversions/s;
          channel c of a frame is sampled c / (fs * stride) s after channel 0,
          so the I channel lags V by 1/stride frame (systems[0]["skew"]).
          80 frames per block (20 ms at 50 Hz). Codes 0..4095.
          Scales (162: V via AC-AC adapter + divider, I via SCT-013-000 CT + burden):
          +-450 V peak and +-130 A peak over +-2048 codes:
          v_lsb = 450/2048 V, i_lsb = 130/2048 A per code.
          Bias: nominal mid-rail 2048 (what `systems` reports); the real bias of
          each channel is off by a few codes (V +3, I -2, N +1: "true_bias"), which
          the metrology removes with the DC sums.
          Noise: Gaussian, 1.2 LSB rms by default (measured on a Pico: 0.97 LSB rms
          with the regulator in PFM mode, 1.36 LSB in PWM mode; M. Omo,
          "Characterizing the Raspberry Pi Pico ADC", 2021).
          DNL: RP2040 datasheet erratum RP2040-E11 ("ADC DNL at codes 512, 1536,
          2560 and 3584"): these four codes are wide. Modelled as +9 LSB of extra
          width each (M. Omo measured a worst DNL of 8.9 LSB; the averaged
          correction table of kitanokitsune/rp2040adc_correction shows jumps of
          9..10 LSB there). Where the extra width comes from, `dnl_model`:
          "centred" (default; the model boards/pico/adc_dnl.py undoes): the wide
            code is centred on its ideal position and the other 1023 codes of its
            1024-code period share the remaining 1023 - 9 LSB evenly (DNL -0.009
            each). Average gain nominal; locally the slope is 1.009, so a small
            signal around mid-rail reads ~0.9 % high until linearised, and codes
            are off by up to +-4.5 LSB between the wide codes (INL).
          "outward" (closer to the published measurements, which show a nearly
            ideal slope between the wide codes and offsets accumulating to about
            -15 / +14 codes at the rails): each wide code extends away from
            mid-rail; codes 1537..2559 are ideal, codes beyond one wide code sit
            9 LSB further out, beyond two 18 LSB; the 4096 codes span 4096 + 36
            LSB. A 230 V sine (+-1480 codes) reads ~0.7 % low until linearised.
          dnl=False removes the defect. Output clipped to 0..4095.
"ads131m08" TI ADS131M08-like 8-channel simultaneous delta-sigma AFE, 24-bit
          conversion delivered in 16-bit word mode (WLENGTH = 16 bit) because the
          viper kernels take int16 blocks. fs = 8000 frames/s, 320 frames per
          block, stride 8, no skew (all channels sampled together).
          Channels: 0..2 V1..V3, 3..5 I1..I3, 6 neutral current, 7 spare (always 0).
          V: +-400 V peak over +-32768 (v_lsb = 400/32768); for wiring "aron" the
             V channels see line-to-line voltages: +-800 V peak (v_lsb = 800/32768).
          I: profile 351 (CT 5(6) A secondaries) +-10 A peak over +-32768;
             profile 162 on this AFE +-130 A peak over +-32768.
          Noise: Gaussian, 0.3 LSB16 rms by default (the converter's own noise is
          far below one 16-bit LSB at this data rate; 0.3 LSB stands for front-end
          and reference noise), then rounding to the 16-bit word and clipping to
          -32768..32767. Bias 0.
          Wiring "aron" (3-phase 3-wire, two-wattmeter): V1 carries v1 - v2, V3
          carries v3 - v2, currents I1 and I3; V2, I2 and the neutral carry no
          signal (noise only); 2 measuring systems (V1, I1) and (V3, I3), no neutral.
          Wiring "4w": 3 systems (Vk, Ik), neutral = i1 + i2 + i3 on channel 6.
          Profile 162: 1 system (V1, I1), neutral channel = i1, V2, V3, I2, I3 noise only.

Neutral current: the sum of the phase currents at the channel's sampling
instant (1-phase: the phase current itself).

Analog errors (`errors`, for calibration tests): {channel: {"gain": factor,
"delay_us": analog delay of the channel in microseconds (positive = the channel
sees the signal later), "offset": DC offset in codes}}; default none.

Channel description (frontend()["channels"][c]):
    name        "V1", "I1", "IN", "V2-", "SPARE" ...
    terms       [[phase index, "v" | "i", sign], ...]: the channel carries
                sum(sign * quantity of phase) ([] = no signal)
    lsb         volts or amps per code
    true_bias   real code at zero signal (float)
    sample_s    sampling instant within the frame, seconds after channel 0
    gain, delay_us, offset   analog errors (1.0, 0.0, 0.0 by default)
    noise       True if the converter noise is added to this channel
"""

MODELS = ("rp2040", "ads131m08")

RP2040_FS = 4000
RP2040_FRAMES = 80
RP2040_V_LSB = 450.0 / 2048
RP2040_I_LSB = 130.0 / 2048
RP2040_BIAS = 2048
RP2040_BIAS_ERR = (3, -2, 1)          # real bias - 2048, per channel V, I, N (codes)
RP2040_NOISE_LSB = 1.2
RP2040_DNL_CODES = (512, 1536, 2560, 3584)
RP2040_DNL_WIDTH = 9.0                 # extra width of each of the codes above, LSB
DNL_MODELS = ("centred", "outward")

ADS_FS = 8000
ADS_FRAMES = 320                      # 40 ms blocks: half the per-block Python of 160
ADS_STRIDE = 8
ADS_V_LSB = 400.0 / 32768
ADS_V_LSB_ARON = 800.0 / 32768
ADS_I_LSB_351 = 10.0 / 32768
ADS_I_LSB_162 = 130.0 / 32768
ADS_NOISE_LSB = 0.3

_ERR_KEYS = ("gain", "delay_us", "offset")


def _chan(name, terms, lsb, bias, sample_s, noise=True):
    return {"name": name, "terms": terms, "lsb": lsb, "true_bias": float(bias),
            "sample_s": sample_s, "gain": 1.0, "delay_us": 0.0, "offset": 0.0,
            "noise": noise}


def _system(v, i, v_lsb, i_lsb, bias, skew):
    return {"v": v, "i": i, "v_lsb": v_lsb, "i_lsb": i_lsb, "v_bias": bias, "i_bias": bias,
            "skew": skew}


def _rp2040(profile, wiring, neutral):
    if profile != "162" or wiring != "4w":
        raise ValueError("model: rp2040 supports profile 162 (1 phase) only")
    stride = 3 if neutral else 2
    dt = 1.0 / (RP2040_FS * stride)
    b = RP2040_BIAS
    ch = [_chan("V1", [[0, "v", 1]], RP2040_V_LSB, b + RP2040_BIAS_ERR[0], 0.0),
          _chan("I1", [[0, "i", 1]], RP2040_I_LSB, b + RP2040_BIAS_ERR[1], dt)]
    if neutral:
        ch.append(_chan("IN", [[0, "i", 1]], RP2040_I_LSB, b + RP2040_BIAS_ERR[2], 2 * dt))
    return {
        "model": "rp2040", "fs": RP2040_FS, "frames": RP2040_FRAMES, "stride": stride,
        "systems": [_system(0, 1, RP2040_V_LSB, RP2040_I_LSB, b, 1.0 / stride)],
        "neutral": {"ch": 2, "lsb": RP2040_I_LSB, "bias": b} if neutral else None,
        "channels": ch, "signed": False, "code_min": 0, "code_max": 4095,
        "noise_lsb": RP2040_NOISE_LSB,
        "dnl_codes": list(RP2040_DNL_CODES), "dnl_width": RP2040_DNL_WIDTH,
    }


def _ads(profile, wiring, neutral):
    il = ADS_I_LSB_351 if profile == "351" else ADS_I_LSB_162
    vl = ADS_V_LSB
    if profile == "162":
        ch = [_chan("V1", [[0, "v", 1]], vl, 0, 0.0), _chan("V2", [], vl, 0, 0.0),
              _chan("V3", [], vl, 0, 0.0), _chan("I1", [[0, "i", 1]], il, 0, 0.0),
              _chan("I2", [], il, 0, 0.0), _chan("I3", [], il, 0, 0.0),
              _chan("IN", [[0, "i", 1]] if neutral else [], il, 0, 0.0)]
        systems = [_system(0, 3, vl, il, 0, 0.0)]
    elif wiring == "aron":
        vl = ADS_V_LSB_ARON
        ch = [_chan("V12", [[0, "v", 1], [1, "v", -1]], vl, 0, 0.0),
              _chan("V2", [], vl, 0, 0.0),
              _chan("V32", [[2, "v", 1], [1, "v", -1]], vl, 0, 0.0),
              _chan("I1", [[0, "i", 1]], il, 0, 0.0), _chan("I2", [], il, 0, 0.0),
              _chan("I3", [[2, "i", 1]], il, 0, 0.0), _chan("IN", [], il, 0, 0.0)]
        systems = [_system(0, 3, vl, il, 0, 0.0), _system(2, 5, vl, il, 0, 0.0)]
        neutral = False
    else:
        ch = [_chan("V%d" % (k + 1), [[k, "v", 1]], vl, 0, 0.0) for k in range(3)]
        ch += [_chan("I%d" % (k + 1), [[k, "i", 1]], il, 0, 0.0) for k in range(3)]
        ch.append(_chan("IN", [[0, "i", 1], [1, "i", 1], [2, "i", 1]] if neutral else [],
                        il, 0, 0.0))
        systems = [_system(k, k + 3, vl, il, 0, 0.0) for k in range(3)]
    ch.append(_chan("SPARE", [], il, 0, 0.0, noise=False))
    return {
        "model": "ads131m08", "fs": ADS_FS, "frames": ADS_FRAMES, "stride": ADS_STRIDE,
        "systems": systems,
        "neutral": {"ch": 6, "lsb": il, "bias": 0} if neutral else None,
        "channels": ch, "signed": True, "code_min": -32768, "code_max": 32767,
        "noise_lsb": ADS_NOISE_LSB, "dnl_codes": [], "dnl_width": 0.0,
    }


def frontend(model, profile="162", wiring="4w", neutral=True, noise_lsb=None, errors=None,
             dnl=True, dnl_model="centred"):
    """Front-end description of `model` wired for `profile` / `wiring` (see module doc).

    neutral   : measure the neutral current (rp2040: adds ADC2, stride 3 instead of 2)
    noise_lsb : Gaussian noise rms in LSB (None = the model's default)
    errors    : {channel: {"gain": g, "delay_us": d, "offset": codes}} analog errors
    dnl       : False: ideal RP2040 transfer curve (dnl_width 0)
    dnl_model : "centred" | "outward" (RP2040 only; see module doc)
    """
    profile = str(profile)
    if profile not in ("162", "351"):
        raise ValueError('profile: must be "162" or "351"')
    if wiring not in ("4w", "aron"):
        raise ValueError('wiring: must be "4w" or "aron"')
    if model == "rp2040":
        fe = _rp2040(profile, wiring, neutral)
    elif model == "ads131m08":
        fe = _ads(profile, wiring, neutral)
    else:
        raise ValueError("model: must be one of %s" % (MODELS,))
    fe["profile"] = profile
    fe["wiring"] = wiring
    if not dnl:
        fe["dnl_width"] = 0.0
    if dnl_model not in DNL_MODELS:
        raise ValueError('dnl_model: must be "centred" or "outward"')
    fe["dnl_model"] = dnl_model
    if noise_lsb is not None:
        if type(noise_lsb) not in (int, float) or not 0 <= noise_lsb <= 30:
            raise ValueError("noise_lsb: must be a number in 0..30")
        fe["noise_lsb"] = float(noise_lsb)
    if errors:
        if type(errors) is not dict:
            raise ValueError("errors: must be a dict {channel: {gain, delay_us, offset}}")
        for c in errors:
            e = errors[c]
            if type(c) is not int or not 0 <= c < fe["stride"]:
                raise ValueError("errors[%r]: channel outside 0..%d" % (c, fe["stride"] - 1))
            if type(e) is not dict:
                raise ValueError("errors[%d]: must be a dict" % c)
            for k in e:
                if k not in _ERR_KEYS:
                    raise ValueError("errors[%d].%s: unknown field" % (c, k))
                x = e[k]
                if type(x) not in (int, float):
                    raise ValueError("errors[%d].%s: must be a number" % (c, k))
                if k == "gain" and not 0.5 <= x <= 2.0:
                    raise ValueError("errors[%d].gain: must be in 0.5..2" % c)
                if k == "delay_us" and not -1000.0 <= x <= 1000.0:
                    raise ValueError("errors[%d].delay_us: must be in -1000..1000" % c)
                if k == "offset" and not -1000.0 <= x <= 1000.0:
                    raise ValueError("errors[%d].offset: must be in -1000..1000 codes" % c)
                fe["channels"][c][k] = float(x)
    return fe

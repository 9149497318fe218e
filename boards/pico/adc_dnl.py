"""RP2040 ADC linearisation table: undoes the wide codes of erratum RP2040-E11.

RP2040 datasheet, erratum E11 ("ADC differential non-linearity"): codes 512,
1536, 2560 and 3584 are much wider than the others (DNL up to about +9 LSB),
so the transfer curve has a step of that size in every 1024-code period and
small signals around mid-scale see a gain about 1 % high. The usual fix is a
table from raw code to the centre of that code's input interval. We assume the
extra width sits centred on the wide code and is taken evenly from the other
1023 codes of the period; `width` is the per-chip figure (9 LSB nominal; a
ramp test on the real chip measures it).

table(width, scale) -> array('h') of 4096 entries: (centre - 2048) * scale,
rounded. With scale 8 the values span -16384..16376 (int16) and keep 1/8 LSB.
The metrology then sees bias 0 and an LSB size divided by `scale`.
"""

import array


def centre(code, width=9.0):
    """Input position (in ideal LSB) of the centre of raw `code`'s interval."""
    period, r = divmod(code, 1024)
    half = width / 2
    if r < 512:
        c = -0.5 + (r + 0.5) * (512 - half) / 512
    elif r == 512:
        c = 512.0
    else:
        c = 512.5 + half + (r - 513 + 0.5) * (511 - half) / 511
    return period * 1024 + c


def table(width=9.0, scale=8):
    t = array.array("h", [0] * 4096)
    for code in range(4096):
        v = (centre(code, width) - 2048) * scale
        t[code] = int(v + 0.5) if v >= 0 else -int(-v + 0.5)
    return t


def linearised(systems, neutral, scale=8):
    """The sampler's system/neutral descriptions after the table: bias 0, LSB / scale."""
    out = []
    for s in systems:
        d = dict(s)
        d["v_bias"] = 0
        d["i_bias"] = 0
        d["v_lsb"] = s["v_lsb"] / scale
        d["i_lsb"] = s["i_lsb"] / scale
        out.append(d)
    n = None
    if neutral is not None:
        n = dict(neutral)
        n["bias"] = 0
        n["lsb"] = neutral["lsb"] / scale
    return out, n

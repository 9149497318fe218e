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

Boot time: computing the 4096 entries takes 0.55 s on the RP2040 (software floats), so
the table of the defaults (width 9, scale 8) is a constant in the image:
boards/pico/adc_dnl_table.py, 8 KiB of int16 little endian, written by
`python tools/gen_adc_dnl.py` from this module's own rule (a test checks that the two
agree entry by entry). table() then copies it into RAM (a memcpy); any other width or
scale is computed as before.
"""

import array
import sys

DEFAULT_WIDTH = 9.0
DEFAULT_SCALE = 8


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


def table(width=DEFAULT_WIDTH, scale=DEFAULT_SCALE):
    if width == DEFAULT_WIDTH and scale == DEFAULT_SCALE:
        from boards.pico.adc_dnl_table import TABLE

        if sys.implementation.name == "micropython":
            return array.array("h", TABLE)          # the bytes as int16, copied
        t = array.array("h")
        t.frombytes(TABLE)
        if sys.byteorder != "little":
            t.byteswap()
        return t
    return compute(width, scale)


def compute(width=DEFAULT_WIDTH, scale=DEFAULT_SCALE):
    """The table entry by entry (what table() copies for the defaults)."""
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


def source(width=DEFAULT_WIDTH, scale=DEFAULT_SCALE):
    """The text of boards/pico/adc_dnl_table.py (tools/gen_adc_dnl.py writes it)."""
    t = compute(width, scale)
    raw = bytearray()
    for v in t:
        v &= 0xFFFF
        raw.append(v & 0xFF)
        raw.append(v >> 8)
    lines = ['"""RP2040 E11 linearisation table of boards/pico/adc_dnl.py (width %s, scale %d):'
             % (width, scale),
             "4096 int16 little endian. Written by tools/gen_adc_dnl.py; do not edit.",
             '"""', "", "TABLE = ("]
    for k in range(0, len(raw), 16):
        lines.append('    b"' + "".join("\\x%02x" % b for b in raw[k:k + 16]) + '"')
    lines.append(")")
    return "\n".join(lines) + "\n"

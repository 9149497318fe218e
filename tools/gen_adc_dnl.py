"""Write boards/pico/adc_dnl_table.py: the RP2040 E11 linearisation table as a constant.

    python tools/gen_adc_dnl.py

The table is boards/pico/adc_dnl.py's rule for the default width and scale, computed
here once instead of at every boot of the Pico (0.55 s there).
"""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from boards.pico import adc_dnl  # noqa: E402

OUT = os.path.join(ROOT, "boards", "pico", "adc_dnl_table.py")

if __name__ == "__main__":
    with open(OUT, "w") as f:
        f.write(adc_dnl.source())
    print("wrote", os.path.relpath(OUT, ROOT))

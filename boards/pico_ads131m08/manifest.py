"""MicroPython build manifest of the mpmeter Pico + ADS131M08 firmware.

    make -C ports/rp2 BOARD=RPI_PICO \
        FROZEN_MANIFEST=/path/to/mpmeter/boards/pico_ads131m08/manifest.py

The board is a Pico with an ADS131M08 on SPI: the same RP2040 image, flash layout and
_boot.py. So it includes boards/pico/manifest.py (the rp2 port's modules without the
port's _boot.py, the meter's _boot.py, mpmeter, boards.pico; see there why the meter is
frozen and why the port's manifest is not included as it is) and adds this directory's
modules as boards.pico_ads131m08.* (read when the build runs this manifest, so a new
module needs no edit here). Paths are relative to this directory (the build runs a
manifest with its own directory as the current one).
"""

import os

include("../pico/manifest.py")

package("boards/pico_ads131m08", base_path="../..", opt=2,
        files=sorted(f for f in os.listdir(".") if f.endswith(".py") and f != "manifest.py"))

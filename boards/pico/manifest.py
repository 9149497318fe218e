"""MicroPython build manifest of the mpmeter Pico firmware: the meter frozen into the image.

    make -C ports/rp2 BOARD=RPI_PICO FROZEN_MANIFEST=/path/to/mpmeter/boards/pico/manifest.py

Why freeze: the meter's bytecode is about 127 KB of .mpy (firmware 103.0 KB, of which
the asm_thumb kernels' source text, compiled at import on the rp2 port, is about 10 KB;
boards/pico 23.9 KB of which 8.3 KB is the E11 table; mpy-cross -march=armv6m -O2; a
test measures it). Imported from
.mpy files on the filesystem (tools/deploy.py, for development) all of it is loaded into
the RP2040's heap, with its constants and module objects (~200 KB of heap on the 64-bit
unix port, measured by importing every module; the RP2040's is about that size). Frozen
into the image, bytecode, strings and constant tuples stay in flash and run from there
(XIP), leaving the heap to the meter's data. The image region is 640 KiB
(boards/pico/README.md, flash layout); MicroPython plus the frozen meter must fit it.

What is frozen, under the names the board imports (no filesystem file is needed):
  mpmeter.*          firmware/, through the repository's `mpmeter` symlink to it
  boards, boards.pico.*   boards/__init__.py and this directory's modules (as packages,
                     the same names as on the sim and in tools/deploy.py's tree)
  _boot              this directory's _boot.py: littlefs over the low FS_BYTES of the
                     storage region only, so the record store on top is never formatted
  the rp2 port's own modules and libraries: everything ports/rp2/boards/manifest.py
                     freezes (rp2.py, which `import rp2` needs, asyncio, onewire,
                     ds18x20, dht, neopixel) EXCEPT the port's _boot.py.

The port's manifest is not include()d because it freezes $(PORT_DIR)/modules whole, with
the port's _boot.py (mount and format littlefs over all 1408 KiB, the store included).
Two entries for _boot.py compile to the same frozen_mpy/_boot.mpy, and makemanifest.py
keeps whichever it compiled first: the meter's could silently lose. So this file
repeats the port manifest's lines, leaving that one file out; if a MicroPython release
renames a file listed here the build stops ("Cannot stat"), and a new port module has
to be added here by hand. A file (a main module, a sampler) added to boards/pico/ is
frozen without an edit here (the list is read when the build runs this manifest).
A manifest runs with its own directory as the current one; paths are relative to it.
"""

import os

# the rp2 port's manifest (ports/rp2/boards/manifest.py, v1.2x) without its _boot.py
freeze("$(PORT_DIR)/modules", ("rp2.py", "_boot_fat.py"))
include("$(MPY_DIR)/extmod/asyncio")
require("onewire")
require("ds18x20")
require("dht")
require("neopixel")

# the meter's _boot.py in place of the port's (frozen as `_boot`)
module("_boot.py", opt=2)

# the firmware as package mpmeter (../../mpmeter -> firmware/)
package("mpmeter", base_path="../..", opt=2)

# the board's modules as boards.pico.*; _boot.py is frozen above, this file is not code
package("boards", files=["__init__.py"], base_path="../..", opt=2)
package("boards/pico", base_path="../..", opt=2,
        files=sorted(f for f in os.listdir(".")
                     if f.endswith(".py") and f not in ("_boot.py", "manifest.py")))

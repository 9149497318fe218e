"""What the emulator tests share: the firmware image (built when the toolchain is here), skips that say what is missing.

    uf2 = image("pico")            # build/firmware/pico/firmware.uf2, built if needed
    with chip(uf2) as c: ...       # a booted rp2emu.Chip (tools/rp2emu.py)

The short smoke (test_rp2_smoke.py) runs in `make test`; the rest of test_rp2_*.py only
with MPMETER_RP2=1 (`make rp2test`): `full` is their skip marker. Where the toolchain is
missing the tests skip, naming what to install.
"""

import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))

import rp2emu  # noqa: E402

full = pytest.mark.skipif(not os.environ.get("MPMETER_RP2"),
                          reason="the whole emulator suite runs in make rp2test")

HOWTO = ("apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi cmake, then "
         "make firmware BOARD=%s")


def image(board="pico"):
    """The board's UF2: built by tools/firmware.py (cached) when arm-none-eabi-gcc is
    here; a skip naming what is missing otherwise."""
    why = rp2emu.missing()
    if why:
        pytest.skip("emulator: " + why)
    path = os.path.join(ROOT, "build", "firmware", board, "firmware.uf2")
    if not shutil.which("arm-none-eabi-gcc"):
        if os.path.exists(path):
            return path
        pytest.skip("emulator: no firmware image and no toolchain to build it: " + HOWTO % board)
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "firmware.py"), board],
                       cwd=ROOT, capture_output=True, text=True, timeout=1200)
    assert r.returncode == 0, r.stdout + r.stderr
    return path


class chip:
    """Context manager: a Chip on `uf2` (flash: a saved flash image instead), booted."""

    def __init__(self, uf2, flash=None, seed=1, boot=True):
        self.c = rp2emu.Chip(uf2, flash=flash, seed=seed)
        self.boot = boot

    def __enter__(self):
        if self.boot:
            self.c.boot()
        return self.c

    def __exit__(self, *exc):
        self.c.close()

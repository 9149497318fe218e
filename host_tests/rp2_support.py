"""What the emulator tests share: the firmware image (built when it can be), skips naming why.

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
    archive = os.path.join(os.path.dirname(ROOT), "shared", "toolchain",
                           "micropython-1.28.0-rp2-src.tar.xz")
    if not (os.environ.get("MICROPY_DIR") or os.path.exists(archive)
            or os.path.exists(path)):
        pytest.skip("emulator: no MicroPython tree to build the image from (MICROPY_DIR, "
                    "or the archive at %s); make firmware BOARD=%s clones one online"
                    % (archive, board))
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


# -- one accuracy point on the emulated Pico --------------------------------------------
def accuracy_point(uf2, i, phi, f=50.0, v=230.0, harmonics=(), phase0=0.0, warm_s=2.0,
                   window_s=5.0, seed=1, noise_lsb=1.2, timed=False):
    """The frozen meter (boards/pico/main.py's boot() and run()) on the chip, fed the
    analytic waveform (tools/rp2emu.py pico_analog: E11 ADC curve, noise): (active error
    %, reactive error %, the on-chip result). Truth: P = V I cos(phi) (+ the harmonics'
    own products), Q likewise with sin, over the whole measuring periods that closed in
    the window (cfg.cycles mains cycles each, so periods * cycles / f seconds)."""
    import math

    with chip(uf2, seed=seed) as c:
        c.analog(**rp2emu.pico_analog(v, i, phi, f, harmonics, phase0, noise_lsb=noise_lsb))
        res = rp2emu.meter_window(c, warm_s=warm_s, window_s=window_s, timed=timed)
        res["status"] = c.status()
    t = res["periods"] * res["cycles_cfg"] / f
    ph = math.radians(phi)
    p = v * i * math.cos(ph)
    q = v * i * math.sin(ph)
    for h, fv, fi, _deg in harmonics:
        # harmonic h: amplitude fractions fv, fi, its phase shifted by h * phi
        p += v * fv * i * fi * math.cos(h * ph)
        q += v * fv * i * fi * math.sin(h * ph)
    e = rp2emu.window_energy(res)
    ea = e["a_plus"] - e["a_minus"]
    er = e["r_plus"] - e["r_minus"]
    ta = p * t / 3600.0
    tr = q * t / 3600.0
    act = (ea - ta) / abs(ta) * 100 if abs(ta) > 1e-9 else None
    rea = (er - tr) / abs(tr) * 100 if abs(tr) > 1e-6 * abs(ta) + 1e-9 else None
    return act, rea, res


def readout(c, timeout_s=60):
    """A standard readout (mode C) by the PyPI iec62056-21 client over the emulated UART
    (TCP on 127.0.0.1 bridged by the harness), the chip run meanwhile: {address: DataSet}."""
    import threading

    from iec62056_21 import transports
    from iec62056_21.client import Iec6205621Client

    port = c.uart_listen()
    out = {}

    def talk():
        cl = Iec6205621Client(transports.TcpTransport(address=("127.0.0.1", port),
                                                      timeout=10))
        try:
            cl.connect()
            ans = cl.standard_readout()
            out["sets"] = dict((d.address, d) for d in ans.data if d.address)
            out["ident"] = getattr(ans, "identification", None)
        except Exception as e:          # reported by the test
            out["error"] = repr(e)
        finally:
            try:
                cl.disconnect()
            except Exception:
                pass

    th = threading.Thread(target=talk, daemon=True)
    th.start()
    end = c.ns + timeout_s * 1e9
    while th.is_alive() and c.ns < end:
        c.run(ms=100)
    th.join(15)
    assert "error" not in out, out.get("error")
    assert "sets" in out, "no readout within %d s of emulated time" % timeout_s
    return out["sets"]


METER_LOOP = rp2emu.meter_loop()


def stop_loop(c):
    """Ctrl-C the loop METER_LOOP (rp2emu.meter_loop) started (the raw REPL answers with the
    KeyboardInterrupt's traceback); the REPL keeps `meter` for exec()."""
    c.write("\x03")
    try:
        c.result(10000)
    except rp2emu.EmuError as e:
        assert "KeyboardInterrupt" in str(e), str(e)

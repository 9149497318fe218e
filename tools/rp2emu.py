"""The emulated RP2040 from Python: start tools/rp2emu/emu.mjs on a UF2, drive it, run code on it.

    chip = Chip(uf2)                       # a blank flash with the image (or flash=FILE)
    chip.boot()                            # run until the REPL answers
    out = chip.exec("print(1 + 1)")        # the raw REPL over USB CDC -> "2\\r\\n"
    chip.analog(f=50, channels={0: {...}}) # the ADC pins (tools/rp2emu/adc.mjs)
    chip.run(ms=500)                       # emulated time
    chip.status()                          # time, executed cycles, ADC, flash writes
    chip.save(path); chip.close()

Needs Node (20) and the harness's packages: `make rp2emu` (npm ci in tools/rp2emu,
pinned by its package-lock.json) and the bootrom image of ../shared/toolchain. `missing()`
says what is absent, for a test to skip with that text.

CLI (the emulator by hand): python tools/rp2emu.py UF2 [--flash FILE] [--seconds N]
boots the image, runs /main.py if the flash has one, and prints the USB output.
"""

import json
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HARNESS = os.path.join(ROOT, "tools", "rp2emu")
BOOTROM = os.environ.get("MPMETER_BOOTROM", os.path.join(
    os.path.dirname(ROOT), "shared", "toolchain", "rp2040-bootrom-b1.bin"))
RAW_PROMPT = "raw REPL; CTRL-B to exit\r\n>"
NS = 1_000_000_000


class EmuError(RuntimeError):
    """The chip or the harness did not do what was asked (text says what)."""


def missing(uf2=None):
    """None when the emulator can run (node, packages, bootrom, the image); else a text
    naming what is missing and how to get it."""
    if not shutil.which("node"):
        return "node not found (Node.js 20: apt-get install nodejs)"
    if not os.path.isdir(os.path.join(HARNESS, "node_modules", "rp2040js")):
        return "the harness's packages are not installed: make rp2emu"
    if not os.path.exists(BOOTROM):
        return "no RP2040 bootrom image at %s (../shared/toolchain)" % BOOTROM
    if uf2 is not None and not os.path.exists(uf2):
        return "no firmware image %s: make firmware BOARD=pico" % uf2
    return None


class Chip:
    """One emulated RP2040 (a node process). Every method waits for the harness's answer."""

    def __init__(self, uf2, flash=None, seed=1, log=None, device=None):
        why = missing(uf2)
        if why:
            raise EmuError(why)
        cmd = ["node", os.path.join(HARNESS, "emu.mjs"), "--uf2", uf2, "--bootrom", BOOTROM,
               "--seed", str(seed)]
        if flash:
            cmd += ["--flash", flash]
        if device:                  # "ads131m08": the 3-phase AFE (tools/rp2emu/ads131m08.mjs)
            cmd += ["--device", device]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=log if log is not None else subprocess.DEVNULL,
                                     text=True, encoding="latin-1", bufsize=1)
        self._id = 0
        self.usb = ""               # USB output not yet consumed by a wait
        self.last = {}

    # -- the JSON line protocol ------------------------------------------------------
    def cmd(self, name, **kw):
        self._id += 1
        kw.update(cmd=name, id=self._id)
        try:
            self.proc.stdin.write(json.dumps(kw) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise EmuError("the harness has exited (code %s)" % self.proc.poll())
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise EmuError("the harness exited during %s (code %s)"
                               % (name, self.proc.wait()))
            r = json.loads(line)
            if r.get("id") == self._id:
                if r.get("error"):
                    raise EmuError("%s: %s" % (name, r["error"]))
                self.last = r
                return r

    def run(self, ms=None, until_ns=None, usb_match=None):
        kw = {"ms": ms} if until_ns is None else {"until_ns": until_ns}
        if usb_match is not None:
            kw["usb_match"] = usb_match
        r = self.cmd("run", **kw)
        if r.get("fault"):
            raise EmuError("the core stopped: %s" % r["fault"])
        return r

    def read(self):
        """USB output since the last read (appended to self.usb too)."""
        s = self.cmd("read")["data"]
        self.usb += s
        return s

    def write(self, text):
        self.cmd("usb", data=text)

    def status(self):
        return self.cmd("status")

    @property
    def ns(self):
        return self.status()["ns"]

    def analog(self, **model):
        self.cmd("analog", **model)

    def afe(self, **model):
        """The --device's inputs and faults (ads131m08.mjs command(): f, channels {ch: {amp,
        phase, dc, harmonics}}, noise, seed, ppm, corrupt); returns its counters."""
        r = self.cmd("afe", **model)
        return dict((k, v) for k, v in r.items() if k != "id")

    def gpio(self, pin, value):
        self.cmd("gpio", pin=pin, value=bool(value))

    def uart_write(self, data):
        self.cmd("uart", data=data.decode("latin-1") if isinstance(data, bytes) else data)

    def uart_read(self):
        return self.cmd("uart_read")["data"].encode("latin-1")

    def uart_listen(self):
        return self.cmd("uart_listen")["port"]

    def stall(self, ms):
        self.cmd("stall", ms=ms)

    def cut(self):
        self.cmd("cut")

    def save(self, path):
        self.cmd("save", path=os.path.abspath(path))

    def close(self):
        if self.proc.poll() is None:
            try:
                self.cmd("quit")
            except EmuError:
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- USB text: waiting for it -----------------------------------------------------
    def wait_for(self, text, ms, step_ms=None):
        """Run until `text` has appeared in the USB output (kept in self.usb, consumed
        up to and including the text); return what came before it. EmuError after
        `ms` of emulated time without it."""
        end = self.ns + ms * 1e6
        while True:
            i = self.usb.find(text)
            if i >= 0:
                head = self.usb[:i]
                self.usb = self.usb[i + len(text):]
                return head
            left = end - self.ns
            if left <= 0:
                raise EmuError("%r not seen within %d ms; the USB output was: %r"
                               % (text, ms, self.usb[-600:]))
            self.run(until_ns=int(end), usb_match=text)
            self.read()

    def boot(self, ms=5000):
        """Run until the friendly REPL answers (the image has booted; a /main.py that
        runs forever gets Ctrl-C first: use wait_for for that instead)."""
        self.run(ms=300)
        self.write("\r\x03\x03")
        self.wait_for(">>> ", ms)

    def exec(self, code, ms=60000):
        """Run `code` in the raw REPL; return its stdout. A traceback raises EmuError
        with it. `ms`: the emulated time it may take."""
        self.start(code)
        return self.result(ms)

    def start(self, code):
        """Send `code` to the raw REPL and let it start; the chip runs only in later
        calls (run, stall, ...), result() collects what it printed."""
        self.read()
        self.usb = ""
        self.write("\r\x03\x03\x01")
        self.wait_for(RAW_PROMPT, 3000)
        for i in range(0, len(code), 256):
            self.write(code[i:i + 256])
        self.write("\x04")
        self.wait_for("OK", 5000)

    def result(self, ms=60000):
        """The stdout of the code start() sent, once it has finished (within `ms` more
        emulated time); a traceback raises EmuError with it."""
        out = self.wait_for("\x04", ms)
        err = self.wait_for("\x04>", 5000)
        self.write("\x02")                 # back to the friendly REPL
        if err.strip():
            raise EmuError("on the chip:\n%s%s" % (out, err))
        return out

    def exec_json(self, code, ms=60000):
        """exec() of code whose last line of output is a JSON value: that value."""
        return self.result_json(ms, self.exec(code, ms))

    def result_json(self, ms=60000, out=None):
        """result() whose last line of output is a JSON value: that value."""
        if out is None:
            out = self.result(ms)
        lines = [ln for ln in out.splitlines() if ln.strip()]
        if not lines:
            raise EmuError("no output from the chip")
        return json.loads(lines[-1])


# -- the Pico's analog front end and the meter on the chip ----------------------------------
def pico_analog(v_rms=230.0, i_rms=5.0, phi_deg=0.0, f=50.0, harmonics=(), phase0=0.0,
                noise_lsb=1.2, dnl=True, front_end=None, vref=3.3):
    """The analog model (adc.mjs) of the Pico front end of boards/pico/board.py's
    FRONT_END (AC-AC adapter and divider on ADC0, the CT into its burden on ADC1): mains
    v = V sqrt2 sin(wt + phase0), i = I sqrt2 sin(wt + phase0 - phi) (phi > 0: current
    lagging), harmonics [(h, v_fraction, i_fraction, phase_deg)] of the fundamental's
    amplitude; both biased at mid-rail."""
    import math

    if front_end is None:
        for p in (ROOT, os.path.join(ROOT, "host_tests", "compat")):
            if p not in sys.path:
                sys.path.insert(0, p)
        from boards.pico.board import FRONT_END as front_end
    vk = 1.0 / front_end["v_ratio"]
    ik = front_end["burden_ohm"] / front_end["ct_ratio"]
    p0 = math.radians(phase0)
    phi = math.radians(phi_deg)
    vh = [[1, math.sqrt(2) * v_rms * vk, p0]]
    ih = [[1, math.sqrt(2) * i_rms * ik, p0 - phi]]
    for h, fv, fi, ph in harmonics:
        vh.append([h, fv * vh[0][1], h * p0 + math.radians(ph)])
        ih.append([h, fi * ih[0][1], h * (p0 - phi) + math.radians(ph)])
    return {"f": f, "vref": vref, "noise_lsb": noise_lsb, "dnl": dnl,
            "channels": {"0": {"harmonics": vh}, "1": {"harmonics": ih}}}


def ads131m08_afe(front_end, v_rms=230.0, i_rms=5.0, phi_deg=30.0, f=50.0, noise=0.3,
                  seed=7):
    """The ADS131M08 device's inputs (tools/rp2emu/ads131m08.mjs command()) for a balanced
    3-phase load through the front end of boards/pico_ads131m08/board.py's FRONT_END
    (1.2 V = 32768 codes at gain 1): V1..V3 on 0..2, I1..I3 on 3..5 lagging phi, their sum
    (0) on the neutral channel 6, nothing on 7."""
    import math

    codes = 32768 / 1.2
    va = math.sqrt(2) * v_rms / front_end["v_ratio"] * codes
    ia = math.sqrt(2) * i_rms * front_end["burden_ohm"] / front_end["ct_ratio"] * codes
    ch = {}
    for k, ang in enumerate((0.0, -120.0, 120.0)):
        ch[str(k)] = {"amp": va, "phase": ang}
        ch[str(3 + k)] = {"amp": ia, "phase": ang - phi_deg}
    ch["6"] = {"amp": 0.0}
    ch["7"] = {"amp": 0.0}
    return {"f": f, "channels": ch, "noise": noise, "seed": seed}


def meter_loop(board="boards.pico.board"):
    """Code for start(): the meter as the deployed main.py runs it (boot(), then run()
    forever) on `board`'s module; it prints `HEAP0 <free>` after boot (a collection
    first). Ctrl-C ends it; the REPL keeps `meter`, `board` and `store`."""
    return ("import gc\nimport %s as _bm\nfrom boards.pico import main as M\n"
            "meter, board, store = M.boot(_bm)\ngc.collect()\n"
            "print('HEAP0', gc.mem_free())\nM.run(meter, board)\n" % board)


def onchip_source(name="onchip.py"):
    """The source of a chip-side module of the harness: onchip.py (meter_window), or
    onchip_checks.py (checks_source(): the store, DMA and boot tests' functions)."""
    with open(os.path.join(HARNESS, name)) as f:
        return f.read()


def checks_source():
    return onchip_source("onchip_checks.py")


def meter_window(chip, board="boards.pico.board", warm_s=2.0, window_s=5.0, timed=False,
                 ms=None):
    """Run tools/rp2emu/onchip.py's meter_window on the chip: the dict it prints."""
    code = onchip_source() + "\nimport %s as _b\nmeter_window(_b, %r, %r, %r)\n" % (
        board, warm_s, window_s, timed)
    if ms is None:
        ms = int((warm_s + window_s + 20) * 1000)
    return chip.exec_json(code, ms)


def window_energy(res):
    """{register: Wh} gained between the two snapshots of a meter_window result."""
    out = {}
    for name, (n1, d1) in res["b"]["reg"].items():
        n0, d0 = res["a"]["reg"][name]
        out[name] = (n1 / d1 - n0 / d0) / 1000.0
    return out


def main(argv=None):
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("uf2")
    ap.add_argument("--flash")
    ap.add_argument("--seconds", type=float, default=5)
    a = ap.parse_args(argv)
    with Chip(a.uf2, a.flash, log=sys.stderr) as chip:
        chip.run(ms=a.seconds * 1000)
        sys.stdout.write(chip.read())
        print("\n", json.dumps(chip.status()))


if __name__ == "__main__":
    main()

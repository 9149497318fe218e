"""A fake MicroPython board on a pseudo-terminal, for running the real mpremote against.

    with PtyBoard(root_dir) as board:
        subprocess.run(["mpremote", "connect", board.path, "fs", "ls"], timeout=30)
        board.execs      # every code block the board ran, in order (str)
        board.resets     # "soft" / "hard", in order
        board.events     # both, interleaved: ("exec", code) / ("reset", kind)

The slave side of os.openpty() is the board's serial port (/dev/pts/N): mpremote opens it
like a USB CDC port. A background thread serves the REPL protocol of MicroPython's
shared/runtime/pyexec.c (the non-event-driven variant, as on the RP2040) on the master
side:

  friendly REPL   Ctrl-A: "\\r\\nraw REPL; CTRL-B to exit\\r\\n>"; Ctrl-B: "\\r\\n" + banner
                  + ">>> "; Ctrl-C: "\\r\\n>>> "; Ctrl-D: soft reboot; a typed line (echoed)
                  runs at CR, like the REPL (expression values printed).
  raw REPL        bytes collect in a line; Ctrl-C clears it; Ctrl-B: "\\r\\n", friendly REPL;
                  Ctrl-A: the banner again (or raw-paste, below); Ctrl-D: "OK", then with an
                  empty line "\\r\\nMPY: soft reboot\\r\\n" + "raw REPL; CTRL-B to exit\\r\\n>",
                  else the code runs: output "\\x04" exception-text "\\x04" ">".
  raw-paste       "\\x05A\\x01" (Ctrl-E, 'A', Ctrl-A) in the raw REPL: "R\\x01", the window
                  (WINDOW bytes, 16-bit LE) and a "\\x01" (pyexec.c announces two windows);
                  one "\\x01" per WINDOW bytes consumed; the host's Ctrl-D is acknowledged
                  with "\\x04" before the code runs, then output "\\x04" error "\\x04" ">".
                  Ctrl-C in the data: "\\x04", KeyboardInterrupt. With raw_paste=False the
                  board behaves like firmware without raw-paste: Ctrl-A restarts the raw REPL
                  (mpremote then falls back to the raw REPL).
  Ctrl-C while code runs: SIGINT to the interpreter (the unix port raises KeyboardInterrupt).

The code runs in the REAL MicroPython unix port (.venv/bin/micropython): a driver script
(DRIVER, written to a temp file) reads length-prefixed blocks from its stdin and exec()s
each in one globals dict per boot (mpremote defines helpers in one exec and calls them in
the next); output goes to its stdout, then a framed report (TOKEN + kind + length + the
exception text of sys.print_exception). A soft reboot (Ctrl-D, SystemExit,
machine.soft_reset()) or a hard reset (machine.reset(), which the driver turns into a
framed report) starts a new interpreter: a new boot. After a hard reset the board is in
the friendly REPL and prints nothing (a real board's USB port drops); boot.py and main.py
are NOT run (the fake has no rp2/flash for the meter's main).

The board's filesystem is root_dir: the driver puts a path-translating `os` (and `uos`)
into sys.modules and replaces builtins.open: device paths (absolute, or relative to the
board's cwd, "/" at boot) map below root_dir and never above it. stat() reports littlefs
style modes (0x4000 directory, 0x8000 file). read_only=True makes every write fail with
OSError(30) (EROFS), deny_writes=("/boards/",) only writes below those device paths.
The process's cwd is root_dir, sys.path is ['', '.frozen', '<root>/lib'], so imports
find the device's modules. `machine` is a fake (reset, soft_reset, unique_id, freq, idle,
bootloader); sys.platform stays 'linux'.

Not emulated: mpremote's `mount` (its RemoteFS reads the board's stdin, which is the
driver's protocol pipe here), friendly-REPL editing keys, paste mode (Ctrl-E in the
friendly REPL), boot.py/main.py.

Every wait is bounded: reads of the pty and of the interpreter use select() with timeouts,
a code block runs at most exec_timeout seconds (then the interpreter is killed and the
board reports a timeout as the exception text and reboots), close() joins the threads with
a timeout and kills the interpreter.
"""

import errno
import json
import os
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import tty

HERE = os.path.dirname(os.path.abspath(__file__))
MICROPYTHON = os.path.join(os.path.dirname(sys.executable), "micropython")

CTRL_A, CTRL_B, CTRL_C, CTRL_D, CTRL_E = b"\x01", b"\x02", b"\x03", b"\x04", b"\x05"
RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n"
BANNER = (b"MicroPython v1.29.0 on 2026-01-01; Raspberry Pi Pico (pty_board fake) with RP2040"
          b"\r\nType \"help()\" for more information.\r\n")
PROMPT = b">>> "

# Runs inside the MicroPython unix port. argv: root, token, config (JSON).
DRIVER = r'''
import sys, io, builtins, json
import os as _os

ROOT = sys.argv[1]
TOKEN = ("\x00\x1bPTYB:" + sys.argv[2] + ":").encode()
CFG = json.loads(sys.argv[3])
ME = sys.argv[0]
EROFS = 30
ENOTDIR = 20
EPERM = 1
_real_open = builtins.open
_out = sys.stdout.buffer
_in = sys.stdin.buffer
_cwd = ["/"]


def _norm(p):
    """The absolute, normalised device path of p (str or bytes)."""
    if isinstance(p, bytes):
        p = p.decode()
    if not p.startswith("/"):
        p = _cwd[0].rstrip("/") + "/" + p
    parts = []
    for s in p.split("/"):
        if s == "" or s == ".":
            continue
        if s == "..":
            if parts:
                parts.pop()
            continue
        parts.append(s)
    return "/" + "/".join(parts)


def _host(p):
    d = _norm(p)
    return ROOT if d == "/" else ROOT + d


def _writable(p):
    d = _norm(p)
    if CFG["read_only"]:
        raise OSError(EROFS)
    for pre in CFG["deny_writes"]:
        if d == pre.rstrip("/") or d.startswith(pre):
            raise OSError(EROFS)


def _mode(st):
    return 0x4000 if st[0] & 0xF000 == 0x4000 else 0x8000


class _Os:
    sep = "/"

    def stat(self, p):
        st = _os.stat(_host(p))
        m = _mode(st)
        return (m, 0, 0, 0, 0, 0, st[6] if m == 0x8000 else 0, st[7], st[8], st[9])

    def ilistdir(self, p=""):
        d = _host(p)
        out = []
        for e in _os.ilistdir(d):
            if e[0] in (".", ".."):
                continue
            st = _os.stat(d + "/" + e[0])
            m = _mode(st)
            out.append((e[0], m, 0, st[6] if m == 0x8000 else 0))
        return iter(out)

    def listdir(self, p=""):
        return [e[0] for e in self.ilistdir(p)]

    def mkdir(self, p):
        _writable(p)
        _os.mkdir(_host(p))

    def remove(self, p):
        _writable(p)
        _os.remove(_host(p))

    unlink = remove

    def rmdir(self, p):
        _writable(p)
        if _norm(p) == "/":
            raise OSError(EPERM)
        _os.rmdir(_host(p))

    def rename(self, a, b):
        _writable(a)
        _writable(b)
        _os.rename(_host(a), _host(b))

    def getcwd(self):
        return _cwd[0]

    def chdir(self, p):
        d = _norm(p)
        if self.stat(d)[0] != 0x4000:
            raise OSError(ENOTDIR)
        _cwd[0] = d

    def statvfs(self, p):
        self.stat(p)
        return tuple(CFG["statvfs"])

    def sync(self):
        pass

    def urandom(self, n):
        return _os.urandom(n)

    def uname(self):
        return ("rp2", "rp2", "1.29.0", "v1.29.0 (pty_board fake)",
                "Raspberry Pi Pico (pty_board fake) with RP2040")

    def mount(self, *a, **k):
        raise OSError(EPERM)

    umount = mount


def _open(p, mode="r", *a, **k):
    if isinstance(p, int):
        raise OSError(EPERM)
    for c in "wax+":
        if c in mode:
            _writable(p)
    return _real_open(_host(p), mode, *a, **k)


class _Reset(BaseException):
    pass


class _Machine:
    _freq = 125000000

    def reset(self):
        raise _Reset()

    def bootloader(self):
        raise _Reset()

    def soft_reset(self):
        raise SystemExit

    def unique_id(self):
        return b"\xe6\x61\x38\x42\x0b\x2c\x41\x29"

    def freq(self, f=None):
        if f is None:
            return self._freq
        self._freq = f

    def idle(self):
        pass


fake_os = _Os()
fake_machine = _Machine()
for _n in ("os", "uos"):
    sys.modules[_n] = fake_os
for _n in ("machine", "umachine"):
    sys.modules[_n] = fake_machine
builtins.open = _open
sys.path.clear()
sys.path.extend(["", ".frozen", ROOT + "/lib"])


def _frame(kind, payload=b""):
    _out.write(TOKEN + ("%s%d\n" % (kind, len(payload))).encode() + payload)


def _read(n):
    buf = b""
    while len(buf) < n:
        b = _in.read(n - len(buf))
        if not b:
            return None
        buf += b
    return buf


def _traceback(e):
    s = io.StringIO()
    sys.print_exception(e, s)
    lines = s.getvalue().split("\n")
    me = '  File "%s"' % ME
    return "\n".join(ln for ln in lines if not ln.startswith(me)).encode()


def main():
    g = {"__name__": "__main__"}
    _frame("B")
    while True:
        try:
            head = _in.readline()
        except KeyboardInterrupt:
            continue
        if not head:
            return
        mode, n = head.decode().split()
        src = _read(int(n))
        if src is None:
            return
        try:
            exec(compile(src.decode(), "<stdin>", mode), g)
        except _Reset:
            _frame("R")
            return
        except SystemExit:
            _frame("X")
            return
        except BaseException as e:
            _frame("D", _traceback(e))
        else:
            _frame("D")


main()
'''


def _cook(b):
    """The board's stdout turns LF into CRLF (mp_hal_stdout_tx_strn_cooked)."""
    return b.replace(b"\n", b"\r\n")


class BoardError(Exception):
    pass


class PtyBoard:
    WINDOW = 128                # raw-paste window: MICROPY_REPL_STDIN_BUFFER_MAX (256) / 2

    def __init__(self, root_dir, *, micropython=MICROPYTHON, raw_paste=True, read_only=False,
                 deny_writes=(), statvfs=(4096, 4096, 256, 200, 200, 0, 0, 0, 0, 255),
                 exec_timeout=20.0, boot_timeout=10.0):
        self.root = os.path.realpath(root_dir)
        if not os.path.isdir(self.root):
            raise BoardError("no directory %s" % root_dir)
        self.micropython = micropython
        self.raw_paste = raw_paste
        self.exec_timeout = exec_timeout
        self.boot_timeout = boot_timeout
        self.config = {"read_only": bool(read_only), "deny_writes": list(deny_writes),
                       "statvfs": list(statvfs)}
        self.execs = []          # every code block run, in order
        self.resets = []         # "soft" / "hard"
        self.events = []         # ("exec", code) and ("reset", kind), in order
        self.interrupts = 0      # Ctrl-C turned into SIGINT while code ran
        self.boots = 0
        self.rx = bytearray()    # what the host sent (first MAX_LOG bytes), for debugging
        self.tx = bytearray()    # what the board sent
        self.errors = []         # the board's own troubles (timeouts, a dead interpreter)
        self._token_hex = secrets.token_hex(8)
        self._token = ("\x00\x1bPTYB:" + self._token_hex + ":").encode()
        self._tmp = tempfile.mkdtemp(prefix="pty_board_")
        self._driver = os.path.join(self._tmp, "driver.py")
        with open(self._driver, "w") as f:
            f.write(DRIVER)
        self._stderr = open(os.path.join(self._tmp, "stderr.txt"), "w+b")
        self._proc = None
        self._busy = False
        self._waiting = False
        self._stop = threading.Event()
        self._cond = threading.Condition()
        self._inbuf = bytearray()
        self.master, self._slave = os.openpty()
        try:
            # The line discipline sits on the slave side: raw, so nothing is echoed or
            # translated before the host (pyserial sets its own raw mode on open, too).
            tty.setraw(self._slave)
            self.path = os.ttyname(self._slave)
            self._boot()
        except BaseException:
            self._close_fds()
            raise
        self._threads = [threading.Thread(target=self._reader, daemon=True, name="pty-rx"),
                         threading.Thread(target=self._serve, daemon=True, name="pty-board")]
        for t in self._threads:
            t.start()

    MAX_LOG = 1 << 20

    # -- life cycle ---------------------------------------------------------------------
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        self._kill()
        for t in getattr(self, "_threads", ()):
            t.join(timeout=5)
        self._kill()                        # _boot refuses after stop; to be sure
        self._close_fds()
        self._stderr.close()
        shutil.rmtree(self._tmp, ignore_errors=True)

    def _close_fds(self):
        for fd in (self.master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass

    @property
    def running(self):
        """True while a code block runs in the interpreter."""
        return self._busy

    def stderr_text(self):
        """The interpreter's stderr so far (driver crashes)."""
        self._stderr.flush()
        self._stderr.seek(0)
        text = self._stderr.read().decode(errors="replace")
        self._stderr.seek(0, os.SEEK_END)
        return text

    # -- the interpreter ----------------------------------------------------------------
    def _kill(self):
        p, self._proc = self._proc, None
        if p is None:
            return
        for s in (p.stdin, p.stdout):
            try:
                s.close()
            except OSError:
                pass
        if p.poll() is None:
            p.kill()
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass

    def _boot(self):
        """Start a new interpreter (a power-up or a soft reboot): fresh globals, modules."""
        self._kill()
        if self._stop.is_set():
            raise BoardError("board closed")
        self._proc = subprocess.Popen(
            [self.micropython, "-X", "heapsize=8m", self._driver, self.root, self._token_hex,
             json.dumps(self.config)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
            cwd=self.root, bufsize=0)
        self._pending = b""
        kind, _payload = self._frame(time.monotonic() + self.boot_timeout, forward=False)
        if kind != "B":
            raise BoardError("the interpreter did not start (%s): %s"
                             % (kind, self.stderr_text()[-2000:]))
        self.boots += 1

    def _frame(self, deadline, forward=True):
        """Read the interpreter's stdout up to the next framed report; output before it
        goes to the host as it comes (forward). Returns (kind, payload); kind is "T" on a
        timeout, "E" if the interpreter ended."""
        tok = self._token
        fd = self._proc.stdout.fileno()
        buf = self._pending
        while True:
            i = buf.find(tok)
            if i >= 0:
                if forward and i:
                    self._send(_cook(buf[:i]))
                rest = buf[i + len(tok):]
                nl = rest.find(b"\n")
                if nl >= 0:
                    kind, n = rest[:1].decode(), int(rest[1:nl])
                    body = rest[nl + 1:]
                    if len(body) >= n:
                        self._pending = body[n:]
                        return kind, body[:n]
                buf = buf[i:]
            elif forward:
                keep = len(tok) - 1         # a token may be cut across two reads
                if len(buf) > keep:
                    self._send(_cook(buf[:-keep]))
                    buf = buf[-keep:]
            left = deadline - time.monotonic()
            if left <= 0 or self._stop.is_set():
                self._pending = buf
                return "T", b""
            r, _, _ = select.select([fd], [], [], min(left, 0.1))
            if not r:
                continue
            data = os.read(fd, 65536)
            if not data:
                self._pending = b""
                return "E", b""
            buf += data

    def _run(self, code, mode="exec"):
        """Run one code block: returns (kind, exception text); output went to the host."""
        self.execs.append(code.decode("utf-8", "replace"))
        self.events.append(("exec", self.execs[-1]))
        try:
            data = b"%s %d\n" % (mode.encode(), len(code)) + code
            while data:
                data = data[self._proc.stdin.write(data):]
        except (OSError, ValueError, AttributeError):
            return "E", b""
        self._busy = True
        try:
            return self._frame(time.monotonic() + self.exec_timeout)
        finally:
            self._busy = False

    def _report(self, kind, err):
        """After a code block: the rest of pyexec's answer. Returns False if the board
        rebooted into the friendly REPL (hard reset)."""
        if kind == "D":
            self._send(b"\x04" + _cook(err) + b"\x04")
            return True
        if kind == "X":                                    # SystemExit: soft reboot
            self._send(b"\x04\x04")
            self._reboot("soft")
            return True
        if kind == "R":                                    # machine.reset()
            self._reset_hard()
            return False
        if self._stop.is_set():
            return True
        why = "timed out after %.0f s" % self.exec_timeout if kind == "T" else \
            "interpreter ended: " + self.stderr_text()[-500:]
        self.errors.append(why)
        self._send(b"\x04" + _cook(b"pty_board: " + why.encode() + b"\n") + b"\x04")
        self._reboot("soft", quiet=True)
        return True

    def _reboot(self, kind, quiet=False):
        self.resets.append(kind)
        self.events.append(("reset", kind))
        if not quiet:
            self._send(b"MPY: soft reboot\r\n")
        self._boot()

    def _reset_hard(self):
        self.resets.append("hard")
        self.events.append(("reset", "hard"))
        with self._cond:
            del self._inbuf[:]              # the chip's receive buffer is gone
        self._boot()

    # -- the pty ------------------------------------------------------------------------
    def _reader(self):
        while not self._stop.is_set():
            try:
                r, _, _ = select.select([self.master], [], [], 0.05)
                if not r:
                    continue
                data = os.read(self.master, 4096)
            except OSError:
                time.sleep(0.05)            # EIO: no slave open (cannot happen: we hold one)
                continue
            if not data:
                continue
            if len(self.rx) < self.MAX_LOG:
                self.rx += data
            if self._busy and CTRL_C in data:
                data = data.replace(CTRL_C, b"")
                p = self._proc
                if p is not None and p.poll() is None:
                    self.interrupts += 1
                    p.send_signal(signal.SIGINT)
            with self._cond:
                self._inbuf += data
                self._cond.notify_all()

    def _getc(self, timeout=None):
        """One byte from the host; None on timeout or close."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            try:
                while not self._inbuf:
                    self._waiting = True
                    if self._stop.is_set():
                        return None
                    left = 0.1 if deadline is None else min(0.1, deadline - time.monotonic())
                    if left <= 0:
                        return None
                    self._cond.wait(left)
            finally:
                self._waiting = False
            c = bytes(self._inbuf[:1])
            del self._inbuf[:1]
            return c

    def settle(self, timeout=10.0):
        """Wait until the board has handled everything the host sent (e.g. the reset that
        `mpremote reset` leaves running when it exits). True if it did within timeout."""
        deadline = time.monotonic() + timeout
        quiet = 0
        while time.monotonic() < deadline:
            with self._cond:
                idle = self._waiting and not self._inbuf
            quiet = quiet + 1 if idle else 0
            if quiet >= 3:
                return True
            time.sleep(0.02)
        return False

    def _send(self, data):
        if len(self.tx) < self.MAX_LOG:
            self.tx += data
        deadline = time.monotonic() + 5
        while data and not self._stop.is_set():
            try:
                _, w, _ = select.select([], [self.master], [], 0.1)
                if w:
                    data = data[os.write(self.master, data):]
                elif time.monotonic() > deadline:
                    self.errors.append("host not reading: %d bytes dropped" % len(data))
                    return
            except OSError as e:
                if e.errno != errno.EAGAIN:
                    return

    # -- the REPL -----------------------------------------------------------------------
    def _serve(self):
        try:
            self._repl()
        except Exception as e:              # keep the reason for the test's message
            if not self._stop.is_set():
                self.errors.append("board thread: %r" % (e,))

    def _repl(self):
        raw = False
        line = b""
        while not self._stop.is_set():
            c = self._getc()
            if c is None:
                continue
            if not raw:
                if c == CTRL_A:
                    raw, line = True, b""
                    self._send(b"\r\n" + RAW_BANNER + b">")
                elif c == CTRL_B:
                    line = b""
                    self._send(b"\r\n" + BANNER + PROMPT)
                elif c == CTRL_C:
                    line = b""
                    self._send(b"\r\n" + PROMPT)
                elif c == CTRL_D:
                    line = b""
                    self._send(b"\r\n")
                    self._reboot("soft")
                    self._send(BANNER + PROMPT)
                elif c == b"\r":
                    self._send(b"\r\n")
                    if line.strip():
                        kind, err = self._run(line, "single")
                        if kind == "D":
                            self._send(_cook(err))
                        elif not self._report(kind, err):
                            line = b""
                            continue
                    line = b""
                    self._send(PROMPT)
                elif c in (b"\x08", b"\x7f"):
                    if line:
                        line = line[:-1]
                        self._send(b"\x08 \x08")
                elif c >= b" " or c == b"\t":
                    line += c
                    self._send(c)
                continue
            # raw REPL
            if c == CTRL_A:
                if len(line) == 2 and line[:1] == CTRL_E and self.raw_paste:
                    if line[1:] != b"A":
                        self._send(b"R\x00")       # pyexec.c then prompts again
                    elif not self._raw_paste():
                        raw = False
                        line = b""
                        continue
                    line = b""
                    self._send(b">")
                    continue
                line = b""
                self._send(RAW_BANNER + b">")
            elif c == CTRL_B:
                raw, line = False, b""
                self._send(b"\r\n" + BANNER + PROMPT)
            elif c == CTRL_C:
                line = b""
            elif c == CTRL_D:
                self._send(b"OK")
                if not line:
                    self._send(b"\r\n")
                    self._reboot("soft")
                    self._send(RAW_BANNER + b">")
                    continue
                kind, err = self._run(line)
                line = b""
                if not self._report(kind, err):
                    raw = False
                    continue
                self._send(b">")
            else:
                line += c

    def _raw_paste(self):
        """Raw-paste: receive with flow control, ack the end, run. False after a hard
        reset (friendly REPL), else True (back at the raw prompt)."""
        w = self.WINDOW
        self._send(b"R\x01" + bytes((w & 0xFF, w >> 8)) + b"\x01")
        remain = w
        code = bytearray()
        while True:
            c = self._getc(timeout=10)
            if c is None:                           # the host vanished mid-paste
                self.errors.append("raw-paste: no data for 10 s")
                self._send(b"\x04")
                return True
            if c == CTRL_C:
                self._send(b"\x04" + b"\x04" + _cook(b"KeyboardInterrupt: \n") + b"\x04")
                return True
            if c == CTRL_D:
                self._send(b"\x04")                 # end of data acknowledged
                break
            code += c
            remain -= 1
            if remain == 0:
                self._send(b"\x01")
                remain = w
        kind, err = self._run(bytes(code))
        return self._report(kind, err)

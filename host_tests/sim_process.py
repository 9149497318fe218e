"""A simulator process (tools/sim.py) for tests: its stdout collected line by line."""

import os
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIM = [sys.executable, os.path.join(ROOT, "tools", "sim.py")]


class SimProcess:
    """tools/sim.py with `args`, in a session of its own; `lines` fills as it prints."""

    def __init__(self, args):
        self.lines = []
        self.proc = subprocess.Popen(SIM + list(args), cwd=ROOT, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True,
                                     start_new_session=True)
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()

    def _read(self):
        for ln in self.proc.stdout:
            self.lines.append(ln.rstrip("\n"))

    def _find(self, text):
        for ln in list(self.lines):
            if text in ln:
                return ln
        return None

    def wait_for(self, text, timeout=60):
        """The first line holding `text`; AssertionError if none comes in time or the
        process ends without it."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            ln = self._find(text)
            if ln is not None:
                return ln
            if self.proc.poll() is not None:
                self._t.join(2)
                break
            time.sleep(0.01)
        ln = self._find(text)
        if ln is not None:
            return ln
        raise AssertionError("sim: no %r (exit %s) in:\n%s"
                             % (text, self.proc.poll(), "\n".join(self.lines[-40:])))

    def end(self):
        """Wait for the process and its last lines."""
        self.proc.wait(30)
        self._t.join(5)

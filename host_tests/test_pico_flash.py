"""Pico flash layout (boards/pico/flash.py, _boot.py) on a fake rp2.Flash over a 2 MiB chip."""

import os
import subprocess
import sys

import fake_rp2 as F
import pytest

from boards.pico import _boot, flash
from mpmeter.storage.store import LAYOUT, REGION_BLOCKS, Store

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FW = (0, F.STORAGE_BASE)                                       # firmware image
FS = (F.STORAGE_BASE, F.STORAGE_BASE + flash.FS_BYTES)         # littlefs
STORE = (F.STORAGE_BASE + flash.FS_BYTES, F.FLASH_BYTES)       # meter record store


def _outside(ops, span):
    lo, hi = span
    return [op for op in ops if not (lo <= op[1] and op[1] + op[2] <= hi)]


# -- the numbers ------------------------------------------------------------------------
def test_layout_numbers():
    assert F.STORAGE_BASE == 0x0A0000
    assert flash.STORAGE_BYTES == F.STORAGE_BYTES
    assert flash.STORE_BYTES == 1016 * 1024 == REGION_BLOCKS * 4096
    assert flash.FS_BYTES == 392 * 1024
    assert STORE == (0x0A0000 + 392 * 1024, 0x200000)
    # _boot.py cannot import flash.py (it runs before / is mounted): same numbers
    assert _boot.STORE_BLOCKS == REGION_BLOCKS
    assert _boot.FS_BYTES == flash.FS_BYTES
    assert _boot.STORAGE_BYTES == flash.STORAGE_BYTES and _boot.BLOCK == flash.BLOCK


# -- the fake itself (rp2_flash.c behaviour) --------------------------------------------
def test_fake_flash_constructor_checks():
    r = F.FakeRp2(F.Chip())
    assert r.Flash() is r.Flash()                       # the singleton
    assert r.Flash().ioctl(4, 0) == F.STORAGE_BYTES // 4096
    assert r.Flash(start=4096).ioctl(4, 0) == F.STORAGE_BYTES // 4096 - 1
    assert r.Flash(len=8192).ioctl(4, 0) == 2
    for kw in (dict(start=100, len=4096), dict(start=F.STORAGE_BYTES, len=4096),
               dict(start=-4096, len=4096), dict(start=0, len=0),
               dict(start=0, len=100), dict(start=4096, len=F.STORAGE_BYTES)):
        with pytest.raises(ValueError):
            r.Flash(**kw)
    with pytest.raises(TypeError):
        r.Flash(0, 4096)                                # keyword only


def test_fake_flash_program_erase_rules():
    chip = F.Chip()
    dev = F.FakeRp2(chip).Flash(start=8192, len=8192)
    base = F.STORAGE_BASE + 8192
    dev.writeblocks(1, b"\x0f" * 256, 256)              # program only: AND into 0xFF
    dev.writeblocks(1, b"\xf3" * 256, 256)
    buf = bytearray(512)
    dev.readblocks(1, buf, 0)
    assert buf == b"\xff" * 256 + b"\x03" * 256
    with pytest.raises(ValueError):
        dev.writeblocks(1, b"\x00" * 32, 0)             # not a whole page
    with pytest.raises(ValueError):
        dev.writeblocks(1, b"\x00" * 256, 128)          # not page aligned
    dev.writeblocks(0, b"\x55" * 4096)                  # 3 args: erase, then program
    assert dev.ioctl(6, 1) == 0
    assert chip.ops == [("program", base + 4096 + 256, 256), ("program", base + 4096 + 256, 256),
                        ("erase", base, 4096), ("program", base, 4096),
                        ("erase", base + 4096, 4096)]
    dev.readblocks(0, buf, 4096 - 256)
    assert buf == b"\x55" * 256 + b"\xff" * 256         # reads cross into the next block
    assert (dev.ioctl(1, 0), dev.ioctl(3, 0), dev.ioctl(5, 0), dev.ioctl(99, 0)) == (0, 0, 4096,
                                                                                       None)


# -- the store on its device ------------------------------------------------------------
def _exercise(store):
    """Records into every area of LAYOUT, wrapping the small ones (so they erase)."""
    counts = {"registers": 20, "legal": 3, "settings": 5, "events": 530,
              "billing": 70, "billing2": 3, "profile": 25, "analysis": 7}
    want = {}
    for name, _blocks, slot in LAYOUT:
        cap = store.area(name).capacity
        vals = [(b"%s:%d:" % (name.encode(), i) + b"x" * slot)[:min(cap, 40)]
                for i in range(counts[name])]
        for v in vals:
            if name in ("registers", "legal", "settings"):
                store.put(name, v)
            else:
                store.append(name, v)
        want[name] = vals
    return want


def _check(store, want):
    for name, vals in want.items():
        if name in ("registers", "legal", "settings"):
            assert store.get(name) == vals[-1]
        else:
            got = [p for _seq, p in store.iter(name)]
            keep = min(len(vals), store.depth(name))
            assert got[-keep:] == vals[-keep:]


def test_store_device_maps_to_the_top_of_flash():
    chip = F.Chip()
    before = chip.snapshot(0, STORE[0])
    dev = flash.store_device(F.FakeRp2(chip))
    assert (dev.base, dev.base + dev.size) == STORE
    store = Store(dev)
    store.mount()
    want = _exercise(store)
    _check(store, want)
    kinds = set(op[0] for op in chip.ops)
    assert kinds == {"erase", "program"}
    assert _outside(chip.ops, STORE) == []
    assert chip.snapshot(0, STORE[0]) == before       # firmware and filesystem untouched
    assert store.erases()["events"] > 0


def test_store_device_first_and_last_block():
    chip = F.Chip()
    dev = flash.store_device(F.FakeRp2(chip))
    dev.ioctl(6, 0)
    dev.ioctl(6, REGION_BLOCKS - 1)
    dev.writeblocks(REGION_BLOCKS - 1, b"\x00" * 256, 4096 - 256)
    assert chip.ops == [("erase", STORE[0], 4096), ("erase", STORE[1] - 4096, 4096),
                        ("program", STORE[1] - 256, 256)]


def test_store_survives_a_reboot():
    chip = F.Chip()
    store = Store(flash.store_device(F.FakeRp2(chip)))
    store.mount()
    want = _exercise(store)
    again = Store(flash.store_device(F.FakeRp2(chip)))  # new rp2.Flash over the same chip
    report = again.mount()
    assert all(v == (0, 0) for v in report.values()), report
    _check(again, want)


class _Dev:
    def __init__(self, blocks, bs):
        self.blocks, self.bs = blocks, bs

    def ioctl(self, cmd, arg):
        return {4: self.blocks, 5: self.bs}.get(cmd)


class _Rp2:
    def __init__(self, dev=None):
        self.dev = dev

    def Flash(self, **kw):
        if self.dev is None:                            # MicroPython < 1.23: no arguments
            raise TypeError("function doesn't take keyword arguments")
        return self.dev


def test_store_device_checks_geometry():
    with pytest.raises(ValueError, match="165 blocks"):
        flash.store_device(_Rp2(_Dev(165, 4096)))
    with pytest.raises(ValueError, match="8192-byte"):
        flash.store_device(_Rp2(_Dev(REGION_BLOCKS, 8192)))
    with pytest.raises(ValueError, match="1.23"):
        flash.store_device(_Rp2())


# -- check_layout -----------------------------------------------------------------------
class _Os:
    def __init__(self, frsize, blocks):
        self.st = (frsize, frsize, blocks, blocks - 3, blocks - 3, 0, 0, 0, 0, 255)
        self.asked = []

    def statvfs(self, path):
        self.asked.append(path)
        return self.st


def test_check_layout_rejects_the_stock_filesystem():
    os_mod = _Os(4096, F.STORAGE_BYTES // 4096)        # stock _boot.py: the whole region
    with pytest.raises(ValueError) as e:
        flash.check_layout(os_mod)
    msg = str(e.value)
    assert "covers 1408 KiB" in msg and "starts at 392 KiB" in msg and "_boot.py" in msg
    assert os_mod.asked == ["/"]
    chip = F.Chip()
    r = F.FakeRp2(chip)
    with pytest.raises(ValueError):
        flash.open_store(r, os_mod)
    assert r.made == [] and chip.ops == []              # refused before touching flash
    with pytest.raises(ValueError):
        flash.check_layout(_Os(4096, flash.FS_BYTES // 4096 + 1))


def test_check_layout_accepts_the_mpmeter_filesystem():
    assert flash.check_layout(_Os(4096, flash.FS_BYTES // 4096)) == flash.FS_BYTES
    assert flash.check_layout(_Os(4096, 10)) == 40960
    r = F.FakeRp2(F.Chip())
    dev = flash.open_store(r, _Os(4096, flash.FS_BYTES // 4096))
    assert r.made == [(flash.FS_BYTES, flash.STORE_BYTES)]
    assert dev.ioctl(4, 0) == REGION_BLOCKS


# -- _boot.mount_filesystem -------------------------------------------------------------
class _Lfs:
    """Stands for vfs.VfsLfs2: mkfs writes a superblock with the device's block count;
    mounting refuses a device whose block count differs (as littlefs does)."""

    MAGIC = b"fake-littlefs"
    mkfs_devs = []

    def __init__(self, dev, progsize=None):
        assert progsize == 256
        page = bytearray(256)
        dev.readblocks(0, page, 0)
        n = len(self.MAGIC)
        if bytes(page[:n]) != self.MAGIC or int.from_bytes(page[n:n + 4], "little") != \
                dev.ioctl(4, 0):
            raise OSError(22)
        self.dev = dev

    @classmethod
    def mkfs(cls, dev, progsize=None):
        assert progsize == 256
        cls.mkfs_devs.append(dev)
        page = bytearray(b"\xff" * 256)
        page[:len(cls.MAGIC) + 4] = cls.MAGIC + dev.ioctl(4, 0).to_bytes(4, "little")
        dev.ioctl(6, 0)
        dev.writeblocks(0, page, 0)


class _Vfs:
    def __init__(self):
        _Lfs.mkfs_devs = []
        self.VfsLfs2 = _Lfs
        self.mounts = []

    def mount(self, fs, path):
        self.mounts.append((fs, path))


def test_boot_formats_only_the_filesystem_part():
    chip = F.Chip()
    v = _Vfs()
    r = F.FakeRp2(chip)
    fs = _boot.mount_filesystem(r, v)                  # blank flash: mount fails, mkfs
    assert r.made == [(0, flash.FS_BYTES)]
    assert [(d.base, d.size) for d in _Lfs.mkfs_devs] == [(F.STORAGE_BASE, flash.FS_BYTES)]
    assert v.mounts == [(fs, "/")]
    assert chip.ops and _outside(chip.ops, FS) == []


def test_boot_mounts_without_mkfs():
    chip = F.Chip()
    _boot.mount_filesystem(F.FakeRp2(chip), _Vfs())
    n = len(chip.ops)
    v = _Vfs()
    fs = _boot.mount_filesystem(F.FakeRp2(chip), v)   # reboot
    assert _Lfs.mkfs_devs == [] and len(chip.ops) == n
    assert v.mounts == [(fs, "/")]


def test_boot_reformats_a_stock_filesystem_below_the_store_only():
    chip = F.Chip()
    r = F.FakeRp2(chip)
    _Lfs.mkfs(r.Flash(), progsize=256)                 # what the stock _boot.py leaves
    store = Store(flash.store_device(r))
    store.mount()
    store.put("registers", b"kept")
    n = len(chip.ops)
    v = _Vfs()
    _boot.mount_filesystem(F.FakeRp2(chip), v)        # block count differs: mkfs
    assert [(d.base, d.size) for d in _Lfs.mkfs_devs] == [(F.STORAGE_BASE, flash.FS_BYTES)]
    assert _outside(chip.ops[n:], FS) == []
    again = Store(flash.store_device(F.FakeRp2(chip)))
    again.mount()
    assert again.get("registers") == b"kept"


def test_boot_runs_itself_only_on_the_rp2_port(monkeypatch):
    """Executed as the frozen _boot.py on the rp2 port (sys.platform 'rp2'), the module
    mounts; imported anywhere else (CPython, unix port) it does nothing."""
    import runpy
    import types

    chip = F.Chip()
    v = _Vfs()
    rp2 = types.ModuleType("rp2")
    rp2.Flash = F.FakeRp2(chip).Flash
    vfs = types.ModuleType("vfs")
    vfs.VfsLfs2, vfs.mount = _Lfs, v.mount
    monkeypatch.setitem(sys.modules, "rp2", rp2)
    monkeypatch.setitem(sys.modules, "vfs", vfs)
    path = os.path.join(ROOT, "boards", "pico", "_boot.py")
    runpy.run_path(path, run_name="_boot")
    assert v.mounts == []
    monkeypatch.setattr(sys, "platform", "rp2")
    g = runpy.run_path(path, run_name="_boot")
    assert [p for _fs, p in v.mounts] == ["/"]
    assert [(d.base, d.size) for d in _Lfs.mkfs_devs] == [(F.STORAGE_BASE, flash.FS_BYTES)]
    assert "rp2" not in g and "vfs" not in g


# -- the same with MicroPython's real littlefs (unix port, vfs.VfsLfs2) ---------------------
MP_SCRIPT = r"""
import sys
sys.path.append("host_tests")
import vfs
import fake_rp2 as F
from boards.pico import _boot, flash
from mpmeter.storage.store import Store

FS = (F.STORAGE_BASE, F.STORAGE_BASE + flash.FS_BYTES)

class Shim:
    pass

v = Shim()
v.VfsLfs2 = vfs.VfsLfs2
v.mounts = []
v.mount = lambda fs, path: v.mounts.append(path)   # the unix port keeps its own /

class Os:
    def __init__(self, fs):
        self.fs = fs
    def statvfs(self, path):
        return self.fs.statvfs("/")

def outside(ops, lo, hi):
    return [op for op in ops if not (lo <= op[1] and op[1] + op[2] <= hi)]

chip = F.Chip()
firmware = chip.snapshot(0, F.STORAGE_BASE)
# stock firmware: littlefs over the whole storage region, a file on it
r = F.FakeRp2(chip)
vfs.VfsLfs2.mkfs(r.Flash(), progsize=256)
fs = vfs.VfsLfs2(r.Flash(), progsize=256)
with fs.open("stock.txt", "w") as f:
    f.write("stock")
try:
    flash.check_layout(Os(fs))
    print("FAIL stock layout accepted")
except ValueError as e:
    print("stock:", e)
# the mpmeter build boots: littlefs refuses the other block count, mkfs of the low part
n = len(chip.ops)
r = F.FakeRp2(chip)
fs = _boot.mount_filesystem(r, v)
print("made", r.made, "mounts", v.mounts)
print("mkfs ops", len(chip.ops) - n, "outside fs", outside(chip.ops[n:], FS[0], FS[1]))
print("files", sorted(x[0] for x in fs.ilistdir("/")))
with fs.open("main.py", "w") as f:
    f.write("print('meter')\n" * 300)
print("fs bytes", flash.check_layout(Os(fs)))
n = len(chip.ops)
store = Store(flash.open_store(r, Os(fs)))
store.mount()
store.put("registers", b"E=123")
store.append("events", b"ev1")
print("store ops outside", outside(chip.ops[n:], FS[1], 0x200000))
# reboot
n = len(chip.ops)
r = F.FakeRp2(chip)
fs = _boot.mount_filesystem(r, v)
print("reboot mount ops", len(chip.ops) - n)
with fs.open("main.py", "r") as f:
    print("main.py intact", f.read() == "print('meter')\n" * 300)
store = Store(flash.open_store(r, Os(fs)))
print("store", store.mount()["registers"], store.get("registers"), list(store.iter("events")))
print("firmware intact", chip.snapshot(0, F.STORAGE_BASE) == firmware)
"""


def test_real_littlefs_on_micropython():
    """MicroPython's own littlefs (unix port) through the fake flash: the stock filesystem
    is refused by check_layout and replaced by one over FS_BYTES, files and store coexist
    and survive a reboot."""
    mp = os.path.join(os.path.dirname(sys.executable), "micropython")
    env = dict(os.environ, MICROPYPATH=".frozen:.:.venv/mplib")
    r = subprocess.run([mp, "-X", "heapsize=16m", "-c", MP_SCRIPT], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=300)
    out = r.stdout
    print(out)
    assert r.returncode == 0, out + r.stderr
    assert "stock: pico flash: filesystem covers 1408 KiB" in out
    assert "made [(0, %d)] mounts ['/']" % flash.FS_BYTES in out
    assert "outside fs []" in out and "mkfs ops 0 " not in out
    assert "files []" in out                            # the stock file went with the mkfs
    assert "fs bytes %d" % flash.FS_BYTES in out
    assert "store ops outside []" in out
    assert "reboot mount ops 0" in out
    assert "main.py intact True" in out
    assert "store (0, 0) b'E=123' [(1, b'ev1')]" in out
    assert "firmware intact True" in out

"""tools/firmware.py (make firmware) without building: what a cached image depends on, the
errors it names. The build itself needs arm-none-eabi-gcc and is run by `make firmware`."""

import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))

import firmware  # noqa: E402


def test_the_cache_key_follows_every_frozen_source(tmp_path, monkeypatch):
    tree = tmp_path / "repo"
    for top in ("firmware", "boards/pico", "boards/pico_ads131m08"):
        shutil.copytree(os.path.join(ROOT, top), tree / top,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(os.path.join(ROOT, "boards", "__init__.py"), tree / "boards" / "__init__.py")
    (tree / "boards" / "sim").mkdir()
    (tree / "boards" / "sim" / "main.py").write_text("x = 1\n")
    monkeypatch.setattr(firmware, "ROOT", str(tree))
    names = [os.path.relpath(p, str(tree)) for p in firmware.frozen_sources("pico")]
    assert "firmware/meter.py" in names and "boards/pico/adc_dnl_table.py" in names
    assert not [n for n in names if n.startswith("boards/sim")]
    k = firmware.key("pico", "/mp")
    assert k == firmware.key("pico", "/mp")
    assert k != firmware.key("pico_ads131m08", "/mp") != firmware.key("pico", "/other")
    (tree / "boards" / "sim" / "main.py").write_text("x = 2\n")    # not frozen
    assert firmware.key("pico", "/mp") == k
    p = tree / "firmware" / "meter.py"
    p.write_text(p.read_text() + "\n")
    assert firmware.key("pico", "/mp") != k


def test_a_bad_board_is_named():
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "firmware.py"), "nope"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "BOARD: one of pico, pico_ads131m08, got 'nope'" in r.stderr


def test_missing_compilers_are_named(monkeypatch, capsys):
    monkeypatch.setattr(firmware.shutil, "which", lambda name: None)
    with pytest.raises(SystemExit):
        firmware.check_tools()
    assert "apt-get install gcc-arm-none-eabi" in capsys.readouterr().err

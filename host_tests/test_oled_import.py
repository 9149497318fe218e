"""The OLED renderer under CPython: the module imports; without framebuf it cannot be built.

Its drawing and bus traffic are tested on the MicroPython unix port (host_tests/mp/
test_oled.py), which has framebuf.
"""

import sys

import pytest

from mpmeter.display import oled


class Bus:
    def __init__(self):
        self.writes = []

    def writeto(self, addr, buf):
        self.writes.append((addr, bytes(buf)))


def test_module_imports():
    assert oled.CELLS == 8
    # the 2x table: each bit of a nibble doubled
    assert [oled._DBL[n] for n in (0x0, 0x1, 0x5, 0x8, 0xF)] == [0x00, 0x03, 0x33, 0xC0, 0xFF]


def test_without_framebuf_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "framebuf", None)  # CPython has none; make sure
    bus = Bus()
    with pytest.raises(ImportError, match="framebuf"):
        oled.Oled(bus)
    assert bus.writes == []  # nothing reached the bus

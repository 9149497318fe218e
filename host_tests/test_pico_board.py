"""The Pico boards (boards/pico: pins, board, UART port, clock, main loop; boards/pico_ads131m08)
on models: the RP2040 ADC/DMA model, a UART line model with an HHU, the flash chip model,
and small fakes of Pin, RTC and WDT here. The optical exchange is decoded from the line's
bit levels with the 7E1 parity computed here; energy is checked against host_tests/truth.
"""

import calendar
import datetime
import os
import subprocess
import sys

import fake_rp2
import pytest
import truth
import uart_model
from ht1621_model import HT1621Model, decode_pdc6x1
from rp2040_adc_model import FakePin, MainsInput, Rp2040, fakes

from boards.pico import board as pico_board
from boards.pico import clock as pico_clock
from boards.pico import flash, pins
from boards.pico import main as pico_main
from boards.pico.uart_port import UartPort
from boards.pico_ads131m08 import board as ads_board
from boards.pico_ads131m08 import pins as ads_pins
from mpmeter.config import Config
from mpmeter.display.lcd import ERROR
from mpmeter.logs import events as ev
from mpmeter.meter import FAULT_BLOCK
from mpmeter.storage.store import Store

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
V_RATIO = 450.0 / 1.65          # the RP2040 model's front end (+-450 V, +-130 A peak)
BURDEN = 2000.0 * 1.65 / 130.0
MODEL_FE = {"v_ratio": V_RATIO, "ct_ratio": 2000.0, "burden_ohm": BURDEN}
F7E1 = lambda baud: (baud, 7, 0, 1)     # noqa: E731  (machine.UART: parity 0 = even)
STX, ETX, ACK = 2, 3, 6
RTC_RESET = (2021, 1, 1, 4, 0, 0, 0, 0)  # the rp2 port's RTC after a hard reset


# -- fakes of the rest of machine ---------------------------------------------------------
class Pin(FakePin):
    """machine.Pin: the level of each GPIO lives in the machine (inputs set by tests)."""

    IN, OUT, OPEN_DRAIN = 0, 1, 2
    PULL_UP, PULL_DOWN = 1, 2
    IRQ_FALLING, IRQ_RISING = 4, 8

    def __init__(self, m, n, mode=None, pull=None, value=None):
        FakePin.__init__(self, n)
        self.m = m
        if n in pins.INTERNAL:
            m.errors.append("GP%d is wired inside the Pico" % n)
        if mode is not None:
            if n in m.modes and m.modes[n] != (mode, pull):
                m.errors.append("GP%d configured twice: %r, %r" % (n, m.modes[n], (mode, pull)))
            m.modes[n] = (mode, pull)
            if mode == Pin.IN:
                m.levels.setdefault(n, 1 if pull == Pin.PULL_UP else 0)
        if value is not None:
            m.levels[n] = 1 if value else 0

    def value(self, x=None):
        if x is None:
            return self.m.levels.get(self.id, 0)
        x = 1 if x else 0
        if self.m.modes.get(self.id, (None,))[0] != Pin.OUT:
            self.m.errors.append("GP%d written but not an output" % self.id)
        if x and not self.m.levels.get(self.id, 0):
            self.m.rises[self.id] = self.m.rises.get(self.id, 0) + 1
        self.m.levels[self.id] = x

    def irq(self, handler=None, trigger=None, hard=False):
        self.m.irqs[self.id] = (handler, trigger, hard)


class Rtc:
    """machine.RTC on the chip's timer: datetime() tuples; set as the rp2 port does
    (weekday ignored, subseconds 0). Computed with the datetime module."""

    def __init__(self, chip, dt=RTC_RESET):
        self.chip = chip
        self.set_at(dt)

    def set_at(self, dt):
        self.base = calendar.timegm(datetime.datetime(*dt[:3], *dt[4:7]).timetuple())
        self.t0 = self.chip.time_us()

    def datetime(self, dt=None):
        if dt is not None:
            self.set_at(dt)
            return None
        t = self.base + (self.chip.time_us() - self.t0) // 1000000
        d = datetime.datetime.fromtimestamp(t, datetime.timezone.utc)
        return (d.year, d.month, d.day, d.weekday(), d.hour, d.minute, d.second, 0)

    def utc(self):
        return self.base + (self.chip.time_us() - self.t0) // 1000000


class Wdt:
    def __init__(self, chip, timeout=5000):
        assert 1 <= timeout <= 8388, "rp2 machine.WDT: timeout up to 8388 ms"
        self.chip = chip
        self.timeout = timeout
        self.feeds = []

    def feed(self):
        self.feeds.append(self.chip.time_us())


class Machine:
    """machine: the RP2040 model's mem32/ADC, and Pin, UART (a Line), RTC, WDT here; the
    HT1621 model on the LCD's three GPIOs."""

    PWRON_RESET, WDT_RESET = 1, 3

    def __init__(self, chip, line, lcd_chip=None, cause=3):
        self.base = fakes(chip)[0]
        self.chip = chip
        self.mem32 = self.base.mem32
        self.line = line
        self.lcd_chip = lcd_chip
        self.levels = {}
        self.modes = {}
        self.rises = {}
        self.irqs = {}
        self.errors = []
        self.rtc = Rtc(chip)
        self.wdts = []
        self.cause = cause
        self.Pin = _PinMaker(self)

    def ADC(self, src):
        return self.base.ADC(src)

    def UART(self, *args, **kw):
        return self.line.UART(*args, **kw)

    def RTC(self):
        return self.rtc

    def WDT(self, id=0, timeout=5000):
        w = Wdt(self.chip, timeout)
        self.wdts.append(w)
        return w

    def reset_cause(self):
        return self.cause


class _PinMaker:
    """machine.Pin as a callable class with its constants."""

    IN, OUT, PULL_UP, PULL_DOWN, IRQ_FALLING, IRQ_RISING = (Pin.IN, Pin.OUT, Pin.PULL_UP,
                                                            Pin.PULL_DOWN, Pin.IRQ_FALLING,
                                                            Pin.IRQ_RISING)

    def __init__(self, m):
        self.m = m

    def __call__(self, n, mode=None, pull=None, value=None):
        lc = self.m.lcd_chip
        if lc is not None and n in (pins.LCD_CS, pins.LCD_WR, pins.LCD_DATA):
            Pin(self.m, n, mode, pull, value)       # the checks
            return {pins.LCD_CS: lc.cs, pins.LCD_WR: lc.wr, pins.LCD_DATA: lc.data}[n]
        return Pin(self.m, n, mode, pull, value)


class Rp2:
    """rp2: the ADC model's DMA and the flash model's Flash."""

    def __init__(self, chip, flash_chip):
        self.DMA = fakes(chip)[1].DMA
        self._flash = fake_rp2.FakeRp2(flash_chip)

    def Flash(self, **kw):
        return self._flash.Flash(**kw)


class Os:
    def __init__(self, fs_bytes=flash.FS_BYTES):
        self.fs_bytes = fs_bytes

    def statvfs(self, path):
        return (4096, 4096, self.fs_bytes // 4096, 0, 0, 0, 0, 0, 0, 255)


class Rig:
    """Everything of one Pico board on models, in the chip's time."""

    def __init__(self, analog=None, fs_bytes=flash.FS_BYTES, echo=True, flash_chip=None):
        self.chip = Rp2040(analog or MainsInput(230.0, 5.0, 0.0, noise=True, seed=3),
                           t0_us=1000000)
        _m, _r, self.uctypes, self.time = fakes(self.chip)
        self.line = uart_model.Line(self.chip.time_us, echo=echo)
        self.lcd = HT1621Model()
        self.machine = Machine(self.chip, self.line, self.lcd)
        self.flash_chip = flash_chip or fake_rp2.Chip()
        self.rp2 = Rp2(self.chip, self.flash_chip)
        self.os = Os(fs_bytes)

    def boot(self, board_module=pico_board, **kw):
        kw.setdefault("front_end", MODEL_FE)
        return pico_main.boot(board_module, machine=self.machine, rp2=self.rp2,
                              time=self.time, uctypes=self.uctypes, os=self.os, **kw)

    def store(self):
        return Store(fake_rp2.FakeRp2(self.flash_chip).Flash(start=flash.FS_BYTES,
                                                            len=flash.STORE_BYTES))

    def t(self):
        return (self.chip.time_us() - 1000000) / 1e6


def decode(frames, fmt):
    """The bytes of the meter's characters, each checked here: sent at fmt, parity bit
    as computed here (even: data + parity hold an even number of ones), stop bit 1."""
    baud, bits, parity, stop = fmt
    out = bytearray()
    for _s, _e, f, lv in frames:
        assert f == fmt, "a character at %r, expected %r" % (f, fmt)
        data = lv[:bits]
        if parity is not None:
            assert (sum(data) + lv[bits]) % 2 == parity, "parity error"
        assert lv[len(lv) - stop:] == (1,) * stop, "framing error"
        out.append(sum(b << i for i, b in enumerate(data)))
    return bytes(out)


def bcc(data):
    x = 0
    for b in data:
        x ^= b
    return x & 0x7F


# -- pins ----------------------------------------------------------------------------------
def test_every_pin_is_unique_and_not_wired_inside_the_pico():
    gp = list(pins.PINS.values())
    assert len(gp) == len(set(gp)), "a GPIO used twice"
    for name, n in pins.PINS.items():
        assert 0 <= n <= 28 and n not in (23, 24, 25, 29), name
    assert set(pins.INTERNAL) == {23, 24, 25, 29}
    assert (pins.ADC_V, pins.ADC_I, pins.ADC_N) == (26, 27, 28)          # AIN0..2
    assert pins.UART_TX % 4 == 0 and pins.UART_RX % 4 == 1               # UART0 TX/RX
    assert ((pins.UART_TX + 4) & 8) >> 3 == pins.UART_ID == 0
    # SPI0 functions (RP2040 datasheet GPIO function table): SCK 2/6/18, TX 3/7/19,
    # RX 0/4/16
    afe = ads_pins.AFE
    assert afe["sck"] % 4 == 2 and afe["mosi"] % 4 == 3 and afe["miso"] % 4 == 0
    assert ((afe["sck"] + 8) // 8) % 2 == 1 and afe["sck"] < 8     # SPI0, not SPI1
    used = [v for v in afe.values() if v is not None]
    assert set(used) <= set(gp) and len(used) == len(set(used))


# -- the UART port alone -------------------------------------------------------------------
def _port(echo=False):
    clk = uart_model.Clock(5000000)
    line = uart_model.Line(clk, echo=echo)
    port = UartPort(uart_model.Machine(line), 0, 0, 1, clk, echo=echo)
    return clk, line, port


def _advance(clk, port, ms, step_ms=1):
    for _ in range(int(ms / step_ms)):
        clk.us += int(step_ms * 1000)
        port.any()


def test_uart_port_starts_at_300_7e1_and_queues_without_blocking():
    clk, line, port = _port()
    assert line.formats == [(5000000, (300, 7, 0, 1))]
    text = bytes(range(32, 127)) * 11                 # 1045 bytes: 35 s at 300 baud
    for k in range(0, len(text), 30):
        port.write(text[k:k + 30])                     # a line per poll, 1 ms apart
        _advance(clk, port, 1)
    assert port.overflows == 0 and line.errors == []
    assert all(n <= 256 for _t, n, _p in line.writes)  # a hand-over at most txbuf
    # ... and only once the UART has started its last character (txdone): never into a
    # ring buffer that could be full
    assert all(p == 0 for _t, _n, p in line.writes)
    _advance(clk, port, 40000, 10)
    assert decode(line.frames, F7E1(300)) == bytes(b & 0x7F for b in text)
    # back to back while the queue had bytes: the gaps are the 10 ms polls at most
    gaps = [b[0] - a[1] for a, b in zip(line.frames, line.frames[1:])]
    assert max(gaps) <= 10000 and sum(1 for g in gaps if g > 0) <= 5
    assert port.idle


def test_set_format_waits_for_the_last_stop_bit_without_blocking():
    clk, line, port = _port()
    port.write(b"/MPM5\\2ident\r\n")                   # 14 characters: 467 ms at 300
    t0 = clk.us
    port.set_format(9600, 7, "E")
    assert clk.us == t0 and len(line.formats) == 1   # returned at once, switch queued
    port.write(b"\x02after\r\n")
    _advance(clk, port, 600)
    assert line.errors == []
    t_sw, fmt = line.formats[-1]
    assert fmt == (9600, 7, 0, 1)
    last_old = [f for f in line.frames if f[2] == F7E1(300)][-1]
    assert t_sw >= last_old[1]                         # after the last stop bit
    assert t_sw - last_old[1] < 40000                  # ... by about a character
    assert decode([f for f in line.frames if f[2] == F7E1(300)], F7E1(300)) == \
        b"/MPM5\\2ident\r\n"
    assert decode(line.sent(t_sw), F7E1(9600)) == b"\x02after\r\n"
    # the same format again changes nothing (no re-init: it would empty the buffers)
    n = len(line.formats)
    port.set_format(9600, 7, "E")
    assert len(line.formats) == n and port.formats == n
    port.set_format(300, 8, None)                      # 8N1 (mode E): parity None
    assert line.formats[-1][1] == (300, 8, None, 1)


def test_the_model_sees_a_write_that_would_block():
    clk, line, port = _port()
    line.write(b"x" * 200)
    clk.us += 1000
    line.write(b"y" * 200)       # 199 not started: 256 - (199 - 32) = 89 free: it would wait
    assert line.errors and "write would block" in line.errors[0]
    assert line.writes[-1][2] == 199


def test_the_model_sees_a_format_change_during_a_transmission():
    """The check the port is held to: re-initialising the UART mid-character is an
    error of the line model (it is what a naive set_format would do)."""
    clk, line, port = _port()
    port.write(b"ABC")
    clk.us += 20000
    line.UART(0, baudrate=9600, bits=7, parity=0, stop=1)
    assert line.errors and "format change while sending" in line.errors[0]
    assert line.lost == 3


def test_echo_is_dropped_while_sending_and_the_hhu_heard_afterwards():
    clk, line, port = _port(echo=True)
    port.write(b"/MPM5\\2x\r\n")
    got = b""
    for _ in range(500):                               # 500 ms: the answer and its echo
        clk.us += 1000
        n = port.any()
        if n:
            got += port.read(n)
    assert got == b"" and port.echoes == 10
    line.hhu_send(bytes((ACK,)) + b"050\r\n", F7E1(300))
    for _ in range(300):
        clk.us += 1000
        n = port.any()
        if n:
            got += port.read(n)
    assert got == bytes((ACK,)) + b"050\r\n"
    assert line.errors == [] and line.garbled == 0


def test_a_full_queue_drops_and_counts_instead_of_blocking():
    clk, line, port = _port()
    port.write(b"x" * 3000)
    assert port.overflows == 3000 - 2048 and port.room() == 256    # 256 handed over
    assert line.errors == []


# -- the clock ------------------------------------------------------------------------------
def test_clock_on_the_rtc_and_its_restore():
    chip = Rp2040(MainsInput(noise=False))
    rtc = Rtc(chip)
    _m, _r, _u, t = fakes(chip)
    c = pico_clock.PicoClock(rtc, t)
    assert c.now() == calendar.timegm((2021, 1, 1, 0, 0, 0)) and not c.valid
    want = calendar.timegm((2026, 3, 29, 0, 59, 58))
    c.set(want)
    assert rtc.utc() == want and c.now() == want and c.valid
    assert rtc.datetime()[3] == 6                      # a Sunday: weekday 6 (Monday 0)
    chip.run(3.0)
    assert c.now() == want + 3
    assert c.restore(want - 100) is None and c.valid   # the RTC is ahead: kept
    rtc.datetime(RTC_RESET)                            # a power cut
    old = c.restore(want)
    assert old == calendar.timegm((2021, 1, 1, 0, 0, 0))
    assert c.now() == want and not c.valid and c.restored == (old, want)


# -- the whole board -------------------------------------------------------------------------
def _seed_store(rig, serial, utc):
    """A meter that ran before: its configuration (a short readout list) and an event."""
    st = rig.store()
    st.mount()
    cfg = Config("162", {"serial": serial, "readout_list": ["0.9.1", "C.1.0", "1.8.0"],
                         "readout_history": 0})
    import json

    legal, settings = cfg.split()
    st.put("legal", json.dumps(legal).encode())
    st.put("settings", json.dumps(settings).encode())
    st.append("events", ev.pack(utc, ev.POWER_DOWN))


class Script:
    """The test's side of the loop: the HHU and the power-fail input on the model clock."""

    def __init__(self, rig, meter):
        self.rig = rig
        self.meter = meter
        self.state = "wait"
        self.t_ident = None
        self.t_select = None
        self.pf_until = None
        self.saves_before = None
        self.ident = b""
        self.readout = b""
        self.end_s = 3.4

    def __call__(self, it):
        r = self.rig
        t = r.t()
        line = r.line
        if self.state == "wait" and t >= 0.3:
            line.hhu_send(b"/?!\r\n", F7E1(300))       # the sign-on
            self.state = "signon"
        elif self.state == "signon":
            got = decode(line.frames, F7E1(300))
            if got.endswith(b"\r\n"):
                self.ident = got
                self.t_ident = line.frames[-1][1]
                self.state = "ident"
        elif self.state == "ident" and r.chip.time_us() >= self.t_ident + 30000:
            self.t_select = r.chip.time_us()
            line.hhu_send(bytes((ACK,)) + b"050\r\n", F7E1(300))   # readout at 9600
            self.state = "select"
        elif self.state == "select":
            after = line.sent(self.t_select)
            if len(after) >= 2 and decode(after[-2:-1], F7E1(9600)) == bytes((ETX,)):
                self.readout = decode(after, F7E1(9600))
                self.state = "done"
        if self.pf_until is None and t >= 1.5:
            self.saves_before = self.meter.persist.saves
            r.machine.levels[pins.POWER_FAIL] = 1          # the supply fails ...
            self.pf_until = t + 0.1
        elif self.pf_until is not None and t >= self.pf_until:
            r.machine.levels[pins.POWER_FAIL] = 0          # ... and comes back
        assert t < 8.0, "the exchange did not end: state %s" % self.state
        return t >= self.end_s and self.state == "done"


def test_the_pico_board_runs_the_meter():
    rig = Rig()
    t_saved = calendar.timegm((2026, 6, 21, 9, 59, 0))
    _seed_store(rig, 12345678, t_saved)
    meter, board, store = rig.boot()
    m = rig.machine
    # the stored configuration won over the profile's defaults
    assert meter.cfg.serial == 12345678 and meter.cfg.readout_list == ["0.9.1", "C.1.0",
                                                                       "1.8.0"]
    # the clock: the RTC read 2021-01-01 (no battery), restored to the stored time
    assert board.clock.now() == t_saved and not board.clock.valid
    evs = meter.persist.events()
    assert (ev.CLOCK_SET, calendar.timegm((2021, 1, 1, 0, 0, 0)), t_saved) in [e[1:] for e in evs]
    assert [e[1:3] for e in evs if e[1] == ev.RESET_CAUSE] == [(ev.RESET_CAUSE, 3)]
    # the parts
    assert board.relay.value() == 1 and board.s0.value() == 0 and board.inputs is None
    assert meter.s0 is None                 # the 162's default: S0 off (0 imp/kWh)
    assert m.modes[pins.BUTTON] == (Pin.IN, Pin.PULL_UP)
    assert m.modes[pins.POWER_FAIL] == (Pin.IN, Pin.PULL_DOWN)
    assert board.seal.value() == 0                     # no jumper: sealed
    m.levels[pins.SEAL] = 0
    assert board.seal.value() == 1
    m.levels[pins.SEAL] = 1
    assert m.wdts == []                                # started by the first feed

    script = Script(rig, meter)
    its = pico_main.run(meter, board, stop=script, idle=lambda: rig.chip.run(0.002))
    meter.finish()

    assert m.errors == [] and rig.line.errors == [] and rig.chip.errors == []
    assert rig.chip.stray == [] and rig.lcd.errors == []
    assert getattr(meter, "errors_ui", 0) == 0 and meter.errors == 0
    # the watchdog: one WDT of 5 s, fed at every iteration, never 5 s apart
    assert len(m.wdts) == 1 and m.wdts[0].timeout == pico_board.WDT_MS
    feeds = m.wdts[0].feeds
    assert len(feeds) == its
    assert max(b - a for a, b in zip(feeds, feeds[1:])) < 100000
    # energy: A+ against the analytic truth over the blocks the meter got
    s = board.sampler
    assert s.overruns == 0
    seconds = (s.seq + 1) * s.frames / s.fs
    assert seconds > 3.3
    tr = truth.energies({"segments": [{"duration_s": seconds,
                                       "phases": [{"v_rms": 230.0, "i_rms": 5.0}]}]})
    a = meter.report()["registers"]["a_plus"]["secondary_wh"]
    err = (a - tr["total"]["A+"]) / tr["total"]["A+"] * 100
    assert abs(err) < 0.5, "A+ error %.3f %%" % err
    # the meter LED blinked for it (1000 imp/kWh: 1 Wh a pulse)
    assert m.rises.get(pins.LED_KWH, 0) == meter.led_p.emitted >= int(a) - 1
    # the power failure: a save and the events, and the loop went on measuring
    assert meter.persist.saves > script.saves_before
    codes = [e[1] for e in meter.persist.events()]
    assert ev.POWER_DOWN in codes and codes.count(ev.POWER_UP) >= 2
    assert not meter.down
    # the optical port: sign-on at 300 7E1, identification, option select, readout at
    # 9600 7E1, all decoded from the line's bit levels
    assert script.ident == b"/MPM5\\2mpmeter162\r\n"
    ro = script.readout
    assert ro[0] == STX and ro[-2] == ETX and bcc(ro[1:-1]) == ro[-1]
    lines = ro[1:-2].decode().split("\r\n")
    assert lines[-1] == "" and lines[-2] == "!"
    assert lines[1] == "C.1.0(12345678)"
    assert lines[2].startswith("1.8.0(") and lines[2].endswith("*kWh)")
    assert [f for _t, f in rig.line.formats] == [F7E1(300), F7E1(9600), F7E1(300)]
    assert rig.line.garbled == 0
    # the LCD shows something of the lists
    text, _bars = decode_pdc6x1(rig.lcd.ram)
    assert text.strip()


def test_a_stock_filesystem_is_refused_before_any_pin_is_driven():
    rig = Rig(fs_bytes=fake_rp2.STORAGE_BYTES)
    with pytest.raises(ValueError, match="filesystem covers 1408 KiB"):
        rig.boot()
    assert rig.machine.modes == {} and rig.flash_chip.ops == []
    with pytest.raises(ValueError, match="filesystem covers"):
        pico_board.make_board(Config("162"), machine=rig.machine, rp2=rig.rp2,
                              time=rig.time, uctypes=rig.uctypes, os=rig.os)
    assert rig.machine.modes == {}


def test_first_boot_writes_the_configuration_and_a_bad_one_is_flagged():
    rig = Rig()
    meter, _board, store = rig.boot()
    assert store.get("legal") is not None and meter.cfg.serial == 0
    assert not meter.data_lost
    st = rig.store()
    st.mount()
    st.put("settings", b"{not json")
    rig2 = Rig(flash_chip=rig.flash_chip)
    meter2, _b, _s = rig2.boot()
    assert meter2.cfg.data == Config("162").data and meter2.data_lost


def test_neither_a_metrology_error_nor_a_ui_error_stops_the_loop():
    rig = Rig()
    meter, board, _store = rig.boot()
    calls = []

    def bad_ui(now):
        calls.append(now)
        raise ValueError("a glass that cannot show this")

    real_ui = meter.ui
    meter.ui = bad_ui
    pico_main.run(meter, board, stop=lambda it: it >= 5, idle=lambda: rig.chip.run(0.002))
    assert len(calls) == 5 and meter.errors_ui == 5
    meter.ui = real_ui

    # the engine fails on every block: counted, logged at the 1st, 2nd, 4th ... fault,
    # shown as ERROR, and the loop (the watchdog feed with it) goes on
    real_feed = meter.engine.feed

    def bad_feed(buf):
        raise ZeroDivisionError("metrology")

    meter.engine.feed = bad_feed
    assert rig.machine.wdts == []           # the failing UI never fed it
    its = pico_main.run(meter, board, stop=lambda it: it >= 100,
                        idle=lambda: rig.chip.run(0.005))
    assert its == 100 and len(rig.machine.wdts[0].feeds) == 100
    n = meter.faults
    assert n >= 20 and meter.last_fault[0] == FAULT_BLOCK
    logged = [e[2:] for e in meter.persist.events() if e[1] == ev.METER_ERROR]
    assert logged == [(FAULT_BLOCK, 1 << k) for k in range(n.bit_length())]
    assert meter.display.status() & ERROR
    # repaired: it measures again
    meter.engine.feed = real_feed
    count = meter.m.count
    pico_main.run(meter, board, stop=lambda it: it >= 40, idle=lambda: rig.chip.run(0.005))
    assert meter.m.count > count and meter.faults == n


def test_the_ads131m08_board_with_a_stand_in_sampler():
    class Sampler:
        fs, frames, stride = 8000, 320, 8
        systems = [{"v": k, "i": 3 + k, "v_lsb": 400.0 / 32768, "i_lsb": 10.0 / 32768,
                    "v_bias": 0, "i_bias": 0, "skew": 0.0} for k in range(3)]
        neutral = None

        def read(self):
            return None

    rig = Rig()
    cfg = Config("351")
    b = ads_board.make_board(cfg, machine=rig.machine, rp2=rig.rp2, time=rig.time,
                             uctypes=rig.uctypes, os=rig.os, sampler=Sampler())
    m = rig.machine
    assert b.name == "pico_ads131m08" and b.relay is None and b.s0 is not None
    assert b.inputs.value(0) == 0 and b.inputs.value(1) == 0
    m.levels[pins.IO2] = 0                             # the optocoupler conducts
    assert b.inputs.value(1) == 1
    handler, trigger, hard = m.irqs[pins.PULSE_IN]
    assert hard and trigger == Pin.IRQ_FALLING
    assert b.inputs.pulses() == 0
    for _ in range(70000):                             # past the 16-bit counter
        handler(None)
    assert b.inputs.pulses() == 70000 - 65536          # read too late: wrapped once
    for _ in range(1000):
        handler(None)
    assert b.inputs.pulses() == 70000 - 65536 + 1000
    assert m.errors == []
    # the 6-digit glass draws the 351's lists (display code 7.1) without an error
    from mpmeter.meter import Meter

    meter = Meter(b, cfg)
    for t in range(0, 60000, 250):
        meter.ui(t)
    assert rig.lcd.errors == [] and decode_pdc6x1(rig.lcd.ram)[0].strip()
    assert len(m.wdts) == 1 and len(m.wdts[0].feeds) == 240
    # the AFE pins do not clash with anything the board drives
    afe = [v for v in ads_pins.AFE.values() if v is not None]
    assert not set(afe) & set(m.modes)


# -- MicroPython: every board module imports there; the pulse IRQ allocates nothing ------
MP_SCRIPT = """
import micropython
import boards.pico.board, boards.pico.main, boards.pico.uart_port, boards.pico.clock
import boards.pico.pins, boards.pico_ads131m08.board, boards.pico_ads131m08.pins
from boards.pico.board import Inputs
class P:
    IN = 0; PULL_UP = 1; IRQ_FALLING = 4
    def __init__(self, n, *a, **k):
        self.n = n
    def value(self):
        return 1
    def irq(self, handler=None, trigger=0, hard=False):
        P.h = handler
class M:
    Pin = P
i = Inputs(M(), (19, 20), 21)
h = P.h
micropython.heap_lock()
for _ in range(1000):
    h(None)
micropython.heap_unlock()
print("ok", i.pulses())
"""


def test_board_modules_import_on_micropython_and_the_irq_does_not_allocate():
    mp = os.path.join(os.path.dirname(sys.executable), "micropython")
    if not os.path.exists(mp):
        pytest.skip("no micropython next to this Python")
    env = dict(os.environ, MICROPYPATH=".frozen:.")
    r = subprocess.run([mp, "-X", "heapsize=192k", "-c", MP_SCRIPT], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.split() == ["ok", "1000"]


def test_the_loop_sleeps_until_the_next_block_is_due():
    """main.run without idle(): after an iteration that found no block it sleeps in
    board.sleep_ms for what the sampler says is left of the block (due_us + margin),
    capped by IDLE_MAX_MS and by Meter.idle_ms (a pulse edge, the optical port busy);
    the UI runs at most every UI_MS while the port is idle."""
    from boards.pico import main as M

    class Clock:
        t = 0

        def ticks_ms(self):
            return self.t

    clock = Clock()
    slept = []
    uis = []
    blocks = []

    class Sampler:
        due = 0

        def due_us(self):
            return self.due

    class Board:
        pass

    board = Board()
    board.clock = clock
    board.sampler = Sampler()

    def sleep_ms(ms):
        slept.append(ms)
        clock.t += ms

    board.sleep_ms = sleep_ms

    class Op:
        b = False

        def in_session(self):
            return self.b

    class Meter:
        down = False
        optical = Op()
        edge = 99

        def step(self):
            if clock.t % 20 == 0 and clock.t not in blocks:
                blocks.append(clock.t)
                board.sampler.due = 20000
                return True
            board.sampler.due = (20 - clock.t % 20) * 1000
            return False

        def tick(self, now):
            pass

        def ui(self, now):
            uis.append(now)

        def idle_ms(self, now, limit):
            return min(limit, self.edge)

    meter = Meter()
    M.run(meter, board, stop=lambda it: clock.t >= 1000)
    assert blocks == list(range(0, 1001, 20))       # every block, at its time
    assert set(slept) <= {20, 19} and len(slept) <= 60
    assert len(uis) <= 1000 // M.UI_MS + 2
    # a pulse edge due in 3 ms, the optical port busy: shorter sleeps, the UI every wake
    meter.edge = 3
    meter.optical.b = True
    del slept[:], uis[:]
    M.run(meter, board, stop=lambda it: clock.t >= 1100)
    assert slept and max(slept) <= 3 and len(uis) >= len(slept)

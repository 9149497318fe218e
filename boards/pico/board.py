"""The Pico board (profile 162): the hal.py parts on a Raspberry Pi Pico, built by make_board().

    board = make_board(config)          # on the Pico: the real machine, rp2, time, uctypes, os
    board = make_board(config, machine=m, rp2=r, time=t, uctypes=u, os=o,
                       front_end={...})   # host tests: models of the chip's parts

Parts (pins: boards/pico/pins.py; wiring and parts list: boards/pico/README.md):
    flash        flash.open_store(rp2, os): the record store region at the top of the
                 flash, after check_layout() refused a filesystem that reaches into it.
                 Opened first: on stock firmware the board stops before driving a pin.
                 main.py opens it itself before the board (the stored configuration
                 decides the parts) and passes it in as `flash`.
    sampler      sampler.PicoSampler on ADC0/1(/2) with FRONT_END (+ `front_end`): the
                 AC-AC adapter and divider ratio, the CT ratio and burden (README); the
                 neutral CT on ADC2 with front_end={"neutral": True}
    clock        clock.PicoClock on machine.RTC (UTC) and time.ticks_ms
    led, led_q   the front meter LEDs (kWh, kvarh), outputs, 1 = lit
    s0           the S0 optocoupler's pin, always (driven low = off); it pulses only
                 while config.s0_imp_kwh is set (the 162's default is 0; the optical
                 port's W1 s0_imp_kwh switches it on without a reboot)
    relay        breaker relay driver, 1 = connected: closed (1) at boot
    button       GP8 to ground with the pull-up: 0 while pressed (display/button.py)
    seal         ActiveLow(GP13): 1 while the jumper under the verification cover is
                 fitted (legal settings writable, comms/programming.py)
    power_fail   GP14 (pull-down): 1 while the comparator sees the supply failing
    magnet       ActiveLow(GP15) of a Hall switch, 1 while a field is present (magnet=False:
                 none fitted)
    optical      uart_port.UartPort on UART0 (GP0 TX, GP1 RX), 300 baud 7E1
    lcd          display/ht1621.HT1621 with the PDC-6X1 glass on GP16..18, initialised
    wdt          Watchdog: machine.WDT(timeout=WDT_MS), started by its first feed() (the
                 first Meter.ui(), after the store has been scanned at boot)
    reset_cause  machine.reset_cause (logged by the Meter at boot)
    sleep_ms     time.sleep_ms: the main loop sleeps in it until the next block is due
Every module is imported inside make_board: this file imports under CPython and the
MicroPython unix port (no machine there).
"""

import array

from boards.pico import pins

# the front end of boards/pico/README.md (parts list): volts at the mains per volt at
# ADC0 (AC-AC adapter 230 V : 9 V nominal x divider (97.6k + 10k) / 10k) and the CT
# SCT-013-000 (2000 : 1) into 25.5 ohm. Full scale +-453.8 V and +-129.4 A peak, within
# 1 % of the simulator's +-450 V / +-130 A (boards/sim/adc.py); calibration takes the rest.
FRONT_END = {"v_ratio": 230.0 / 9.0 * 107.6 / 10.0, "ct_ratio": 2000.0, "burden_ohm": 25.5}
PROFILE = "162"
WDT_MS = 5000            # see Watchdog
WATCHDOG_CTRL_CLR = 0x4005B000    # WATCHDOG CTRL (0x40058000), atomic clear alias
WATCHDOG_ENABLE = 1 << 30


class ActiveLow:
    """An input whose asserted level is 0 (pull-up, switch or open drain to ground):
    value() 1 while asserted."""

    def __init__(self, pin):
        self.pin = pin
        self._v = pin.value

    def value(self):
        return 0 if self._v() else 1


class Watchdog:
    """machine.WDT, started at the first feed() (hal.py: fed by Meter.ui()).

    Started late on purpose: at boot the store is scanned (every record of 254 blocks)
    before the first ui(), longer than a timeout worth having. WDT_MS 5 s: the longest
    regular gap between two ui() calls is a few store writes that each may erase a
    sector (400 ms max with interrupts off, boards/pico/README.md) plus a display write;
    the rp2 maximum is 8388 ms. stop() (development only, after Ctrl-C from mpremote:
    the REPL would otherwise be reset within WDT_MS) clears the RP2040 WATCHDOG CTRL
    ENABLE bit; the rp2 port's WDT has no deinit. Not verified on a Pico."""

    def __init__(self, machine, timeout_ms=WDT_MS):
        self._machine = machine
        self.timeout_ms = timeout_ms
        self.wdt = None
        self.fed = 0

    def start(self):
        if self.wdt is None:
            self.wdt = self._machine.WDT(timeout=self.timeout_ms)

    def feed(self):
        if self.wdt is None:
            self.start()
        self.wdt.feed()
        self.fed += 1

    def stop(self):
        if self.wdt is not None:
            self._machine.mem32[WATCHDOG_CTRL_CLR] = WATCHDOG_ENABLE
            self.wdt = None


class Inputs:
    """hal.py inputs: I/O 1 and I/O 2 (optocouplers that pull their GPIO low while the
    input is energised) and a pulse input counted on falling edges by a hard IRQ.

    The handler only increments a preallocated 16-bit counter (array 'H', small-int
    arithmetic: no allocation, allowed in a hard IRQ); pulses() extends it to an int that
    only grows, from the main loop (the meter reads it once per measurement period, so up
    to 65535 pulses per period are counted exactly). Contact bounce is filtered in
    hardware (RC before the optocoupler; the RP2040's inputs have Schmitt triggers)."""

    def __init__(self, machine, io_pins, pulse_pin):
        P = machine.Pin
        self._io = [ActiveLow(P(n, P.IN, P.PULL_UP)) for n in io_pins]
        cnt = array.array("H", [0])
        self._count = cnt
        self._last = 0
        self._total = 0

        def edge(_pin):
            cnt[0] = (cnt[0] + 1) & 0xFFFF

        self.handler = edge
        self.pin = P(pulse_pin, P.IN, P.PULL_UP)
        self.pin.irq(handler=edge, trigger=P.IRQ_FALLING, hard=True)

    def value(self, i):
        return self._io[i].value()

    def pulses(self):
        raw = self._count[0]
        self._total += (raw - self._last) & 0xFFFF
        self._last = raw
        return self._total


def modules(machine=None, rp2=None, time=None, uctypes=None, os=None):
    """The board's MicroPython modules: those given, the real ones for the rest."""
    if machine is None:
        import machine
    if rp2 is None:
        import rp2
    if time is None:
        import time
    if uctypes is None:
        import uctypes
    if os is None:
        import os
    return machine, rp2, time, uctypes, os


def output(machine, gpio, level=0):
    P = machine.Pin
    return P(gpio, P.OUT, value=level)


def common(name, config, sampler, machine, time, rp2, os, flash, magnet=True):
    """The parts the two Pico boards share (everything but the sampler, the relay and
    the inputs), as a hal Board."""
    from mpmeter.display import glass_pdc6x1
    from mpmeter.display.ht1621 import HT1621
    from mpmeter.hal import Board

    from boards.pico.clock import PicoClock
    from boards.pico.uart_port import UartPort

    P = machine.Pin
    if flash is None:
        from boards.pico.flash import open_store

        flash = open_store(rp2, os)
    s0_pin = output(machine, pins.S0)
    lcd = HT1621(output(machine, pins.LCD_CS, 1), output(machine, pins.LCD_WR, 1),
                 output(machine, pins.LCD_DATA), glass_pdc6x1)
    lcd.init()
    b = Board(name, sampler=sampler, clock=PicoClock(machine.RTC(), time),
              led=output(machine, pins.LED_KWH), led_q=output(machine, pins.LED_KVARH),
              s0=s0_pin, flash=flash,
              optical=UartPort(machine, pins.UART_ID, pins.UART_TX, pins.UART_RX, time),
              lcd=lcd, button=P(pins.BUTTON, P.IN, P.PULL_UP),
              power_fail=P(pins.POWER_FAIL, P.IN, P.PULL_DOWN),
              seal=ActiveLow(P(pins.SEAL, P.IN, P.PULL_UP)),
              magnet=ActiveLow(P(pins.MAGNET, P.IN, P.PULL_UP)) if magnet else None,
              wdt=Watchdog(machine), reset_cause=machine.reset_cause)
    b.sleep_ms = getattr(time, "sleep_ms", None)   # the main loop's idle sleep (main.py)
    return b


def make_board(config, machine=None, rp2=None, time=None, uctypes=None, front_end=None,
               os=None, flash=None, magnet=True):
    """The Pico 162 board for a validated Config (see the module doc). front_end: keys of
    sampler.PicoSampler over FRONT_END (v_ratio, ct_ratio, burden_ohm, neutral, ...)."""
    machine, rp2, time, uctypes, os = modules(machine, rp2, time, uctypes, os)
    from mpmeter.hal import check_sampler

    from boards.pico.sampler import PicoSampler

    if flash is None:
        from boards.pico.flash import open_store

        flash = open_store(rp2, os)      # before any pin is driven (stock firmware)
    fe = dict(FRONT_END)
    fe.update(front_end or {})
    sampler = PicoSampler(machine, rp2, uctypes, time, **fe)
    check_sampler(sampler)
    b = common("pico", config, sampler, machine, time, rp2, os, flash, magnet)
    b.relay = output(machine, pins.RELAY, 1)      # the breaker closed: supply connected
    return b

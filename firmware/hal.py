"""The board contract: the duck-typed parts a board hands to the meter (documentation + checks).

Nothing in firmware/ imports `machine` or `rp2`. A board module
(`boards/<name>/board.py`) builds these parts and returns them from
`make_board(config)` as a `Board`. Absent parts are None.

Sampler (metrology input)
    fs          int   frames per second (one frame = one sample of every channel)
    frames      int   frames per block
    stride      int   channels per frame (array index = frame * stride + channel)
    systems     list of dicts, one per measuring system (phase, or Aron element):
                  {"v": ch, "i": ch, "v_lsb": volts per count, "i_lsb": amps per count,
                   "v_bias": code at 0 V, "i_bias": code at 0 A,
                   "skew": sampling time of the i channel minus the v channel, in frames}
    neutral     None or {"ch": ch, "lsb": amps per count, "bias": code}
    read()      -> the next filled block (array('h') of frames*stride codes) or None
                   when none is ready. The block returned by the previous read() stays
                   intact until the following read() (the ring holds >= 3 blocks).
    Codes are 16-bit two's complement in the array (the RP2040 ADC's 0..4095 codes fit).
    After bias removal every code lies in [-32768, 32767].

Clock
    now()       -> int UTC seconds
    ticks_ms()  -> int milliseconds, monotonic (wraps like time.ticks_ms on a board)
    set(utc)    set the clock (the RTC on a board)

Pulse pin (LED, S0)
    value(x)    drive the output: 1 = pulse active (LED lit / S0 transistor on)

Flash: a MicroPython block device (readblocks/writeblocks/ioctl, extended form):
    the meter's record region (storage/store.py REGION_BLOCKS blocks of 4096 bytes),
    never the filesystem's blocks. Programs cover whole 256-byte pages.

Inputs (optional; the module terminals I/O 1 and I/O 2, DD code)
    value(i)    -> level of input i (0: I/O 1, 1: I/O 2), 1 = energised
    pulses()    -> pulses counted on the pulse input since start (an int that only grows)

Power-fail input (optional)
    value()     -> 1 while the supply is failing (hold-up time left for one save)

Optical port (optional; the IR transceiver's UART, TCP in the simulator)
    any(), read(n), write(buf), set_format(baud, bits, parity), ms(): see
    comms/iec62056.py

LCD (optional): width, show(frame, now_ms) (display/lcd.py Frame; display/ht1621.py,
    display/oled.py, display/textlcd.py). Button (optional): value(), 0 while pressed.
Relay (optional, 162 with breaker): value() 1 = connected.
Seal (optional): value() 1 while the verification seal is open (legal writes allowed).
Magnet (optional): value() 1 while a magnetic field is detected (status indicator).
Watchdog (optional): feed() (machine.WDT), fed by Meter.ui() from the main loop.
Reset cause (optional): reset_cause() -> int (machine.reset_cause()), logged at boot.
"""


class Board:
    """The parts of one board; attributes are None where the board has no such part."""

    def __init__(self, name, sampler=None, clock=None, led=None, s0=None, flash=None,
                 optical=None, lcd=None, button=None, relay=None, inputs=None, power=None,
                 led_q=None, power_fail=None, seal=None, magnet=None, wdt=None,
                 reset_cause=None):
        self.name = name
        self.sampler = sampler
        self.clock = clock
        self.led = led
        self.s0 = s0
        self.flash = flash
        self.optical = optical
        self.lcd = lcd
        self.button = button
        self.relay = relay
        self.inputs = inputs
        # phasor source (sim only): fs, nsys, read() -> (seconds, [(p, q, v, i)..], f) or None
        self.power = power
        self.led_q = led_q  # reactive-energy LED (imp/kvarh)
        self.power_fail = power_fail
        self.seal = seal
        self.magnet = magnet
        self.wdt = wdt
        self.reset_cause = reset_cause


SYSTEM_KEYS = ("v", "i", "v_lsb", "i_lsb", "v_bias", "i_bias", "skew")


def check_sampler(s):
    """Raise ValueError naming the first field of a sampler that breaks the contract."""
    for k in ("fs", "frames", "stride", "systems"):
        if not hasattr(s, k):
            raise ValueError("sampler lacks %s" % k)
    if not 1 <= len(s.systems) <= 3:
        raise ValueError("sampler.systems: 1..3 measuring systems, got %d" % len(s.systems))
    for n, sy in enumerate(s.systems):
        for k in SYSTEM_KEYS:
            if k not in sy:
                raise ValueError("sampler.systems[%d] lacks %s" % (n, k))
        for k in ("v", "i"):
            if not 0 <= sy[k] < s.stride:
                raise ValueError("sampler.systems[%d].%s: channel %d outside stride %d"
                                 % (n, k, sy[k], s.stride))

"""Model of the RP2040's PIO0 (opcode level) and GPIO, with fakes of rp2.asm_pio and StateMachine.

CPython, tests only. It plugs into host_tests/rp2040_adc_model.py's Rp2040 (its DMA,
bus, timer and CPU-time) as a device: `Hub(chip, parts)` puts PIO0's registers on the
bus at 0x50200000, the PIO0 DREQs (TX0..3 = 0..3, RX0..3 = 4..7) into the DMA, and
runs the state machines and the external parts (e.g. ads131m08_model) in system clock
cycles (`SYS_HZ`, 125 MHz: 1 us = 48 clk_adc cycles = 125 sys cycles).

Assembler: `asm_pio(**kw)` is this model's own implementation of MicroPython's
rp2.asm_pio (ports/rp2/modules/rp2.py): the decorated function runs twice with the
instruction names as globals (labels on pass 0), giving the same list
[array('H') opcodes, -1, -1, EXECCTRL, SHIFTCTRL, out_init, set_init, sideset_init]:
real 16-bit PIO opcodes (RP2040 datasheet 3.4), .side() (side-set; the enable bit
when not every instruction has one), [n] delays, wrap_target/wrap, labels.

State machines: decoded from INSTR_MEM, EXECCTRL, SHIFTCTRL, PINCTRL and CLKDIV as
written on the bus (the fake rp2.StateMachine writes them as rp2_pio.c / the SDK do:
program at the highest free offset with JMP targets relocated, clock divider
truncated from sys / freq, FIFOs cleared, pins from the *_init lists). Every SM cycle
(sys cycle floor(n * CLKDIV)) executes the instruction at PC: JMP (all conditions),
WAIT (gpio / pin; irq flags), IN, OUT, PUSH / PULL (block, iffull/ifempty), autopush /
autopull at the thresholds, MOV (ops invert / reverse; STATUS from STATUS_SEL/N), IRQ
(set / clear / wait), SET; side-set (optional enable bit, pindirs) even while stalled;
delays after completion; wrap. Inputs are read before the outputs of the same cycle
change (the 2-flop input synchroniser's delay is not modelled otherwise). FIFOs: 4 deep
each, 8 when joined; FSTAT, FLEVEL, FDEBUG (RXSTALL / TXSTALL / RXUNDER / TXOVER, w1c).
Not modelled: OUT_STICKY / INLINE_OUT_EN, EXEC via OUT / MOV, PIO1, interrupts to the
CPU, the input synchroniser bypass, pad state.

Fast path (`fast=True`, the default): a segment of execution that starts when a
stalled WAIT is satisfied and ends when the SM stalls on a WAIT again is recorded the
first time (run cycle by cycle, the parts seeing every edge) as its pin changes, pin
samples and pushes (values as the bit pattern of which sample went where), keyed by
the SM state at its start. The next time the same state starts a segment it is
replayed: the parts get the waveform's meaning from their own decoder once
(`summary`), then a few events per frame (begin / data / end, the pushes at their
cycles, DMA serviced after each). Segments that branch on input data, pull, out, use
IRQs or stall on a FIFO are never replayed. `fast=False` runs every cycle.
`stats` counts cycles run one by one and replayed.

GPIO (`Gpio`): per pin the function (SIO through the fake machine.Pin, PIO0 through
StateMachine init, SPI through the fake machine.SPI), the drivers' levels and the
watchers (parts) called on every change.
"""

import array

from rp2040_adc_model import US, BusError, FakeMachine, FakeRp2

SYS_HZ = 125000000
SYS_PER_US = SYS_HZ // 1000000          # 125
PIO0_BASE = 0x50200000
DREQ_PIO0_TX0 = 0
DREQ_PIO0_RX0 = 4


# == assembler ==========================================================================
class PIO:
    IN_LOW = 0
    IN_HIGH = 1
    OUT_LOW = 2
    OUT_HIGH = 3
    SHIFT_LEFT = 0
    SHIFT_RIGHT = 1
    JOIN_NONE = 0
    JOIN_TX = 1
    JOIN_RX = 2
    IRQ_SM0 = 0x100


class PIOASMError(Exception):
    pass


_WAIT_PIN = 6           # the "pin" token (also JMP's PIN condition)


class _Emitter:
    def __init__(self, out_init=None, set_init=None, sideset_init=None, side_pindir=False,
                 in_shiftdir=0, out_shiftdir=0, autopush=False, autopull=False,
                 push_thresh=32, pull_thresh=32, fifo_join=0):
        self.labels = {}
        shiftctrl = ((fifo_join << 30) | ((pull_thresh & 31) << 25) | ((push_thresh & 31) << 20)
                     | (out_shiftdir << 19) | (in_shiftdir << 18) | (int(autopull) << 17)
                     | (int(autopush) << 16))
        self.prog = [array.array("H"), -1, -1, int(side_pindir) << 29, shiftctrl, out_init,
                     set_init, sideset_init]
        if sideset_init is None:
            self.ss = 0
        elif isinstance(sideset_init, int):
            self.ss = 1
        else:
            self.ss = len(sideset_init)
        self.wrapped = False
        self.n = 0
        self.nside = 0
        self.pass_ = 0

    def begin(self, pass_):
        if pass_ == 1:
            if not self.wrapped and self.n:
                self.wrap()
            self.opt = 0
            self.delay_max = 31
            if self.ss:
                self.opt = int(self.nside != self.n)
                if self.opt:
                    self.prog[3] |= 1 << 30
                    self.ss += 1
                self.delay_max >>= self.ss
        self.pass_ = pass_
        self.n = 0
        self.nside = 0

    # directives
    def wrap_target(self):
        self.prog[3] |= self.n << 7

    def wrap(self):
        if not self.n:
            raise PIOASMError("wrap before any instruction")
        self.prog[3] |= (self.n - 1) << 12
        self.wrapped = True

    def label(self, name):
        if self.pass_ == 0:
            if name in self.labels:
                raise PIOASMError("duplicate label %s" % name)
            self.labels[name] = self.n

    # modifiers
    def __getitem__(self, d):
        if self.pass_:
            if not 0 <= d <= self.delay_max:
                raise PIOASMError("delay too large")
            self.prog[0][-1] |= d << 8
        return self

    def side(self, v):
        self.nside += 1
        if self.pass_:
            if not self.ss:
                raise PIOASMError("no sideset")
            if v >= 1 << (self.ss - self.opt):
                raise PIOASMError("sideset too large")
            self.prog[0][-1] |= (self.opt << 12) | (v << (13 - self.ss))
        return self

    # instructions
    def _w(self, op, target=None):
        self.n += 1
        if self.pass_:
            if target is not None:
                if target not in self.labels:
                    raise PIOASMError("unknown label %s" % target)
                op |= self.labels[target]
            self.prog[0].append(op)
        return self

    def word(self, op, label=None):
        return self._w(op, label)

    def nop(self):
        return self._w(0xA042)

    def jmp(self, cond, label=None):
        if label is None:
            cond, label = 0, cond
        return self._w((cond & 7) << 5, label)

    def wait(self, polarity, src, index):
        s = 0 if src == 0 else 1 if src == _WAIT_PIN else 2
        return self._w(0x2000 | (polarity << 7) | (s << 5) | index)

    def in_(self, src, n):
        if not 0 < n <= 32:
            raise PIOASMError("invalid bit count %d" % n)
        return self._w(0x4000 | (src << 5) | (n & 31))

    def out(self, dest, n):
        if not 0 < n <= 32:
            raise PIOASMError("invalid bit count %d" % n)
        return self._w(0x6000 | ((7 if dest == 8 else dest) << 5) | (n & 31))

    def push(self, a=0, b=0):
        v = a | b
        if not v & 1:
            v |= 0x20
        return self._w(0x8000 | (v & 0x60))

    def pull(self, a=0, b=0):
        v = a | b
        if not v & 1:
            v |= 0x20
        return self._w(0x8080 | (v & 0x60))

    def mov(self, dest, src):
        return self._w(0xA000 | ((4 if dest == 8 else dest) << 5) | src)

    def irq(self, mod, index=None):
        if index is None:
            mod, index = 0, mod
        return self._w(0xC000 | (mod & 0x60) | index)

    def set(self, dest, data):
        return self._w(0xE000 | (dest << 5) | data)


_TOKENS = {"gpio": 0, "pins": 0, "x": 1, "y": 2, "null": 3, "pindirs": 4, "pc": 5,
           "status": 5, "isr": 6, "osr": 7, "exec": 8, "invert": lambda s: s | 0x08,
           "reverse": lambda s: s | 0x10, "not_x": 1, "x_dec": 2, "not_y": 3, "y_dec": 4,
           "x_not_y": 5, "pin": _WAIT_PIN, "not_osre": 7, "noblock": 0x01, "block": 0x21,
           "iffull": 0x40, "ifempty": 0x40, "clear": 0x40, "rel": lambda i: i | 0x10}
_DIRECTIVES = ("wrap_target", "wrap", "label")
_INSTRUCTIONS = ("word", "nop", "jmp", "wait", "in_", "out", "push", "pull", "mov", "irq", "set")


def asm_pio(**kw):
    """The fake rp2.asm_pio (see module doc)."""
    em = _Emitter(**kw)

    def dec(f):
        gl = f.__globals__
        saved = dict(gl)
        gl.clear()
        try:
            gl.update(_TOKENS)
            for name in _DIRECTIVES + _INSTRUCTIONS:
                gl[name] = getattr(em, name)
            em.begin(0)
            f()
            em.begin(1)
            f()
        finally:
            gl.clear()
            gl.update(saved)
        return em.prog
    return dec


def asm_pio_encode(text, sideset_count, sideset_opt=False):
    """One instruction from text (rp2.asm_pio_encode)."""
    em = _Emitter()
    em.ss = sideset_count
    em.opt = int(bool(sideset_opt))
    em.delay_max = 31 >> (sideset_count + em.opt)
    em.pass_ = 1
    gl = dict(_TOKENS)
    for name in _INSTRUCTIONS:
        gl[name] = getattr(em, name)
    gl["jmp"] = None
    exec(text, gl)
    if len(em.prog[0]) != 1:
        raise PIOASMError("expecting exactly 1 instruction")
    return em.prog[0][0]


# == the PIO block ======================================================================
def _bitrev(v):
    return int("{:032b}".format(v & 0xFFFFFFFF)[::-1], 2)


class Trace:
    """A recorded segment (see module doc)."""

    def __init__(self, key, k0):
        self.key = key
        self.k0 = k0
        self.changes = []           # (cycle, pin, level)
        self.samples = []           # (cycle, pin)
        self.pushes = []            # (cycle, const, [(pos, sample index)])
        self.ok = True
        self.end = None             # (cycle, state) where it stalls on the next WAIT
        self.plans = {}


class Sm:
    def __init__(self, pio, n):
        self.pio = pio
        self.n = n
        self.clkdiv = 1 << 16
        self.d = 256
        self.execctrl = 0x1F << 12
        self.shiftctrl = 0x000C0000
        self.pinctrl = 5 << 26
        self.rxf = []
        self.txf = []
        self.enabled = False
        self.restart()
        self.t0 = 0
        self.k = 0
        self.wake = None
        self.rec = None
        self.replay = None

    def restart(self):
        self.pc = 0
        self.x = 0
        self.y = 0
        self.isr = 0
        self.isr_cnt = 0
        self.osr = 0
        self.osr_cnt = 32
        self.delay = 0
        self.stalled = False
        self.waiting = False        # stalled on a WAIT of a GPIO (woken by a change)
        self.pending = None         # an instruction written to SMx_INSTR
        self.isr_sym = [0] * 32

    def div(self):
        i = self.clkdiv >> 16
        return ((i or 65536) << 8) | ((self.clkdiv >> 8) & 0xFF)

    def time_of(self, k):
        return self.t0 + (k * self.d >> 8)

    def depth(self, rx):
        join = self.shiftctrl >> 30
        if rx:
            return 8 if join & 2 else 0 if join & 1 else 4
        return 8 if join & 1 else 0 if join & 2 else 4


class Pio:
    """PIO0's registers and its 4 state machines."""

    def __init__(self, hub):
        self.hub = hub
        self.mem = [0] * 32
        self.sm = [Sm(self, n) for n in range(4)]
        self.fdebug = 0
        self.irq = 0
        self.out = [0] * 32
        self.oe = [0] * 32
        self.writes = []            # (sys time, offset, value) every bus write (tests)

    # -- registers -------------------------------------------------------------------
    def read(self, off):
        if off == 0x000:
            return sum(1 << s.n for s in self.sm if s.enabled)
        if off == 0x004:
            v = 0
            for s in self.sm:
                n = s.n
                v |= (len(s.rxf) >= s.depth(True)) << n | (not s.rxf) << (8 + n)
                v |= (len(s.txf) >= s.depth(False)) << (16 + n) | (not s.txf) << (24 + n)
            return v
        if off == 0x008:
            return self.fdebug
        if off == 0x00C:
            return sum((len(s.txf) | len(s.rxf) << 4) << (8 * s.n) for s in self.sm)
        if 0x010 <= off < 0x020:
            return 0
        if 0x020 <= off < 0x030:
            s = self.sm[(off - 0x20) // 4]
            if not s.rxf:
                self.fdebug |= 1 << (8 + s.n)
                return 0
            v = s.rxf.pop(0)
            self.hub.fifo_moved(s)
            return v
        if off == 0x030:
            return self.irq
        if 0x038 <= off < 0x048:
            return 0
        if 0x048 <= off < 0x0C8:
            return 0            # INSTR_MEM is write-only
        if 0x0C8 <= off < 0x128:
            s = self.sm[(off - 0xC8) // 0x18]
            r = (off - 0xC8) % 0x18
            return (s.clkdiv, s.execctrl | (s.stalled << 31), s.shiftctrl, s.pc,
                    self.mem[s.pc], s.pinctrl)[r // 4]
        if 0x128 <= off < 0x144:
            return 0
        raise BusError("PIO0: no register at +0x%x" % off)

    def write(self, off, v):
        self.writes.append((self.hub.t, off, v))
        if off == 0x000:
            for s in self.sm:
                if v >> (4 + s.n) & 1:
                    s.restart()
                if v >> (8 + s.n) & 1:
                    s.k = 0
                    s.t0 = self.hub.t
                en = bool(v >> s.n & 1)
                if en and not s.enabled:
                    s.k = 0
                    s.t0 = self.hub.t + 1
                s.enabled = en
                self.hub.schedule(s)
        elif 0x010 <= off < 0x020:
            s = self.sm[(off - 0x10) // 4]
            if len(s.txf) >= s.depth(False):
                self.fdebug |= 1 << (16 + s.n)
            else:
                s.txf.append(v & 0xFFFFFFFF)
            self.hub.fifo_moved(s)
        elif 0x020 <= off < 0x030:
            pass
        elif off == 0x008:
            self.fdebug &= ~v
        elif off == 0x030:
            self.irq &= ~v
        elif off == 0x034:
            self.irq |= v & 0xFF
        elif 0x038 <= off < 0x048:
            pass
        elif 0x048 <= off < 0x0C8:
            self.mem[(off - 0x48) // 4] = v & 0xFFFF
            self.hub.version += 1
        elif 0x0C8 <= off < 0x128:
            s = self.sm[(off - 0xC8) // 0x18]
            r = (off - 0xC8) % 0x18
            self.hub.version += 1
            if r == 0:
                s.clkdiv = v & 0xFFFFFF00
                s.d = s.div()
            elif r == 4:
                s.execctrl = v & 0x7FFFFFFF
            elif r == 8:
                old = s.shiftctrl
                s.shiftctrl = v & 0xFFFF0000
                if (old ^ v) >> 30:
                    s.rxf = []
                    s.txf = []
            elif r == 0x10:
                s.pending = v & 0xFFFF
                self.hub.schedule(s)
            elif r == 0x14:
                s.pinctrl = v
        elif 0x128 <= off < 0x144:
            pass
        else:
            raise BusError("PIO0: no register at +0x%x" % off)

    def dreq_rx(self, n):
        return bool(self.sm[n].rxf)

    def dreq_tx(self, n):
        s = self.sm[n]
        return len(s.txf) < s.depth(False)


class Hub:
    """PIO0 + GPIO + external parts as one device of the Rp2040 model (module doc)."""

    def __init__(self, chip, parts=(), fast=True):
        self.chip = chip
        self.t = 0
        self.version = 0
        self.fast = fast
        self.gpio = Gpio(self)
        self.pio = Pio(self)
        self.parts = list(parts)
        self.traces = {}
        self.failed = {}
        self.used = [False] * 32
        self.stats = {"cycles": 0, "replays": 0, "recorded": 0}
        chip.devices.append(self)
        chip.mmio.append((PIO0_BASE, PIO0_BASE + 0x4000, self))
        for n in range(4):
            chip.dreqs[DREQ_PIO0_RX0 + n] = (lambda n=n: self.pio.dreq_rx(n))
            chip.dreqs[DREQ_PIO0_TX0 + n] = (lambda n=n: self.pio.dreq_tx(n))
        for p in self.parts:
            p.attach(self.gpio)

    # -- bus (with the atomic aliases) ------------------------------------------------
    def reg_read(self, a):
        self.sync()
        return self.pio.read(a & 0xFFF)

    def reg_write(self, a, v):
        self.sync()
        off = a & 0xFFF
        alias = (a - PIO0_BASE) >> 12
        if alias:
            old = self.pio.read(off) if not 0x010 <= off < 0x030 else 0
            v = (old ^ v, old | v, old & ~v)[alias - 1]
        self.pio.write(off, v & 0xFFFFFFFF)

    def sync(self):
        """The CPU's time (chip.cycle) as sys time."""
        t = -(-self.chip.cycle * SYS_PER_US // US)
        if t > self.t:
            self.t = t

    # -- time ---------------------------------------------------------------------------
    def _next(self):
        best = None
        who = None
        for s in self.pio.sm:
            if s.enabled and s.wake is not None and (best is None or s.wake < best):
                best, who = s.wake, s
        for p in self.parts:
            e = p.next_event()
            if e is not None and (best is None or e < best):
                best, who = e, p
        return best, who

    def next_event(self):
        best, _who = self._next()
        if best is None:
            return None
        c = best * US // SYS_PER_US
        return c if c > self.chip.cycle else self.chip.cycle

    def process(self, c, bound=None):
        """Events up to cycle `bound` (default c) of clk_adc (48 MHz)."""
        if bound is not None and bound > c:
            c = bound
        while True:
            best, who = self._next()
            if best is None or best * US // SYS_PER_US > c:
                return
            self._at(best)
            if isinstance(who, Sm):
                if who.replay is not None:
                    self._run_replay(who, c)
                else:
                    self.step(who)
            else:
                who.process(self.t)

    def _run_replay(self, s, c):
        """Replay events of s up to the next event of anything else (or cycle c)."""
        other = None
        for o in self.pio.sm:
            if o is not s and o.enabled and o.wake is not None:
                if other is None or o.wake < other:
                    other = o.wake
        for p in self.parts:
            e = p.next_event()
            if e is not None and (other is None or e < other):
                other = e
        end = (c + 1) * SYS_PER_US // US
        if other is not None and other < end:
            end = other
        while True:                     # at least one event: progress on ties
            self._at(s.wake)
            self._replay_event(s)
            if s.replay is None or s.wake >= end:
                return

    def _at(self, t):
        """Time moves to sys cycle t (the chip's clk_adc cycle with it)."""
        if t > self.t:
            self.t = t
            cy = t * US // SYS_PER_US
            if cy > self.chip.cycle:
                self.chip.cycle = cy

    def schedule(self, s):
        if not s.enabled:
            s.wake = None
            return
        if s.replay is not None:
            return
        k = -(-(self.t - s.t0) * 256 // s.d)       # the first cycle at or after now
        if k > s.k:
            s.k = k
        s.wake = s.time_of(s.k)
        s.waiting = False

    def fifo_moved(self, s):
        """A FIFO changed from outside (DMA / CPU): a stalled SM retries next cycle."""
        if s.stalled and not s.waiting and s.replay is None and s.enabled:
            self.schedule(s)

    def gpio_changed(self, pin, t):
        for s in self.pio.sm:
            if s.enabled and s.waiting and s.replay is None:
                self.schedule(s)

    # -- execution ------------------------------------------------------------------------
    def step(self, s):
        """SM s at its cycle s.k (time s.wake): one cycle, or the next replay event."""
        if s.replay is not None:
            self._replay_event(s)
            return
        pio = self.pio
        self.stats["cycles"] += 1
        if s.delay:
            s.delay -= 1
            self._advance(s)
            return
        if s.pending is not None:
            op = s.pending
            from_mem = False
        else:
            op = pio.mem[s.pc]
            from_mem = True
        if self.fast and from_mem and s.rec is None and s.stalled and op >> 13 == 1:
            if self._wait_ok(s, op) and self._segment_start(s):
                return
        self.execute(s, op, from_mem)

    def _advance(self, s):
        s.k += 1
        s.wake = s.time_of(s.k)

    def _wait_ok(self, s, op):
        pol = op >> 7 & 1
        src = op >> 5 & 3
        idx = op & 31
        if src == 0:
            return self.gpio.level(idx) == pol
        if src == 1:
            return self.gpio.level((((s.pinctrl >> 15) & 31) + idx) & 31) == pol
        if src == 2:
            n = self._irq_index(s, idx)
            return bool(self.pio.irq >> n & 1) == bool(pol)
        return False

    def _irq_index(self, s, idx):
        if idx & 0x10:
            return (idx & 0x4) | ((idx + s.n) & 3)
        return idx & 7

    def _pins_in(self, s, n, rec):
        base = (s.pinctrl >> 15) & 31
        v = 0
        syms = []
        for i in range(n):
            pin = (base + i) & 31
            v |= self.gpio.sample(pin, self.t) << i
            if rec is not None:
                syms.append(("s", len(rec.samples)))
                rec.samples.append((s.k - rec.k0, pin))
        return v, syms

    def _drive(self, s, kind, base, count, value):
        """OUT/SET/side-set: pins (kind 0) or pindirs (kind 1) base..base+count-1."""
        for i in range(count):
            pin = (base + i) & 31
            b = (value >> i) & 1
            if kind:
                if self.pio.oe[pin] != b:
                    self.pio.oe[pin] = b
                    self._pin_changed(s, pin)
            elif self.pio.out[pin] != b:
                self.pio.out[pin] = b
                self._pin_changed(s, pin)

    def _pin_changed(self, s, pin):
        rec = s.rec
        if rec is not None:
            rec.changes.append((s.k - rec.k0, pin, self.gpio.pio_level(pin)))
        self.gpio.update(pin)

    def execute(self, s, op, from_mem):
        pio = self.pio
        rec = s.rec
        ss_n = s.pinctrl >> 29
        opt = s.execctrl >> 30 & 1
        field = op >> 8 & 31
        side = None
        if ss_n:
            sv = field >> (5 - ss_n)
            if opt:
                if sv >> (ss_n - 1):
                    side = sv & ((1 << (ss_n - 1)) - 1)
                nside = ss_n - 1
            else:
                side = sv
                nside = ss_n
        delay = field & ((1 << (5 - ss_n)) - 1)
        kind = op >> 13
        a = op >> 5 & 7
        b = op & 31
        done = True
        jump = None
        outs = None                 # (pindirs?, base, count, value) from OUT/SET/MOV
        shift = s.shiftctrl
        # -- inputs first ------------------------------------------------------------
        if kind == 0:                                   # JMP
            cond = a
            if cond == 0:
                take = True
            elif cond == 1:
                take = s.x == 0
            elif cond == 2:
                take = s.x != 0
                s.x = (s.x - 1) & 0xFFFFFFFF
            elif cond == 3:
                take = s.y == 0
            elif cond == 4:
                take = s.y != 0
                s.y = (s.y - 1) & 0xFFFFFFFF
            elif cond == 5:
                take = s.x != s.y
            elif cond == 6:
                take = bool(self.gpio.level((s.execctrl >> 24) & 31))
                if rec is not None:
                    rec.ok = False
            else:
                take = s.osr_cnt < ((shift >> 25) & 31 or 32)
            if take:
                jump = b
        elif kind == 1:                                 # WAIT
            if self._wait_ok(s, op):
                if a & 3 == 2 and op >> 7 & 1:
                    pio.irq &= ~(1 << self._irq_index(s, b))
                if rec is not None and s.stalled is False and (a & 3) != 2:
                    rec.ok = False      # a WAIT met at once inside a segment: input data
                if rec is not None and (a & 3) == 2:
                    rec.ok = False
            else:
                done = False
                if (a & 3) != 2:
                    s.waiting = True
        elif kind == 2:                                 # IN
            n = b or 32
            src = a
            syms = None
            if src == 0:
                v, syms = self._pins_in(s, n, rec)
            elif src in (1, 2):
                v = s.x if src == 1 else s.y
            elif src == 3:
                v = 0
            elif src == 6:
                v = s.isr
            elif src == 7:
                v = s.osr
            else:
                v = 0
            if rec is not None and src in (6, 7):
                rec.ok = False
            thresh = (shift >> 20) & 31 or 32
            autopush = shift >> 16 & 1 and min(32, s.isr_cnt + n) >= thresh
            if autopush and len(s.rxf) >= s.depth(True):
                done = False                            # stalls until the push fits
                pio.fdebug |= 1 << s.n
                if rec is not None:
                    rec.ok = False
            if done:
                m = (1 << n) - 1 if n < 32 else 0xFFFFFFFF
                v &= m
                if syms is None:
                    syms = [(v >> i) & 1 for i in range(n)]
                if shift >> 18 & 1:                     # right: new bits at the top
                    s.isr = ((s.isr >> n) | (v << (32 - n))) & 0xFFFFFFFF if n < 32 else v
                    s.isr_sym = (s.isr_sym[n:] + syms)[:32] if n < 32 else list(syms)
                else:
                    s.isr = ((s.isr << n) | v) & 0xFFFFFFFF if n < 32 else v
                    s.isr_sym = (list(syms) + s.isr_sym)[:32] if n < 32 else list(syms)
                s.isr_cnt = min(32, s.isr_cnt + n)
                if autopush:
                    self._push(s)
        elif kind == 3:                                 # OUT
            if rec is not None:
                rec.ok = False
            n = b or 32
            thresh = (shift >> 25) & 31 or 32
            if shift >> 17 & 1 and s.osr_cnt >= thresh:
                done = self._pull(s)
            if done:
                if shift >> 19 & 1:
                    v = s.osr & ((1 << n) - 1) if n < 32 else s.osr
                    s.osr = (s.osr >> n) if n < 32 else 0
                else:
                    v = (s.osr >> (32 - n)) if n < 32 else s.osr
                    s.osr = (s.osr << n) & 0xFFFFFFFF if n < 32 else 0
                s.osr_cnt = min(32, s.osr_cnt + n)
                dest = a
                if dest == 0:
                    outs = (0, s.pinctrl & 31, (s.pinctrl >> 20) & 63, v)
                elif dest == 1:
                    s.x = v
                elif dest == 2:
                    s.y = v
                elif dest == 4:
                    outs = (1, s.pinctrl & 31, (s.pinctrl >> 20) & 63, v)
                elif dest == 5:
                    jump = v & 31
                elif dest == 6:
                    s.isr = v
                    s.isr_cnt = n
                elif dest == 7:
                    self.chip.errors.append("PIO: OUT EXEC not modelled")
        elif kind == 4:                                 # PUSH / PULL
            if rec is not None and op & 0x80:
                rec.ok = False
            if op & 0x80:
                thresh = (shift >> 25) & 31 or 32
                if op & 0x40 and s.osr_cnt < thresh:
                    pass
                elif s.txf:
                    s.osr = s.txf.pop(0)
                    s.osr_cnt = 0
                    self.chip.dma.service()
                elif op & 0x20:
                    done = False
                    pio.fdebug |= 1 << (24 + s.n)
                else:
                    s.osr = s.x
                    s.osr_cnt = 0
            else:
                thresh = (shift >> 20) & 31 or 32
                if op & 0x40 and s.isr_cnt < thresh:
                    pass
                elif len(s.rxf) < s.depth(True):
                    self._push(s)
                elif op & 0x20:
                    done = False
                    pio.fdebug |= 1 << s.n
                    if rec is not None:
                        rec.ok = False
                else:
                    s.isr = 0
                    s.isr_cnt = 0
                    s.isr_sym = [0] * 32
        elif kind == 5:                                 # MOV
            src = b & 7
            opn = b >> 3 & 3
            if src == 0:
                base = (s.pinctrl >> 15) & 31
                v = sum(self.gpio.level((base + i) & 31) << i for i in range(32))
                if rec is not None:
                    rec.ok = False
            elif src == 1:
                v = s.x
            elif src == 2:
                v = s.y
            elif src == 3:
                v = 0
            elif src == 5:
                if rec is not None:
                    rec.ok = False
                lvl = len(s.rxf) if s.execctrl >> 4 & 1 else len(s.txf)
                v = 0xFFFFFFFF if lvl < (s.execctrl & 15) else 0
            elif src == 6:
                v = s.isr
            elif src == 7:
                v = s.osr
            else:
                v = 0
            if rec is not None and src in (6, 7):
                rec.ok = False
            if opn == 1:
                v = ~v & 0xFFFFFFFF
            elif opn == 2:
                v = _bitrev(v)
            dest = a
            if dest == 0:
                outs = (0, s.pinctrl & 31, (s.pinctrl >> 20) & 63, v)
            elif dest == 1:
                s.x = v
            elif dest == 2:
                s.y = v
            elif dest == 4:
                self.chip.errors.append("PIO: MOV EXEC not modelled")
            elif dest == 5:
                jump = v & 31
            elif dest == 6:
                s.isr = v
                s.isr_cnt = 0
                s.isr_sym = [(v >> i) & 1 for i in range(32)]
            elif dest == 7:
                s.osr = v
                s.osr_cnt = 0
        elif kind == 6:                                 # IRQ
            if rec is not None:
                rec.ok = False
            n = self._irq_index(s, b)
            if op & 0x40:
                pio.irq &= ~(1 << n)
            elif op & 0x20 and s.stalled:
                done = not pio.irq >> n & 1
            else:
                pio.irq |= 1 << n
                done = not op & 0x20
        else:                                           # SET
            if a == 0:
                outs = (0, (s.pinctrl >> 5) & 31, (s.pinctrl >> 26) & 7, b)
            elif a == 1:
                s.x = b
            elif a == 2:
                s.y = b
            elif a == 4:
                outs = (1, (s.pinctrl >> 5) & 31, (s.pinctrl >> 26) & 7, b)
        # -- outputs: the instruction's, then side-set (which wins on a shared pin) ------
        if outs is not None and done:
            self._drive(s, *outs)
        if side is not None:
            self._drive(s, s.execctrl >> 29 & 1, (s.pinctrl >> 10) & 31, nside, side)
        s.stalled = not done
        if s.waiting and rec is not None:
            self._finish(s)
        if done:
            if not from_mem:
                s.pending = None
            if jump is not None:
                s.pc = jump
            elif from_mem:
                top = (s.execctrl >> 12) & 31
                s.pc = (s.execctrl >> 7) & 31 if s.pc == top else (s.pc + 1) & 31
            s.delay = delay
        if s.waiting and not done:
            s.wake = None
            s.k += 1
            return
        self._advance(s)

    def _push(self, s):
        s.rxf.append(s.isr)
        rec = s.rec
        if rec is not None:
            const = 0
            bits = []
            for pos, sym in enumerate(s.isr_sym):
                if isinstance(sym, tuple):
                    bits.append((pos, sym[1]))
                elif sym:
                    const |= 1 << pos
            rec.pushes.append((s.k - rec.k0, const, bits))
        s.isr = 0
        s.isr_cnt = 0
        s.isr_sym = [0] * 32
        self.chip.dma.service()

    def _pull(self, s):
        if not s.txf:
            self.pio.fdebug |= 1 << (24 + s.n)
            return False
        s.osr = s.txf.pop(0)
        s.osr_cnt = 0
        self.chip.dma.service()
        return True

    # -- record / replay ---------------------------------------------------------------------
    def _state(self, s):
        return (s.pc, s.x, s.y, s.isr, s.isr_cnt, s.osr, s.osr_cnt, tuple(s.isr_sym))

    def _segment_start(self, s):
        """A stalled WAIT is met at cycle s.k: replay a known segment (True) or record."""
        key = (self.version, s.n, self._state(s), tuple(self.pio.out), tuple(self.pio.oe),
               (s.k * s.div()) & 0xFF)
        tr = self.traces.get(key)
        if tr is not None and self._start_replay(s, tr):
            return True
        if self.failed.get(key, 0) >= 3:
            return False
        s.rec = Trace(key, s.k)
        return False

    def _finish(self, s):
        rec = s.rec
        s.rec = None
        rec.end = (s.k - rec.k0, self._state(s), tuple(self.pio.out), tuple(self.pio.oe))
        if rec.ok:
            self.traces[rec.key] = rec
            self.stats["recorded"] += 1
        else:
            self.failed[rec.key] = self.failed.get(rec.key, 0) + 1

    def _start_replay(self, s, tr):
        if self.chip.dma.hold or len(tr.pushes) > s.depth(True) - len(s.rxf) + 64:
            return False
        ev = []
        plans = []
        for p in self.parts:
            if not hasattr(p, "summary"):
                continue
            div = s.div()
            plan = p.summary(tr, tr.changes, tr.samples,
                             lambda c, div=div: (c * div >> 8) * 1e9 / SYS_HZ)
            if plan is not None:
                plans.append((p, plan))
                for kind in ("begin", "data", "end"):
                    if plan[kind] is not None:
                        ev.append((plan[kind], 0, kind, p, plan))
        for i, push in enumerate(tr.pushes):
            ev.append((push[0], 1, "push", i, None))
        ev.sort(key=lambda e: (e[0], e[1]))
        ev.append((tr.end[0], 2, "end_seg", None, None))
        ck = tuple(id(pl) for _p, pl in plans)
        if ck not in tr.plans:
            tr.plans[ck] = self._compile(tr, plans)
        s.replay = [tr, ev, 0, plans, s.k, tr.plans[ck]]
        self.stats["replays"] += 1
        s.wake = s.time_of(s.k + ev[0][0])
        return True

    def _compile(self, tr, plans):
        """Per push: (const, [(pos, part, first bit, count)] runs, [(pos, pin)] others):
        a run takes count consecutive output bits of a part, MSB first, down from pos."""
        out = []
        src = {}
        for p, plan in plans:
            for j, b in enumerate(plan["bits"]):
                if b is not None and tr.samples[j][1] == p.pins.get("dout"):
                    src[j] = (p, b)
        for _c, const, bits in tr.pushes:
            runs = []
            others = []
            for pos, j in sorted(bits, reverse=True):
                if j in src:
                    p, b = src[j]
                    r = runs[-1] if runs else None
                    if r and r[1] is p and r[2] + r[3] == b and r[0] - r[3] == pos:
                        runs[-1] = (r[0], p, r[2], r[3] + 1)
                    else:
                        runs.append((pos, p, b, 1))
                else:
                    others.append((pos, tr.samples[j][1]))
            out.append((const, runs, others))
        return out

    def _replay_event(self, s):
        tr, ev, i, plans, k0, _compiled = s.replay
        c, _o, kind, a, plan = ev[i]
        if kind == "push":
            const, runs, others = s.replay[5][a]
            v = const
            for pos, p, b, n in runs:
                sh = p.out_bits - b - n
                w = (p.out >> sh if sh >= 0 else p.out << -sh) & ((1 << n) - 1)
                v |= w << (pos - n + 1)
            for pos, pin in others:
                if self.gpio.level(pin):
                    v |= 1 << pos
            if len(s.rxf) >= s.depth(True):
                self.chip.dma.service()     # the DMA moves a replay's words in batches
            if len(s.rxf) >= s.depth(True):
                self.chip.errors.append("PIO model: RX FIFO full during a replayed segment")
            else:
                s.rxf.append(v)
        elif kind == "end_seg":
            _n, st, out, oe = tr.end
            (s.pc, s.x, s.y, s.isr, s.isr_cnt, s.osr, s.osr_cnt, sym) = st
            s.isr_sym = list(sym)
            for pin in range(32):
                if self.pio.out[pin] != out[pin] or self.pio.oe[pin] != oe[pin]:
                    self.pio.out[pin] = out[pin]
                    self.pio.oe[pin] = oe[pin]
                    self.gpio.update(pin, quiet=True)
            s.replay = None
            self.chip.dma.service()
            s.k = k0 + c
            s.stalled = True
            s.delay = 0
            self.stats["cycles"] += 0
            # the WAIT is evaluated again at the next cycle (met: a new segment)
            s.k += 1
            s.wake = s.time_of(s.k)
            return
        else:
            a.replay(kind, self.t, plan)
        i += 1
        s.replay[2] = i
        s.wake = s.time_of(k0 + ev[i][0])


class Gpio:
    """The 30 GPIO pins: function, drivers, levels, watchers (see module doc)."""

    def __init__(self, hub):
        self.hub = hub
        self.func = [None] * 32
        self.sio_out = [0] * 32
        self.sio_oe = [0] * 32
        self.ext = {}               # pin -> (level, part)
        self.pull = [None] * 32
        self.cur = [0] * 32
        self.watchers = {}

    def pio_level(self, pin):
        return self.hub.pio.out[pin]

    def level(self, pin):
        f = self.func[pin]
        if f == "pio0" and self.hub.pio.oe[pin]:
            return self.hub.pio.out[pin]
        if f == "sio" and self.sio_oe[pin]:
            return self.sio_out[pin]
        if pin in self.ext:
            return self.ext[pin][0]
        return 1 if self.pull[pin] == "up" else 0

    def sample(self, pin, t):
        """The level an input samples at t (a part may check its timing)."""
        if pin in self.ext and not (self.func[pin] == "pio0" and self.hub.pio.oe[pin]):
            part = self.ext[pin][1]
            if hasattr(part, "sample"):
                return part.sample(pin, t)
        return self.level(pin)

    def watch(self, pin, cb):
        self.watchers.setdefault(pin, []).append(cb)
        self.cur[pin] = self.level(pin)

    def drive(self, pin, level, part):
        self.ext[pin] = (level, part)
        self.update(pin)

    def update(self, pin, quiet=False):
        new = self.level(pin)
        if new != self.cur[pin]:
            self.cur[pin] = new
            if quiet:
                return
            for cb in self.watchers.get(pin, ()):
                cb(new, self.hub.t)
            self.hub.gpio_changed(pin, self.hub.t)


# == fakes of machine.Pin / machine.SPI and rp2.StateMachine ===============================
class FakePin:
    IN = 0
    OUT = 1
    OPEN_DRAIN = 2
    ALT = 3
    PULL_UP = 1
    PULL_DOWN = 2

    def __init__(self, hub, pin_id, mode=-1, pull=-1, value=None, alt=None):
        self.hub = hub
        self.id = pin_id
        self.init(mode, pull, value=value)

    def init(self, mode=-1, pull=-1, value=None, alt=None):
        g = self.hub.gpio
        n = self.id
        self.hub.chip.cpu()
        self.hub.sync()
        if pull != -1:
            g.pull[n] = {None: None, 1: "up", 2: "down"}.get(pull)
        if value is not None:
            g.sio_out[n] = int(bool(value))
        if mode in (self.IN, self.OUT):
            g.func[n] = "sio"
            g.sio_oe[n] = int(mode == self.OUT)
        g.update(n)

    def value(self, *v):
        g = self.hub.gpio
        self.hub.chip.cpu()
        self.hub.sync()
        if v:
            g.sio_out[self.id] = int(bool(v[0]))
            g.update(self.id)
            return None
        return g.level(self.id)

    def __call__(self, *v):
        return self.value(*v)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)


class FakeSPI:
    """machine.SPI (ports/rp2/machine_spi.c) as far as the ADS131M08 needs: transfers
    reach the parts with a spi_transfer method, in simulated time."""

    MSB = 0

    def __init__(self, hub, spi_id, baudrate=1000000, *, polarity=0, phase=0, bits=8,
                 firstbit=0, sck=None, mosi=None, miso=None):
        self.hub = hub
        self.id = spi_id
        self.baud = baudrate
        self.polarity = polarity
        self.phase = phase
        if bits != 8 or firstbit != 0:
            hub.chip.errors.append("machine.SPI: only 8-bit MSB-first transfers modelled")
        self.pins = {"sck": _pin_no(sck), "mosi": _pin_no(mosi), "miso": _pin_no(miso)}
        for k in ("sck", "mosi"):
            hub.gpio.func[self.pins[k]] = "spi"
        hub.gpio.func[self.pins["miso"]] = "spi"
        self.transfers = []

    def write_readinto(self, tx, rx):
        hub = self.hub
        chip = hub.chip
        chip.cpu()
        hub.sync()
        t0 = hub.t
        got = None
        for p in hub.parts:
            if hasattr(p, "spi_transfer"):
                got = p.spi_transfer(t0, bytes(tx), self.polarity, self.phase, self.baud,
                                     self.pins)
        if got is None:
            got = b"\xff" * len(tx)
        rx[:] = got
        self.transfers.append((t0, bytes(tx), bytes(got)))
        dur = len(tx) * 8 * SYS_HZ // self.baud
        chip.run_until(chip.cycle + dur * US // SYS_PER_US + 1)
        hub.sync()

    def write(self, buf):
        self.write_readinto(buf, bytearray(len(buf)))

    def deinit(self):
        pass


def _pin_no(p):
    if p is None:
        return None
    return p if isinstance(p, int) else p.id


class FakeStateMachine:
    """rp2.StateMachine (ports/rp2/rp2_pio.c) for PIO0's state machines 0..3, writing
    the model's registers over the bus as the SDK does."""

    def __init__(self, hub, sm_id, prog=None, freq=-1, **kw):
        if not 0 <= sm_id < 4:
            raise ValueError("model: PIO0 state machines 0..3 only")
        self.hub = hub
        self.id = sm_id
        self.offset = None
        if prog is not None:
            self.init(prog, freq, **kw)

    def _w(self, off, v):
        self.hub.chip.bus.write(PIO0_BASE + off, 4, v & 0xFFFFFFFF)

    def _r(self, off):
        return self.hub.chip.bus.read(PIO0_BASE + off, 4)

    def init(self, prog, freq=-1, *, in_base=None, out_base=None, set_base=None,
             jmp_pin=None, sideset_base=None, in_shiftdir=None, out_shiftdir=None,
             push_thresh=None, pull_thresh=None):
        hub = self.hub
        hub.chip.cpu()
        hub.sync()
        data = prog[0]
        n = len(data)
        used = hub.used
        # pio_add_program: the highest free offset, JMPs relocated
        for off in range(32 - n, -1, -1):
            if not any(used[off + i] for i in range(n)):
                break
        else:
            raise OSError("not enough PIO instruction memory")
        for i in range(n):
            used[off + i] = True
            op = data[i]
            if op >> 13 == 0:
                op = (op & ~31) | ((op + off) & 31)
            self._w(0x48 + 4 * (off + i), op)
        self.offset = off
        sm = 0xC8 + 0x18 * self.id
        div = 1 << 16
        if freq != -1:
            d = SYS_HZ / freq
            if d < 1 or d >= 65536:
                raise ValueError("freq out of range")
            di = int(d)
            div = (di << 16) | (int((d - di) * 256) << 8)
        execctrl = prog[3]
        top = ((execctrl >> 12) & 31) + off
        bottom = ((execctrl >> 7) & 31) + off
        execctrl = (execctrl & ~((31 << 12) | (31 << 7))) | (top << 12) | (bottom << 7)
        if jmp_pin is not None:
            execctrl |= _pin_no(jmp_pin) << 24
        shiftctrl = prog[4]
        for val, bit in ((in_shiftdir, 18), (out_shiftdir, 19)):
            if val is not None:
                shiftctrl = (shiftctrl & ~(1 << bit)) | (val << bit)
        if push_thresh is not None:
            shiftctrl = (shiftctrl & ~(31 << 20)) | ((push_thresh & 31) << 20)
        if pull_thresh is not None:
            shiftctrl = (shiftctrl & ~(31 << 25)) | ((pull_thresh & 31) << 25)
        pinctrl = 0
        inits = []
        for init, base, bl, cl in ((prog[5], out_base, 0, 20), (prog[6], set_base, 5, 26),
                                   (prog[7], sideset_base, 10, None)):
            if init is None:
                continue
            lst = [init] if isinstance(init, int) else list(init)
            if base is None:
                raise ValueError("pin base required for the program's *_init")
            b = _pin_no(base)
            pinctrl |= b << bl
            if cl is not None:
                pinctrl |= len(lst) << cl
            else:
                opt = execctrl >> 30 & 1
                pinctrl |= (len(lst) + opt) << 29
            inits.append((b, lst))
        if in_base is not None:
            pinctrl |= _pin_no(in_base) << 15
        # pio_sm_init: disable, configure, clear FIFOs, restart, clkdiv restart, jump
        en = self._r(0x000) & ~(1 << self.id)
        self._w(0x000, en)
        self._w(sm + 0x00, div)
        self._w(sm + 0x04, execctrl)
        self._w(sm + 0x08, shiftctrl ^ (1 << 30))     # toggling a join clears the FIFOs
        self._w(sm + 0x08, shiftctrl)
        self._w(sm + 0x14, pinctrl)
        self._w(0x000, en | (1 << (4 + self.id)) | (1 << (8 + self.id)))
        # pins: PIO function, initial directions and levels (SET PINDIRS / PINS forced)
        for b, lst in inits:
            for i, mode in enumerate(lst):
                pin = (b + i) & 31
                hub.gpio.func[pin] = "pio0"
                hub.pio.out[pin] = mode & 1
                hub.pio.oe[pin] = mode >> 1 & 1
                hub.gpio.update(pin)
        self._w(sm + 0x10, off)                       # JMP offset
        hub.step_pending(self.id)

    def active(self, *v):
        self.hub.chip.cpu()
        if v:
            en = self._r(0x000)
            en = en | (1 << self.id) if v[0] else en & ~(1 << self.id)
            self._w(0x000, en)
        return bool(self._r(0x000) >> self.id & 1)

    def restart(self):
        self._w(0x000, self._r(0x000) | (1 << (4 + self.id)) | (1 << (8 + self.id)))

    def rx_fifo(self):
        return (self._r(0x00C) >> (8 * self.id + 4)) & 15

    def tx_fifo(self):
        return (self._r(0x00C) >> (8 * self.id)) & 15

    def get(self, buf=None, shift=0):
        while not self.rx_fifo():
            self.hub.chip.cpu()
        return self._r(0x020 + 4 * self.id) >> shift

    def put(self, v, shift=0):
        while self.tx_fifo() >= 4:
            self.hub.chip.cpu()
        self._w(0x010 + 4 * self.id, v << shift)


def _step_pending(hub, n):
    """Execute an instruction written to SMx_INSTR on a disabled SM at once."""
    s = hub.pio.sm[n]
    if s.pending is not None and not s.enabled:
        op = s.pending
        s.pending = None
        if op >> 13 == 0:
            s.pc = op & 31
        else:
            hub.execute(s, op, False)
            s.wake = None


Hub.step_pending = _step_pending


class FakeMachine2(FakeMachine):
    """machine with Pin / SPI on the model's GPIO and freq()."""

    def __init__(self, hub):
        FakeMachine.__init__(self, hub.chip)
        self.hub = hub
        self.Pin = type("Pin", (FakePin,), {"__init__": (
            lambda p, *a, **k: FakePin.__init__(p, hub, *a, **k))})
        self.SPI = lambda *a, **k: FakeSPI(hub, *a, **k)

    def freq(self, *a):
        return SYS_HZ


class FakeRp22(FakeRp2):
    """rp2 with DMA (rp2040_adc_model), asm_pio, PIO and StateMachine."""

    def __init__(self, hub):
        FakeRp2.__init__(self, hub.chip)
        self.asm_pio = asm_pio
        self.asm_pio_encode = asm_pio_encode
        self.PIO = PIO
        self.PIOASMError = PIOASMError
        self.StateMachine = lambda *a, **k: FakeStateMachine(hub, *a, **k)


def fakes(hub):
    """(machine, rp2, uctypes, time) over the hub's chip."""
    from rp2040_adc_model import FakeTime, FakeUctypes

    return FakeMachine2(hub), FakeRp22(hub), FakeUctypes(hub.chip), FakeTime(hub.chip)


# -- a hand-written disassembler (tests print it; independent of the emitter) -------------------
def disassemble(op, sideset_count=0, opt=False):
    kind = op >> 13
    a = op >> 5 & 7
    b = op & 31
    field = op >> 8 & 31
    names = ("jmp", "wait", "in", "out", "push/pull", "mov", "irq", "set")
    txt = "%s a=%d b=%d" % (names[kind], a, b)
    if sideset_count:
        txt += " side=%d" % (field >> (5 - sideset_count))
    txt += " delay=%d" % (field & ((1 << (5 - sideset_count)) - 1))
    return txt

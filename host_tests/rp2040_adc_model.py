"""Register-level model of the RP2040's ADC, DMA and timer, with fakes of machine, rp2 and uctypes.

CPython, tests only. `Rp2040(analog)` is the chip, advanced in simulated time by the
test (`run(seconds)`); its time base is clk_adc (48 MHz cycles). The board code sees it
only through the fakes: `FakeMachine` (mem32/mem16/mem8 on the bus, Pin, ADC),
`FakeRp2` (rp2.DMA: the MicroPython class API of ports/rp2/rp2_dma.c), `FakeUctypes`
(addressof) and `FakeTime` (ticks_us = the timer's low 30 bits). Every CPU access
costs `cpu_cycles` of simulated time (a board's MicroPython access takes microseconds),
so a polling loop sees a conversion finish.

From the RP2040 datasheet (ADC 4.9, DMA 2.5, timer 4.6) and pico-sdk hardware/regs:
ADC (0x4004C000; +0x1000 XOR, +0x2000 SET, +0x3000 CLR write aliases)
    CS    EN 0, TS_EN 1, START_ONCE 2 (self-clearing, ignored while START_MANY),
          START_MANY 3, READY 8 (ro), ERR 9 (ro), ERR_STICKY 10 (w1c), AINSEL 12..14,
          RROBIN 16..20
    FCS   EN 0, SHIFT 1, ERR 2, DREQ_EN 3, EMPTY 8, FULL 9, UNDER 10 (w1c), OVER 11
          (w1c), LEVEL 16..19, THRESH 24..27; DREQ_ADC (36) = DREQ_EN and LEVEL >= THRESH
    FIFO  4 deep, bit 15 = the sample's ERR when FCS.ERR, value >> 4 when SHIFT; a read
          pops (empty: UNDER, 0); a result with the FIFO full is dropped and sets OVER
    DIV   INT 8..23, FRAC 0..7: with START_MANY a conversion starts every 1 + INT +
          FRAC/256 cycles (first-order: start k at floor(k * period)), never closer than
          the 96 cycles of a conversion; 0: back to back. Writing DIV restarts it.
    A conversion samples its input at its start (AINSEL then) and delivers after 96
    cycles; in round robin AINSEL then moves to the next RROBIN input above it
    (cyclic). `analog(ain, t_seconds) -> code` gives the code; every conversion is
    logged (sample cycle, input, code) and `starts` holds the log index at each
    START_MANY rising edge.
DMA (0x50000000): 12 channels of 0x40 bytes (READ_ADDR, WRITE_ADDR, TRANS_COUNT,
    CTRL_TRIG and the AL1..AL3 aliases; triggers at 0x0C, 0x1C, 0x2C, 0x3C: a nonzero
    write starts the channel if EN, reloading the live count from TRANS_COUNT's reload
    value (the written value for the count trigger); a zero write is the null trigger,
    which raises the IRQ of an IRQ_QUIET channel). Addresses are not reloaded. CTRL: EN 0,
    HIGH_PRIORITY 1, DATA_SIZE 2..3, INCR_READ 4, INCR_WRITE 5, RING_SIZE 6..9,
    RING_SEL 10, CHAIN_TO 11..14, TREQ_SEL 15..20, IRQ_QUIET 21, BSWAP 22, SNIFF_EN 23,
    BUSY 24 (ro), WRITE_ERROR 29, READ_ERROR 30 (w1c), AHB_ERROR 31 (ro). Globals: INTR
    0x400, INTE0 0x404, INTF0 0x408, INTS0 0x40C, MULTI_CHAN_TRIGGER 0x430, CHAN_ABORT
    0x444. Paced by TREQ 0x3F (permanent: the whole sequence at once, in zero time) or
    DREQ_ADC; other TREQs are not modelled (an error). Transfers go through the bus:
    a bus error halts the channel with READ/WRITE_ERROR; a misaligned address is an
    error. On completion: IRQ unless IRQ_QUIET, then CHAIN_TO (unless itself).
    `hold` stalls every channel (bus starvation, for tests).
TIMER (0x40054000): TIMERAWL/TIMERAWH (0x28/0x24), TIMELR/TIMEHR: microseconds,
    starting at `t0_us`.
SRAM (0x20000000..0x20042000): objects appear there when their address is first
    taken (uctypes.addressof, or a buffer handed to DMA.config), 16-byte aligned (as the
    GC heap) but deliberately not more; DMA writes land in the Python objects. An
    access to SRAM that no object covers is a "stray" (on silicon: silent corruption).
Not modelled: bus timing and DMA priority (DMA is instantaneous), the DREQ counter
handshake, the sniffer, TS_EN's effect, ring wrap on RP2350, RP2040-E13 (abort).
`errors` and `stray` collect what a correct driver never does; tests assert both empty.

MainsInput: the analog side, from the simulator's converter model: boards/sim/adc.py's
"rp2040" front end (channel scales, real bias, noise) and boards/sim/waveform.py's E11
transfer curve, evaluated at any instant (not per frame), so the round robin's timing
comes from this model, not from the sampler's claims.
"""

import bisect
import math
import random

from boards.sim import adc as sim_adc
from boards.sim import waveform

CLK = 48000000
US = 48                     # clk_adc cycles per timer microsecond
CONV = 96                   # cycles per conversion
ADC_BASE = 0x4004C000
TIMER_BASE = 0x40054000
DMA_BASE = 0x50000000
SRAM_BASE = 0x20000000
SRAM_END = 0x20042000
DREQ_ADC = 36
TREQ_PERMANENT = 0x3F
NCH = 12

# DMA CTRL bit positions
EN, HIGH_PRI, SIZE, INC_R, INC_W, RING_SIZE, RING_SEL = 0, 1, 2, 4, 5, 6, 10
CHAIN, TREQ, QUIET, BSWAP, SNIFF, BUSY, WERR, RERR, AHBERR = 11, 15, 21, 22, 23, 24, 29, 30, 31
CTRL_RW = 0x00FFFFFF        # the stored, writable part (BUSY and errors are separate)


class BusError(Exception):
    pass


class Adc:
    def __init__(self, chip, analog):
        self.chip = chip
        self.analog = analog
        self.err_at = set()         # conversion numbers that report ERR (tests)
        self.log_t = []             # sample cycle of each conversion
        self.log_ain = []
        self.log_code = []
        self.starts = []            # log index at each START_MANY rising edge
        self.writes = []            # (cycle, offset, value) every CPU write (decoded by tests)
        self.reset()

    def reset(self):
        self.cs = 0                 # EN, TS_EN, START_MANY, ERR_STICKY, AINSEL, RROBIN
        self.fcs = 0                # EN, SHIFT, ERR, DREQ_EN, UNDER, OVER, THRESH
        self.div = 0
        self.fifo = []
        self.result = 0
        self.err = 0
        self.inflight = None        # (end cycle, ain, code, err)
        self.next_start = None      # cycle of the next START_MANY conversion
        self.k = 0                  # conversions since the divider (re)started
        self.t_div = 0              # cycle the divider (re)started

    # -- timing --------------------------------------------------------------------
    def _period256(self):
        p = (256 + (self.div >> 8 << 8) + (self.div & 0xFF)) if self.div else CONV * 256
        return max(p, CONV * 256)

    def _restart_divider(self, c):
        self.t_div = c
        self.k = 0
        self.next_start = c if self.cs & 8 and self.cs & 1 else None

    def next_event(self):
        a = self.inflight[0] if self.inflight else None
        b = self.next_start
        if a is None:
            return b
        return a if b is None or a <= b else b

    def process(self, c):
        if self.inflight and self.inflight[0] == c:
            self._complete()
        if self.next_start == c and self.cs & 9 == 9:
            if self.inflight is None:
                self._begin(c)
            self.k += 1
            self.next_start = self.t_div + (self.k * self._period256()) // 256
            if self.inflight and self.next_start < self.inflight[0]:
                self.next_start = self.inflight[0]

    def _begin(self, c):
        ain = (self.cs >> 12) & 7
        n = len(self.log_t)
        code = 0
        if ain <= 4:
            code = int(self.analog(ain, c / CLK)) & 0xFFF
        err = 1 if n in self.err_at else 0
        self.log_t.append(c)
        self.log_ain.append(ain)
        self.log_code.append(code)
        self.inflight = (c + CONV, ain, code, err)

    def _complete(self):
        _end, ain, code, err = self.inflight
        self.inflight = None
        self.result = code
        self.err = err
        if err:
            self.cs |= 1 << 10
        if self.fcs & 1:
            v = code >> 4 if self.fcs & 2 else code
            if err and self.fcs & 4:
                v |= 0x8000
            if len(self.fifo) >= 4:
                self.fcs |= 1 << 11
            else:
                self.fifo.append(v)
        rr = (self.cs >> 16) & 0x1F
        if rr:
            for step in range(1, 6):
                nxt = (ain + step) % 5
                if rr >> nxt & 1:
                    self.cs = (self.cs & ~(7 << 12)) | (nxt << 12)
                    break

    def dreq(self):
        return bool(self.fcs & 8) and len(self.fifo) >= ((self.fcs >> 24) & 0xF)

    # -- registers -----------------------------------------------------------------
    def read(self, off):
        if off == 0x00:
            ready = 1 if self.cs & 1 and self.inflight is None else 0
            return self.cs | (ready << 8) | (self.err << 9)
        if off == 0x04:
            return self.result
        if off == 0x08:
            n = len(self.fifo)
            return (self.fcs | (0x100 if n == 0 else 0) | (0x200 if n == 4 else 0)
                    | (n << 16))
        if off == 0x0C:
            if not self.fifo:
                self.fcs |= 1 << 10
                return 0
            return self.fifo.pop(0)
        if off == 0x10:
            return self.div
        if off in (0x14, 0x18, 0x1C, 0x20):
            return 0
        raise BusError("ADC: no register at +0x%x" % off)

    def write(self, off, v, c):
        self.writes.append((c, off, v))
        if off == 0x00:
            was = self.cs
            sticky = self.cs & (1 << 10) & ~v
            self.cs = (v & 0x1F700B) | sticky
            if v & 4 and not self.cs & 8 and self.cs & 1 and self.inflight is None:
                self._begin(c)
            if self.cs & 9 == 9 and was & 9 != 9:
                self.starts.append(len(self.log_t))
                self._restart_divider(c)
            elif self.cs & 9 != 9:
                self.next_start = None
        elif off == 0x08:
            w1c = v & 0xC00
            self.fcs = (v & 0x0F00000F) | (self.fcs & 0xC00 & ~w1c)
        elif off == 0x10:
            self.div = v & 0xFFFFFF
            self._restart_divider(c)
        elif off in (0x04, 0x0C, 0x14, 0x18, 0x1C, 0x20):
            pass                    # read-only / interrupts not modelled
        else:
            raise BusError("ADC: no register at +0x%x" % off)


class Channel:
    def __init__(self, n):
        self.n = n
        self.read = 0
        self.write = 0
        self.count = 0              # live
        self.reload = 0
        self.ctrl = 0
        self.busy = False
        self.err = 0                # WRITE_ERROR | READ_ERROR bits (29, 30)
        self.transfers = 0

    def field(self, lsb, width):
        return (self.ctrl >> lsb) & ((1 << width) - 1)

    def ctrl_value(self):
        e = self.err
        return self.ctrl | (int(self.busy) << BUSY) | e | ((1 << AHBERR) if e else 0)


class Dma:
    def __init__(self, chip):
        self.chip = chip
        self.ch = [Channel(n) for n in range(NCH)]
        self.intr = 0
        self.inte0 = 0
        self.intf0 = 0
        self.hold = False
        self.handlers = {}          # channel -> callable(), installed by FakeRp2 irq()
        self.triggers = []          # (cycle, channel) every start, for tests

    # -- registers -----------------------------------------------------------------
    def read(self, off):
        if off < 0x40 * NCH:
            c = self.ch[off // 0x40]
            r = off % 0x40
            if r in (0x00, 0x14, 0x28, 0x3C):
                return c.read
            if r in (0x04, 0x18, 0x2C, 0x34):
                return c.write
            if r in (0x08, 0x1C, 0x24, 0x38):
                return c.count
            return c.ctrl_value()
        if off == 0x400:
            return self.intr
        if off == 0x404:
            return self.inte0
        if off == 0x408:
            return self.intf0
        if off == 0x40C:
            return (self.intr | self.intf0) & self.inte0
        if off in (0x430, 0x444):
            return 0
        raise BusError("DMA: no register at +0x%x" % off)

    def write(self, off, v):
        if off < 0x40 * NCH:
            c = self.ch[off // 0x40]
            r = off % 0x40
            trig = r in (0x0C, 0x1C, 0x2C, 0x3C)
            if r in (0x00, 0x14, 0x28, 0x3C):
                c.read = v
            elif r in (0x04, 0x18, 0x2C, 0x34):
                c.write = v
            elif r in (0x08, 0x1C, 0x24, 0x38):
                c.reload = v
            else:
                c.ctrl = v & CTRL_RW
                c.err &= ~(v & ((1 << WERR) | (1 << RERR)))
            if trig:
                if v == 0:
                    if c.field(QUIET, 1):
                        self.raise_irq(c.n)
                else:
                    self.trigger(c.n)
            return
        if off == 0x400 or off == 0x40C:
            self.intr &= ~v
        elif off == 0x404:
            self.inte0 = v & 0xFFF
        elif off == 0x408:
            self.intf0 = v & 0xFFF
        elif off == 0x430:
            for n in range(NCH):
                if v >> n & 1:
                    self.trigger(n)
        elif off == 0x444:
            for n in range(NCH):
                if v >> n & 1:
                    self.ch[n].busy = False
        else:
            raise BusError("DMA: no register at +0x%x" % off)

    # -- engine ----------------------------------------------------------------------
    def trigger(self, n):
        c = self.ch[n]
        if not c.field(EN, 1):
            return
        if c.busy:
            self.chip.errors.append("DMA ch%d triggered while busy" % n)
            return
        self.triggers.append((self.chip.cycle, n))
        c.count = c.reload
        c.busy = True
        if c.count == 0:
            self._complete(c)

    def raise_irq(self, n):
        self.intr |= 1 << n

    def _inc(self, addr, size, ring_bits):
        if ring_bits:
            m = (1 << ring_bits) - 1
            return (addr & ~m) | ((addr + size) & m)
        return (addr + size) & 0xFFFFFFFF

    def _step(self, c):
        size = 1 << c.field(SIZE, 2)
        if size == 8:
            self.chip.errors.append("DMA ch%d: DATA_SIZE 3" % c.n)
            c.busy = False
            return
        bus = self.chip.bus
        rs = c.field(RING_SIZE, 4)
        rsel = c.field(RING_SEL, 1)
        try:
            v = bus.read(c.read, size)
        except BusError as e:
            self._fault(c, RERR, e)
            return
        if c.field(BSWAP, 1) and size > 1:
            v = int.from_bytes(v.to_bytes(size, "little"), "big")
        try:
            bus.write(c.write, size, v)
        except BusError as e:
            self._fault(c, WERR, e)
            return
        c.transfers += 1
        if c.field(INC_R, 1):
            c.read = self._inc(c.read, size, rs if not rsel else 0)
        if c.field(INC_W, 1):
            c.write = self._inc(c.write, size, rs if rsel else 0)
        c.count -= 1
        if c.count == 0:
            self._complete(c)

    def _fault(self, c, bit, e):
        c.err |= 1 << bit
        c.busy = False
        self.raise_irq(c.n)
        self.chip.errors.append("DMA ch%d: %s" % (c.n, e))

    def _complete(self, c):
        c.busy = False
        if not c.field(QUIET, 1):
            self.raise_irq(c.n)
        to = c.field(CHAIN, 4)
        if to != c.n:
            self.trigger(to)

    def service(self):
        """Run every transfer that can run now (DREQ_ADC, permanent), IRQs included."""
        adc = self.chip.adc
        moved = True
        while moved and not self.hold:
            moved = False
            for c in self.ch:
                while c.busy and c.field(EN, 1):
                    t = c.field(TREQ, 6)
                    if t == DREQ_ADC:
                        if not adc.dreq():
                            break
                    elif t in self.chip.dreqs:
                        if not self.chip.dreqs[t]():
                            break
                    elif t != TREQ_PERMANENT:
                        self.chip.errors.append("DMA ch%d: TREQ %d not modelled" % (c.n, t))
                        c.busy = False
                        break
                    self._step(c)
                    moved = True
            self._irqs()

    def _irqs(self):
        pend = (self.intr | self.intf0) & self.inte0
        n = 0
        while pend:
            if pend & 1 and n in self.handlers:
                self.intr &= ~(1 << n)      # rp2_dma_irq_handler acknowledges, then calls
                self.handlers[n]()
            pend >>= 1
            n += 1


class Bus:
    """Addresses -> ADC, timer, DMA registers and the SRAM objects (see module doc)."""

    def __init__(self, chip):
        self.chip = chip
        self.starts = []            # sorted SRAM object starts
        self.objs = {}              # start -> (end, memoryview of bytes, obj)
        self.addr_of = {}           # id(obj) -> start
        self.cursor = SRAM_BASE + 0x1010

    def addressof(self, obj):
        k = id(obj)
        if k in self.addr_of:
            return self.addr_of[k]
        mv = memoryview(obj).cast("B")
        a = self.cursor
        self.cursor = (a + len(mv) + 16 + 15) // 16 * 16 + 16    # a header, 16-aligned
        if self.cursor > SRAM_END:
            raise MemoryError("model SRAM full")
        self.addr_of[k] = a
        bisect.insort(self.starts, a)
        self.objs[a] = (a + len(mv), mv, obj)
        return a

    def _sram(self, addr, size):
        i = bisect.bisect_right(self.starts, addr) - 1
        if i >= 0:
            a = self.starts[i]
            end, mv, _ = self.objs[a]
            if addr + size <= end:
                return mv, addr - a
        self.chip.stray.append(addr)
        return None, 0

    def read(self, addr, size):
        if addr % size:
            raise BusError("misaligned %d-byte read at 0x%08x" % (size, addr))
        if SRAM_BASE <= addr < SRAM_END:
            mv, off = self._sram(addr, size)
            return int.from_bytes(mv[off:off + size], "little") if mv is not None else 0
        w = self._reg_read(addr & ~3)
        return (w >> (8 * (addr & 3))) & ((1 << (8 * size)) - 1)

    def write(self, addr, size, v):
        if addr % size:
            raise BusError("misaligned %d-byte write at 0x%08x" % (size, addr))
        v &= (1 << (8 * size)) - 1
        if SRAM_BASE <= addr < SRAM_END:
            mv, off = self._sram(addr, size)
            if mv is not None:
                mv[off:off + size] = v.to_bytes(size, "little")
            return
        if size < 4:                # APB/AHB registers: narrow writes replicate
            v = int.from_bytes(v.to_bytes(size, "little") * (4 // size), "little")
        self._reg_write(addr & ~3, v)

    def _reg_read(self, a):
        chip = self.chip
        if ADC_BASE <= a < ADC_BASE + 0x4000:
            return chip.adc.read(a & 0xFFF)
        if TIMER_BASE <= a < TIMER_BASE + 0x44:
            us = chip.time_us()
            return {0x08: us >> 32, 0x0C: us & 0xFFFFFFFF, 0x24: us >> 32,
                    0x28: us & 0xFFFFFFFF}.get(a - TIMER_BASE, 0) & 0xFFFFFFFF
        if DMA_BASE <= a < DMA_BASE + 0x1000:
            return chip.dma.read(a - DMA_BASE)
        for base, end, dev in chip.mmio:
            if base <= a < end:
                return dev.reg_read(a)
        raise BusError("no device at 0x%08x" % a)

    def _reg_write(self, a, v):
        chip = self.chip
        if ADC_BASE <= a < ADC_BASE + 0x4000:
            off = a & 0xFFF
            alias = (a - ADC_BASE) >> 12
            if alias:
                old = chip.adc.read(off) if off != 0x0C else 0
                v = (old ^ v, old | v, old & ~v)[alias - 1]
            chip.adc.write(off, v & 0xFFFFFFFF, chip.cycle)
            return
        if DMA_BASE <= a < DMA_BASE + 0x1000:
            chip.dma.write(a - DMA_BASE, v)
            return
        if TIMER_BASE <= a < TIMER_BASE + 0x44:
            return
        for base, end, dev in chip.mmio:
            if base <= a < end:
                dev.reg_write(a, v)
                return
        raise BusError("no device at 0x%08x" % a)


class Rp2040:
    """The chip: ADC + DMA + timer + SRAM objects on one bus, in simulated time."""

    def __init__(self, analog, t0_us=0, cpu_cycles=US):
        self.cycle = 0
        self.t0_us = t0_us
        self.cpu_cycles = cpu_cycles
        self.errors = []
        self.stray = []
        self.analog_pins = []
        self.adc = Adc(self, analog)
        self.dma = Dma(self)
        self.bus = Bus(self)
        # other devices (host_tests/pio_model.py): next_event() -> cycle or None and
        # process(cycle, bound): its events at cycle, and on up to bound; DREQ number ->
        # callable() -> bool; (base, end, device) with reg_read(addr) / reg_write(addr,
        # value) on the bus
        self.devices = []
        self.dreqs = {}
        self.mmio = []

    def time_us(self):
        return self.t0_us + self.cycle // US

    def run_until(self, c_end):
        adc = self.adc
        devices = self.devices
        while True:
            c = adc.next_event()
            dev = None
            for d in devices:
                e = d.next_event()
                if e is not None and (c is None or e < c):
                    c, dev = e, d
            if c is None or c > c_end:
                break
            if c > self.cycle:
                self.cycle = c
            if dev is None:
                adc.process(c)
            else:                   # the device may run on up to the next other event
                bound = c_end
                a = adc.next_event()
                if a is not None and a < bound:
                    bound = a
                for d in devices:
                    e = d.next_event() if d is not dev else None
                    if e is not None and e < bound:
                        bound = e
                dev.process(c, bound)
            self.dma.service()
        if c_end > self.cycle:
            self.cycle = c_end
        self.dma.service()

    def run(self, seconds):
        self.run_until(self.cycle + int(round(seconds * CLK)))

    def cpu(self):
        """One CPU access: time passes, the converter and the DMA go on meanwhile."""
        self.run_until(self.cycle + self.cpu_cycles)

    def addressof(self, obj):
        return self.bus.addressof(obj)


# -- fakes of the MicroPython modules -----------------------------------------------------
class Mem:
    """machine.mem32/16/8: subscript by byte address; mem32 reads are signed (as on a
    32-bit port), writes take the low bits."""

    def __init__(self, chip, size):
        self.chip = chip
        self.size = size

    def __getitem__(self, addr):
        self.chip.cpu()
        v = self.chip.bus.read(addr, self.size)
        if self.size == 4 and v >= 1 << 31:
            v -= 1 << 32
        return v

    def __setitem__(self, addr, v):
        self.chip.cpu()
        self.chip.bus.write(addr, self.size, v)


class FakePin:
    def __init__(self, pin_id, *args, **kw):
        self.id = pin_id


class FakeADC:
    """machine.ADC of the rp2 port (ports/rp2/machine_adc.c) on the model's registers."""

    def __init__(self, chip, src):
        self.chip = chip
        pin = src.id if isinstance(src, FakePin) else src
        if 26 <= pin <= 29:
            self.channel = pin - 26
            chip.analog_pins.append(pin)
        elif isinstance(src, int) and 0 <= pin <= 4:
            self.channel = pin
        else:
            raise ValueError("invalid channel")
        bus = chip.bus
        if not bus.read(ADC_BASE, 4) & 1:          # adc_init(): reset, then EN
            chip.adc.reset()
            bus.write(ADC_BASE, 4, 1)
            chip.run_until(chip.cycle + 2 * CONV)

    def read_u16(self):
        chip = self.chip
        bus = chip.bus
        cs = bus.read(ADC_BASE, 4)
        bus.write(ADC_BASE, 4, (cs & ~(7 << 12)) | (self.channel << 12))    # select input
        bus.write(ADC_BASE + 0x2000, 4, 4)                                  # START_ONCE
        while not bus.read(ADC_BASE, 4) & 0x100:
            chip.cpu()
        raw = bus.read(ADC_BASE + 4, 4)
        return raw * 65535 // 4095


class FakeMachine:
    def __init__(self, chip):
        self.chip = chip
        self.mem32 = Mem(chip, 4)
        self.mem16 = Mem(chip, 2)
        self.mem8 = Mem(chip, 1)

    def Pin(self, pin_id, *args, **kw):
        return FakePin(pin_id, *args, **kw)

    def ADC(self, src):
        return FakeADC(self.chip, src)


class FakeUctypes:
    def __init__(self, chip):
        self.chip = chip

    def addressof(self, obj):
        return self.chip.addressof(obj)


class FakeTime:
    """time.ticks_us/ticks_ms of the rp2 port: the 1 MHz timer, 30-bit ticks."""

    PERIOD = 1 << 30

    def __init__(self, chip):
        self.chip = chip

    def ticks_us(self):
        self.chip.cpu()
        return self.chip.time_us() & (self.PERIOD - 1)

    def ticks_ms(self):
        return (self.chip.time_us() // 1000) & (self.PERIOD - 1)

    def ticks_diff(self, a, b):
        return ((a - b + self.PERIOD // 2) & (self.PERIOD - 1)) - self.PERIOD // 2

    def ticks_add(self, a, d):
        return (a + d) & (self.PERIOD - 1)

    def sleep_us(self, us):
        self.chip.run_until(self.chip.cycle + us * US)


# rp2_dma.c: the field table of pack_ctrl/unpack_ctrl (name, lsb, width, read-only)
FIELDS = (("enable", EN, 1, 0), ("high_pri", HIGH_PRI, 1, 0), ("size", SIZE, 2, 0),
          ("inc_read", INC_R, 1, 0), ("inc_write", INC_W, 1, 0),
          ("ring_size", RING_SIZE, 4, 0), ("ring_sel", RING_SEL, 1, 0),
          ("chain_to", CHAIN, 4, 0), ("treq_sel", TREQ, 6, 0), ("irq_quiet", QUIET, 1, 0),
          ("bswap", BSWAP, 1, 0), ("sniff_en", SNIFF, 1, 0), ("busy", BUSY, 1, 1),
          ("write_err", WERR, 1, 0), ("read_err", RERR, 1, 0), ("ahb_err", AHBERR, 1, 1))
DEFAULT_CTRL = (1 << QUIET) | (TREQ_PERMANENT << TREQ) | (1 << INC_W) | (1 << INC_R) \
    | (2 << SIZE) | (1 << EN)


class _Irq:
    def __init__(self, dma):
        self.dma = dma
        self.handler = None
        self.hard = False
        self.flag = 0

    def flags(self):
        return self.flag


class _DmaBase:
    """rp2.DMA as in ports/rp2/rp2_dma.c, on the model's DMA registers."""

    chip = None

    def __init__(self):
        claimed = self.chip.dma_claimed
        for n in range(NCH):                 # dma_claim_unused_channel: the lowest free
            if n not in claimed:
                claimed.add(n)
                self._ch = n
                break
        else:
            raise OSError(16, "EBUSY")
        self._irq = None

    def _base(self):
        if self._ch is None:
            raise ValueError("channel closed")
        return DMA_BASE + 0x40 * self._ch

    def _addr(self, o):
        if isinstance(o, int):
            return o & 0xFFFFFFFF
        if isinstance(o, _Regs):
            return o.addr
        return self.chip.addressof(o)

    def _w(self, off, v):
        self.chip.bus.write(self._base() + off, 4, v)

    def _r(self, off):
        return self.chip.bus.read(self._base() + off, 4)

    def config(self, *, read=None, write=None, count=None, ctrl=None, trigger=False):
        self.chip.cpu()
        self._base()
        given = [x for x in (read, write, count, ctrl) if x is not None]
        if not given and not trigger:
            return
        if trigger and not given:
            self.chip.bus.write(DMA_BASE + 0x430, 4, 1 << self._ch)
            return
        left = len(given)
        for v, plain, trig, kind in ((read, 0x00, 0x3C, "a"), (write, 0x04, 0x2C, "a"),
                                     (count, 0x08, 0x1C, "n"), (ctrl, 0x10, 0x0C, "n")):
            if v is None:
                continue
            left -= 1
            val = self._addr(v) if kind == "a" else int(v) & 0xFFFFFFFF
            self._w(trig if trigger and left == 0 else plain, val)
        self.chip.dma.service()

    def pack_ctrl(self, *args, **kw):
        if args:
            raise TypeError("pack_ctrl only takes keyword arguments")
        value = DEFAULT_CTRL | ((self._ch & 0xF) << CHAIN)
        if "default" in kw:
            value = int(kw.pop("default")) & 0xFFFFFFFF
        names = {f[0]: f for f in FIELDS}
        for k in kw:
            if k not in names:
                raise TypeError()
            _n, lsb, width, ro = names[k]
            if ro:
                continue
            x = int(kw[k])
            m = (1 << width) - 1
            if x & m != x:
                raise ValueError("bad field value")
            value = (value & ~(m << lsb)) | (x << lsb)
        return value

    @staticmethod
    def unpack_ctrl(value):
        return {n: (value >> lsb) & ((1 << w) - 1) for n, lsb, w, _ro in FIELDS}

    def active(self, *v):
        self.chip.cpu()
        if v:
            if v[0]:
                self.chip.bus.write(DMA_BASE + 0x430, 4, 1 << self._ch)
            else:
                self.chip.bus.write(DMA_BASE + 0x444, 4, 1 << self._ch)
            self.chip.dma.service()
        return bool(self._r(0x0C) >> BUSY & 1)

    def irq(self, handler=None, hard=False):
        if self._irq is None:
            self._irq = _Irq(self)
            self.chip.dma.intr &= ~(1 << self._ch)
        irq = self._irq
        irq.handler = handler
        irq.hard = hard
        irq.flag = 0
        d = self.chip.dma
        if handler is not None:
            d.inte0 |= 1 << self._ch

            def fire(irq=irq, me=self):
                irq.flag = 1
                irq.handler(me)
            d.handlers[self._ch] = fire
        else:
            d.inte0 &= ~(1 << self._ch)
            d.handlers.pop(self._ch, None)
        return irq

    def close(self):
        if self._ch is not None:
            d = self.chip.dma
            d.inte0 &= ~(1 << self._ch)
            d.handlers.pop(self._ch, None)
            self.chip.dma_claimed.discard(self._ch)
            self._ch = None

    @property
    def channel(self):
        return self._ch

    @property
    def registers(self):
        return _Regs(self.chip, self._base())

    def _get(off):
        # rp2_dma_attr: READ_ADDR, WRITE_ADDR, TRANS_COUNT (reload when written), AL1_CTRL
        def g(self):
            self.chip.cpu()
            return self._r(off)

        def s(self, v):
            self.chip.cpu()
            self._w(off, self._addr(v) if off < 0x08 else int(v) & 0xFFFFFFFF)
        return property(g, s)

    read = _get(0x00)
    write = _get(0x04)
    count = _get(0x08)
    ctrl = _get(0x10)
    del _get


class _Regs:
    """DMA.registers: 16 words of the channel (an index, or a slice that DMA.config
    takes as an address)."""

    def __init__(self, chip, addr, n=16):
        self.chip = chip
        self.addr = addr
        self.n = n

    def __getitem__(self, i):
        if isinstance(i, slice):
            a, _b, _s = i.indices(self.n)
            return _Regs(self.chip, self.addr + 4 * a, self.n - a)
        return self.chip.bus.read(self.addr + 4 * i, 4)

    def __setitem__(self, i, v):
        self.chip.bus.write(self.addr + 4 * i, 4, v)


class FakeRp2:
    """The rp2 module's DMA class bound to one chip."""

    def __init__(self, chip):
        chip.dma_claimed = set()
        self.DMA = type("DMA", (_DmaBase,), {"chip": chip})


def fakes(chip):
    """(machine, rp2, uctypes, time) fakes over `chip`."""
    return FakeMachine(chip), FakeRp2(chip), FakeUctypes(chip), FakeTime(chip)


# -- the analog side ----------------------------------------------------------------------
class MainsInput:
    """analog(ain, t) -> RP2040 code: the sim's rp2040 front end at any instant.

    AIN0 = V1, AIN1 = I1, AIN2 = neutral (= I1 in one phase), with the front end's LSBs
    and real biases (boards/sim/adc.py), Gaussian noise of its noise_lsb (seeded), and
    the E11 transfer curve (waveform.rp2040_code_centred; dnl=False: ideal rounding).
    AIN3 (VSYS/3 on a Pico) and AIN4 (temperature sensor) give fixed codes.
        v(t) = sqrt2 V [cos(w t + va) + sum fv_h cos(h (w t + va))]
        i(t) = sqrt2 I [cos(w t + va - phi) + sum fi_h cos(h (w t + va) - ang_h)]
    """

    def __init__(self, v_rms=230.0, i_rms=5.0, phi_deg=0.0, f=50.0, v_angle_deg=0.0,
                 harmonics=(), noise=True, seed=1, dnl=True):
        fe = sim_adc.frontend("rp2040", "162", "4w", neutral=True, dnl=dnl)
        self.frontend = fe
        self.w = 2 * math.pi * f
        self.va = math.radians(v_angle_deg)
        self.phi = math.radians(phi_deg)
        self.v_rms = v_rms
        self.i_rms = i_rms
        self.harmonics = [tuple(h) + (0.0,) * (4 - len(h)) for h in harmonics]
        self.rng = random.Random(seed) if noise else None
        self.sigma = fe["noise_lsb"]
        ch = fe["channels"]
        self.chan = {0: ch[0], 1: ch[1], 2: ch[2]}
        wq = int(fe["dnl_width"] * (1 << 14) + 0.5)
        self.curve = ((512 << 14) - wq // 2, (513 << 14) + wq // 2, (511 << 14) - wq // 2)

    def signal(self, qty, t):
        """v (V) or i (A) at t seconds."""
        th = self.w * t + self.va
        if qty == "v":
            x = math.cos(th)
            for h, fv, _fi, _a in self.harmonics:
                x += fv * math.cos(h * th)
            return math.sqrt(2) * self.v_rms * x
        x = math.cos(th - self.phi)
        for h, _fv, fi, a in self.harmonics:
            x += fi * math.cos(h * th - math.radians(a))
        return math.sqrt(2) * self.i_rms * x

    def value(self, ain, t):
        """The analog input in codes (float, before noise and quantisation)."""
        if ain == 3:
            return 2068.0
        if ain == 4:
            return 876.0
        c = self.chan[ain]
        qty = c["terms"][0][1]
        return c["true_bias"] + c["offset"] + c["gain"] * self.signal(qty, t) / c["lsb"]

    def quantise(self, y):
        return waveform.rp2040_code_centred(int(math.floor(y * (1 << 14) + 0.5)), *self.curve)

    def __call__(self, ain, t):
        y = self.value(ain, t)
        if self.rng is not None and ain <= 2:
            y += self.rng.gauss(0.0, self.sigma)
        return self.quantise(y)


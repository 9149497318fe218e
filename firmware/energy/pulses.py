"""Meter LED and S0 pulse outputs: exact whole-pulse quanta, evenly spread, never lost or merged.

One PulseOutput drives one pin (hal: `value(x)`, 1 = pulse active). The meter
feeds it the whole-mWh increments the registers received (EnergyRegisters
inc_secondary / inc_primary), once per measurement period:

    out.feed(mwh, period_ms)   # energy of the period just ended, and its length
    out.tick(now_ms)           # often, from the main loop (sim: from the sample clock)

Quantum: one pulse is 1_000_000 // imp_per_kwh mWh (1000 imp/kWh -> 1000 mWh,
10000 -> 100, 5000 -> 200); constants that do not divide 1_000_000 are refused,
so the pulse count is exactly floor(total mWh / quantum) and the residue is kept.

Timing: the pulses owed when a period is fed (those of the period plus any still
queued) are spread evenly over the next period_ms, starting at the first tick()
after feed(): integer Bresenham steps of P // N or P // N + 1 ms between rising
edges (so spacings differ by at most 1 ms, and N steps make exactly P ms). A
pulse stays active >= width_ms and the gap after it is >= width_ms, so the
fastest rate is 1000 / (2 * width_ms) pulses per second. When the owed pulses
cannot fit in period_ms at that rate they still all come, at the fastest rate
(the queue is the counter `pending`: never dropped, never merged), and
`overrun` counts such feeds (the meter may show it; clear_overrun() resets).
A period may be as short as 0 ms (the first period after boot runs from the start
of sampling to the first zero crossing, a power-down closes whatever is open): the
pulses still queued from the period before keep at least the time their spacing
gave them (a short period does not squeeze them into an overrun), a pulse of its
own starts at once, and one pulse is never an overrun.
Edges happen inside tick(), so the real width is width_ms plus tick() latency:
call tick() every few ms.

Time: now_ms is a millisecond counter compared modulo 2**30, like MicroPython's
time.ticks_ms() on a 32-bit port (the 64-bit unix port wraps at a multiple of
2**30, which is the same modulo 2**30); a plain monotonic int works as well.
Only differences below 2**29 ms (6 days) between ticks are meaningful.

Invariant: emitted + pending + (1 if active else 0) == floor(total fed / quantum).
feed() and tick() allocate nothing while the counters are small ints (below 2**30
on the RP2040); proven under micropython.heap_lock() in host_tests/mp/test_energy.py.
"""

from micropython import const

_MASK = const(0x3FFFFFFF)  # ticks period 2**30
_HALF = const(0x20000000)


def _diff(a, b):
    """a - b for ms counters wrapping at 2**30 (signed, like time.ticks_diff)."""
    return ((a - b + _HALF) & _MASK) - _HALF


class PulseOutput:
    """One pulse output (LED or S0) with an exact energy quantum per pulse."""

    def __init__(self, pin, imp_per_kwh, width_ms=30, idle_on=False):
        if not isinstance(imp_per_kwh, int) or imp_per_kwh <= 0 or 1000000 % imp_per_kwh:
            raise ValueError("imp_per_kwh %r must be a positive int dividing 1000000, so that "
                             "a pulse is a whole number of mWh" % (imp_per_kwh,))
        if not isinstance(width_ms, int) or width_ms < 1:
            raise ValueError("width_ms must be an int >= 1, got %r" % (width_ms,))
        self.pin = pin
        self.imp_per_kwh = imp_per_kwh
        self.quantum = 1000000 // imp_per_kwh  # mWh per pulse
        self.width_ms = width_ms
        self.min_interval_ms = 2 * width_ms   # rising edge to rising edge
        self.idle_on = bool(idle_on)
        self._on_level = 0 if idle_on else 1
        self._off_level = 1 if idle_on else 0
        self.residue = 0   # mWh fed and not yet a whole pulse, 0 <= residue < quantum
        self.pending = 0   # whole pulses owed, not yet started
        self._epoch = 0    # pulses completed, folded in by feed() (may grow past small ints)
        self._count = 0    # pulses completed since the last fold: a small int, so tick()
                           # never allocates however long the meter runs
        self.active = False
        self.overrun = 0   # feeds whose pulses could not fit in their period at the max rate
        self._fresh = False  # a feed brought pulses: the next tick() starts a new batch
        self._n = 1        # batch of _n pulses over _n * _q + _r ms (Bresenham steps)
        self._q = 0
        self._r = 0
        self._err = 0
        self._due = 0      # earliest time of the next rising edge
        self._rise = 0     # time of the last rising / falling edge
        self._fall = 0
        self._idle = True  # no edge yet: no gap to respect
        pin.value(self._off_level)

    @property
    def emitted(self):
        """Pulses completed since start."""
        return self._epoch + self._count

    def feed(self, mwh, period_ms):
        """Add whole mWh (an int >= 0) of the period just ended, which lasted period_ms
        (an int >= 0: a short period is a normal case)."""
        if mwh < 0 or period_ms < 0:
            raise ValueError("feed: mwh and period_ms must be >= 0, got %r, %r"
                             % (mwh, period_ms))
        if self._count >= 0x100000:
            self._epoch += self._count
            self._count = 0
        r = self.residue + mwh
        n = r // self.quantum
        self.residue = r - n * self.quantum
        if n:
            old = self.pending
            n += old
            self.pending = n
            p = period_ms
            if old and old * self._q > p:
                p = old * self._q           # a short period does not squeeze the queue
            need = n * self.min_interval_ms
            if need > p:
                p = need
                if n > 1:
                    self.overrun += 1       # (one pulse always starts at once)
            self._n = n
            self._q = p // n
            self._r = p - (p // n) * n
            self._fresh = True

    def tick(self, now_ms):
        """Drive the pin: end the active pulse or start the next one when due."""
        if self.active:
            if _diff(now_ms, self._rise) >= self.width_ms:
                self.pin.value(self._off_level)
                self.active = False
                self._count += 1
                self._fall = now_ms
                self._idle = False
            return
        if not self.pending:
            return
        if self._fresh:
            self._fresh = False
            self._due = now_ms
            self._err = 0
        if not self._idle and _diff(now_ms, self._fall) < self.width_ms:
            return
        late = _diff(now_ms, self._due)
        if late < 0:
            return
        self.pin.value(self._on_level)
        self.active = True
        self.pending -= 1
        self._rise = now_ms
        step = self._q
        self._err += self._r
        if self._err >= self._n:
            self._err -= self._n
            step += 1
        if late > step * self._n:  # more than a batch behind (stalled loop): resynchronise
            self._due = now_ms
        self._due = (self._due + step) & _MASK

    def wait_ms(self, now_ms, limit):
        """How long the loop may go without calling tick() (at most `limit` ms): until
        the active pulse ends, or the next one is due."""
        if self.active:
            w = self.width_ms - _diff(now_ms, self._rise)
        elif not self.pending:
            return limit
        elif self._fresh:
            return 0
        else:
            w = _diff(self._due, now_ms)
            if not self._idle:
                g = self.width_ms - _diff(now_ms, self._fall)
                if g > w:
                    w = g
        if w < 0:
            return 0
        return w if w < limit else limit

    def owed(self):
        """Pulses fed and not yet completed (queued + the active one)."""
        return self.pending + (1 if self.active else 0)

    def clear_overrun(self):
        self.overrun = 0

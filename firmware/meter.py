"""The meter: wires sampler -> engine -> registers -> pulse outputs; the main-loop step.

Two fidelities share everything above metrology: `waveform` feeds sample
blocks through the engine; `phasor` (boards/sim only) hands per-second P and Q
straight to the same registers and pulse outputs.

With a store (storage/store.py on the board's flash) the registers resume at
boot and are saved at every change of a shown value (storage/persist.py); a
board with a power-fail input (`power_fail.value()` 1 while the supply is
failing) gets an orderly power-down: the open period is closed and saved.

The meter never halts on its own errors: an exception while a block, a period, the
pulse outputs or a power-down is processed is counted (`faults`), logged as a
METER_ERROR event (the 1st, 2nd, 4th, 8th ... so a fault at every period cannot wear
the event log), shown by the status indicator (ERROR), and measuring goes on. Any
period length is normal, down to one frame: the first period after boot runs from the
start of sampling to the first zero crossing.
"""

from .config import Config
from .display.view import Display
from .energy.pulses import PulseOutput
from .energy.registers import A_MINUS, A_PLUS, NAMES, OBIS, R_MINUS, R_PLUS, EnergyRegisters
from .logs.billing import EXTERNAL
from .logs.events import CLOCK_SET, METER_ERROR, POWER_UP
from .logs.logbook import Logbook
from .metrology import calibration as _cal
from .metrology.engine import Engine, Measurement, clamp_pf
from .storage.persist import Persistence


FAULT_PERIOD = 1       # a measurement period could not be booked (registers, logs, pulses)
FAULT_BLOCK = 2        # a sample block could not be processed (the engine)
FAULT_PULSES = 3       # the pulse outputs' tick
FAULT_POWER_DOWN = 4   # the power-down save
FAULT_LOOP = 5         # the board's main loop itself (boards/pico/main.py)
BUSY_MS = 2            # the longest idle sleep while the optical port is busy (idle_ms)


class Meter:
    def __init__(self, board, config=None, cals=None, store=None):
        cfg = config if config is not None else Config()
        self.cfg = cfg
        self.board = board
        self.clock = board.clock
        src = board.sampler if board.sampler is not None else board.power
        if src is None:
            raise ValueError("board has neither a sampler nor a power source")
        self.fs = src.fs
        self.registers = EnergyRegisters(self.fs, cfg.ct, cfg.vt)
        if board.sampler is not None:
            n = len(board.sampler.systems)
            if cals is None:
                cals = _cal.parse(cfg.calibration, n)
            self.engine = Engine(board.sampler, cals, f_nominal=cfg.fn, cycles=cfg.cycles,
                                 creep_current=cfg.creep_current, creep_power=cfg.creep_power,
                                 v_nominal=cfg.un, on_period=self._period)
            self.m = self.engine.m
        else:
            self.engine = None
            self.m = Measurement(src.nsys)
        # measure(): periods, frames, f * frames and frames of whole periods, v i p q
        self._win = [0.0] * (4 + 4 * self.m.n)
        self._outputs()
        self.errors = 0  # measurement periods rejected by the registers (logged later)
        self.faults = 0  # exceptions caught in the meter's own work (see the module doc)
        self.last_fault = None   # (where, exception) of the newest one
        self._msr = 0            # sample ticks * 1000 not yet whole ms of pulse time
        self.persist = None
        self.max_step = 1        # phasor fidelity: longest step in seconds (sim only)
        self._pf = getattr(board, "power_fail", None)
        self.down = False
        self.coarse = False      # phasor: step straight to the next clock event (sim)
        self.logbook = Logbook(cfg, self.registers, store)
        self._inputs = getattr(board, "inputs", None)
        self._pulses0 = self._inputs.pulses() if self._inputs is not None else 0
        self._ticks = 0          # sample ticks not yet counted as whole seconds
        if store is not None:
            self.persist = Persistence(store, self.registers, cfg, board.clock, self.logbook)
            self.persist.mount()
            self.logbook.on_event = self.persist.log
            rc = getattr(board, "reset_cause", None)
            if rc is not None:
                from .logs.events import RESET_CAUSE

                self.persist.log(RESET_CAUSE, rc())
        self.display = Display(self, board.lcd, board.button, board.clock.ticks_ms())
        self.optical = None
        if getattr(board, "optical", None) is not None:
            from .comms.hdlc import Hdlc
            from .comms.iec62056 import Optical
            from .comms.programming import Commands

            self.optical = Optical(self, board.optical, Commands(self), Hdlc())

    @property
    def data_lost(self):
        """The LCD status indication: stored data was found corrupt or unusable."""
        return self.persist is not None and self.persist.data_lost

    def _outputs(self):
        cfg = self.cfg
        board = self.board
        w = cfg.pulse_ms
        self.led_p = PulseOutput(board.led, cfg.led_imp_kwh, w, cfg.led_idle_on) \
            if board.led is not None and cfg.led_imp_kwh else None
        self.led_q = PulseOutput(board.led_q, cfg.led_imp_kvarh, w, cfg.led_idle_on) \
            if getattr(board, "led_q", None) is not None and cfg.led_imp_kvarh else None
        self.s0 = PulseOutput(board.s0, cfg.s0_imp_kwh, w) \
            if board.s0 is not None and cfg.s0_imp_kwh else None
        self.outputs = [o for o in (self.led_p, self.led_q, self.s0) if o is not None]

    # -- main loop ---------------------------------------------------------------------
    def step(self):
        """Process one block (or one phasor second). False when the source has ended."""
        pf = self._pf
        if pf is not None:
            if pf.value():
                if not self.down:
                    self.power_down()
                return True
            if self.down:
                self.down = False
                if self.persist is not None:
                    self.persist.log(POWER_UP)
        if self.engine is not None:
            try:
                buf = self.board.sampler.read()
                if buf is None:
                    return False
                self.engine.feed(buf)
            except Exception as e:      # counted, logged, shown; the next block goes on
                self.fault(FAULT_BLOCK, e)
            return True
        if self.coarse:
            self.max_step = self.logbook.next_boundary(self.clock.now())
        got = self.board.power.read(self.max_step)
        if got is None:
            return False
        try:
            self._phasor(got)
        except Exception as e:
            self.fault(FAULT_PERIOD, e)
        return True

    def finish(self):
        """Close the open measurement period (end of simulation / orderly power-down)."""
        if self.engine is not None:
            try:
                self.engine.flush()
            except Exception as e:
                self.fault(FAULT_BLOCK, e)

    def power_down(self):
        """Orderly power-down: close the open period and save the registers (the save and
        the POWER_DOWN event happen whatever closing the period did)."""
        self.finish()
        self.down = True
        if self.persist is not None:
            try:
                self.persist.power_down()
            except Exception as e:
                self.fault(FAULT_POWER_DOWN, e)

    def fault(self, where, e):
        """An exception in the meter's own work (FAULT_*): counted, logged, shown; never
        raised again (a MemoryError gets a collection first)."""
        self.faults += 1
        self.last_fault = (where, e)
        try:
            if isinstance(e, MemoryError):
                import gc

                gc.collect()
            n = self.faults
            if self.persist is not None and not n & (n - 1):
                self.persist.log(METER_ERROR, where, n)
        except Exception:
            pass

    def set_clock(self, utc):
        """Set the meter clock (optical port, config): logged with the old and new time;
        the logs flag the intervals it touches."""
        old = self.clock.now()
        self.clock.set(utc)
        self.logbook.clock_set(old, utc)
        if self.persist is not None:
            self.persist.log(CLOCK_SET, old, utc)
            self.persist.save()

    def billing_stop(self):
        """A billing stop by command (or the external input): freeze and reset maxima."""
        v = self.logbook.stop(self.clock.now(), EXTERNAL)
        if self.persist is not None:
            self.persist.save()
        return v

    def idle_ms(self, now_ms, limit):
        """How long the main loop may sleep before tick() and ui() are due again (at
        most `limit` ms, what the sampler says is left until the next block): the next
        pulse edge, BUSY_MS while the optical port is in a session or answering."""
        w = limit
        for o in self.outputs:
            w = o.wait_ms(now_ms, w)
        op = self.optical
        if op is not None and w > BUSY_MS and op.in_session():
            w = BUSY_MS
        return w if w > 0 else 0

    def ui(self, now_ms):
        """The display, the push button, the optical port and the watchdog (main loop,
        outside interrupts)."""
        self.display.update(now_ms)
        if self.optical is not None:
            self.optical.poll()
        wdt = getattr(self.board, "wdt", None)
        if wdt is not None:
            wdt.feed()              # the main loop is alive: it got here

    def configure(self, cfg):
        """Take a new, validated configuration while running (the optical port's W1):
        every part that depends on a changed setting is rebuilt or told; the registers,
        logs and maxima carry on. The configuration is kept in the store."""
        old = self.cfg
        for k in ("creep_current", "creep_power"):
            if cfg.data[k] == old.data[k]:
                setattr(cfg, k, getattr(old, k))   # a value the board set at start
        changed = [k for k in cfg.data if cfg.data[k] != old.data[k]]
        self.cfg = cfg
        lb = self.logbook
        lb.cfg = cfg
        now = self.clock.now()
        for k in changed:
            if k in ("gmt", "dst"):
                from .time.zone import Zone

                lb.zone = Zone(cfg.gmt, cfg.dst)
                lb.next_stop = 0
            elif k in ("billing_day", "billing_interval"):
                lb.next_stop = 0
            elif k in ("tariff_table", "tariff_control", "dd"):
                from .energy.tariffs import TariffControl

                lb.tariffs = TariffControl(cfg.tariff_control, cfg.tariff_table, cfg.dd)
            elif k == "period":
                lb.set_period(cfg.period, now)
            elif k == "threshold_kw":
                lb.demand.threshold_mw = int(cfg.threshold_kw * 1e6)
            elif k == "max_demand":
                lb.demand.acc_tariff = cfg.max_demand
        if "ct" in changed or "vt" in changed:
            oldct = self.registers.ct[0]
            self.registers.set_ratio(cfg.ct, cfg.vt)
            if self.persist is not None:
                from .logs.events import CT_CHANGED

                self.persist.log(CT_CHANGED, oldct, cfg.ct[0])
        if self.engine is not None:
            self.engine.creep_current = cfg.creep_current
            self.engine.creep_power = cfg.creep_power
            if "calibration" in changed:
                self.engine.cals = _cal.parse(cfg.calibration, self.engine.nsys)
        if [k for k in changed if k in ("s0_imp_kwh", "pulse_ms", "led_imp_kwh",
                                        "led_imp_kvarh", "led_idle_on")]:
            self._outputs()
        if self.persist is not None:
            self.persist.configure(cfg)
        d = self.display
        self.display = Display(self, d.lcd, d.button, self.clock.ticks_ms())
        self.display.on_long = d.on_long
        if self.optical is not None:
            self.optical.configure(cfg)

    def tick(self, now_ms):
        try:
            for o in self.outputs:
                o.tick(now_ms)
        except Exception as e:
            self.fault(FAULT_PULSES, e)

    def busy(self):
        for o in self.outputs:
            if o.pending or o.active:
                return True
        return False

    # -- once per period ---------------------------------------------------------------
    def _period(self, m):
        """The engine's period callback: nothing raised here reaches the engine (its
        state stays whole), whatever a part above it does."""
        try:
            self._integrate(m.p_total, m.q_total, m.frames)
            self._window(m)
        except Exception as e:
            self.fault(FAULT_PERIOD, e)

    def _window(self, m):
        w = self._win
        fr = m.frames
        w[0] += 1
        w[1] += fr
        if m.whole:                     # f only from whole cycles (a partial one has none)
            w[2] += m.freq * fr
            w[3] += fr
        k = 4
        for s in range(m.n):
            w[k] += m.vrms[s] * fr
            w[k + 1] += m.irms[s] * fr
            w[k + 2] += m.p[s] * fr
            w[k + 3] += m.q[s] * fr
            k += 4

    def measure(self):
        """Per-system Vrms, Irms, P, Q and f averaged over the measurement periods since
        the previous call (the calibration tool's window; comms/programming.py "measure"),
        then a new window starts. Values are the calibrated ones the registers get."""
        w = self._win
        n = self.m.n
        fr = w[1]
        d = {"periods": int(w[0]), "seconds": fr / self.fs, "fs": self.fs,
             "f": w[2] / w[3] if w[3] else 0.0}
        for j, key in enumerate(("v", "i", "p", "q")):
            d[key] = [w[4 + 4 * s + j] / fr if fr else 0.0 for s in range(n)]
        for k in range(len(w)):
            w[k] = 0.0
        return d

    def _phasor(self, got):
        seconds, systems, freq = got
        m = self.m
        pt = qt = st = 0.0
        for k in range(len(systems)):
            p, q, v, i = systems[k]
            if i < self.cfg.creep_current:
                p = q = 0.0
            m.vrms[k] = v
            m.irms[k] = i
            m.p[k] = p
            m.q[k] = q
            m.s[k] = v * i
            m.pf[k] = clamp_pf(p / (v * i)) if v * i > 0 else 1.0
            pt += p
            qt += q
            st += v * i
        m.p_total = pt
        m.q_total = qt
        m.s_total = st
        m.pf_total = clamp_pf(pt / st) if st > 0 else 1.0
        m.freq = freq
        m.whole = True                  # a phasor second knows its frequency
        m.frames = int(seconds * self.fs + 0.5)
        m.count += 1
        self._integrate(pt, qt, m.frames)
        self._window(m)

    def _integrate(self, p, q, ticks):
        reg = self.registers
        try:
            reg.integrate(p, q, ticks)
        except ValueError:
            self.errors += 1
            return
        self._clockwork(ticks)
        if self.persist is not None:
            self.persist.period()
        # the period's length in whole ms for the pulse spread, the remainder carried (so
        # the lengths add up exactly; a period of a few frames may be 0 ms)
        t = ticks * 1000 + self._msr
        period_ms = t // self.fs
        self._msr = t - period_ms * self.fs
        # the LEDs blink for the metrology itself: secondary energy, import and export;
        # S0 gives A+ secondary or primary (config code M), as the 351B
        inc = reg.inc_secondary
        if self.led_p is not None:
            self.led_p.feed(inc[A_PLUS] + inc[A_MINUS], period_ms)
        if self.led_q is not None:
            self.led_q.feed(inc[R_PLUS] + inc[R_MINUS], period_ms)
        if self.s0 is not None:
            src = reg.inc_primary if self.cfg.s0_primary else inc
            self.s0.feed(src[A_PLUS], period_ms)

    def _clockwork(self, ticks):
        inp = self._inputs
        levels = (0, 0)
        pulses = 0
        if inp is not None:
            levels = (inp.value(0), inp.value(1))
            n = inp.pulses()
            pulses = n - self._pulses0
            self._pulses0 = n
        m = self.m
        powered = False
        for k in range(len(m.vrms)):
            if m.vrms[k] > 0.6 * self.cfg.un:
                powered = True
        # whole seconds, the fraction carried: a 50-cycle period at 51 Hz is 0.98 s
        t = self._ticks + ticks
        secs = t // self.fs
        self._ticks = t - secs * self.fs
        self.logbook.update(self.clock.now(), secs, powered, levels, pulses)

    # -- reading -----------------------------------------------------------------------
    def report(self):
        """Every register at full internal resolution, plus pulse counts (for --report)."""
        reg = self.registers
        out = {"registers": {}, "pulses": {}, "errors": self.errors, "faults": self.faults}
        if self.persist is not None:
            p = self.persist
            out["store"] = {"saves": p.saves, "errors": p.errors, "data_lost": p.data_lost,
                            "restored_seq": p.restored,
                            "boot": dict((k, list(v)) for k, v in p.boot.items()),
                            "events": [list(e) for e in p.events()]}
        for name in NAMES:
            n, d = reg.exact(name, True)
            ns, ds = reg.exact(name, False)
            out["registers"][name] = {
                "obis": OBIS[name],
                "wh": n / d / 1000,               # full internal resolution (residue incl.)
                "mwh": reg.mwh(name, True),       # what the register shows, whole mWh
                "secondary_wh": ns / ds / 1000,
                "secondary_mwh": reg.mwh(name, False),
            }
        for key, o in (("led_active", self.led_p), ("led_reactive", self.led_q),
                       ("s0", self.s0)):
            if o is not None:
                out["pulses"][key] = {"emitted": o.emitted, "pending": o.pending,
                                      "active": 1 if o.active else 0, "overrun": o.overrun}
        return out

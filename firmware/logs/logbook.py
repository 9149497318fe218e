"""The meter's clock work after each measurement period: tariffs, demand, load profile, billing.

update(utc, seconds, powered, inputs) is called by the meter after the energy
registers took a measurement period that ended at UTC second `utc`:
- the active tariff (calendar in local time, DD inputs or communication) takes
  the period's A+ and R+ increments into the tariff registers;
- demand and the load profile work on integration periods aligned to UTC. Every
  GMT offset and summer-time shift is whole hours and every period divides an
  hour, so these are the local clock's periods too, and a summer-time change
  never makes an interval twice or skips one;
- billing stops (GG, HH) and billing logger 2 (U) happen at 00:00 local. A stop
  whose time passed while the meter was off is made at power-up, with the
  scheduled time and the LATE flag;
- the hour counter counts seconds with voltage present; the pulse input counts
  pulses from the board.

A gap in time larger than the period just measured (the meter was off) flags
the load-profile entry that spans it with POWER_FAIL (and SHORT when the entry
covers less than a whole interval of data).

state()/check()/restore() give the values to keep with the energy registers
(storage/persist.py saves them as the second record of each save).
next_boundary(utc) is the time to the next event, so a phasor simulation can
step straight to it (a year in seconds).
"""

from ..energy.registers import A_MINUS, A_PLUS, NAMES, R_MINUS, R_PLUS
from ..energy.tariffs import TariffControl, TariffRegisters
from ..time import schedule
from ..time.zone import Zone
from . import billing as bl
from .analysis import AnalysisLogger
from .events import BILLING_STOP
from .demand import Demand
from .profile import CLOCK_SET, DST, POWER_FAIL, SHORT, LoadProfile

STATE_VERSION = 2
_HEAD = 9
DD_BILLING_INPUT = 15     # DD 15: "Debiteringspuls": a pulse on I/O 1 makes a billing stop


class Logbook:
    def __init__(self, cfg, registers, store=None):
        self.cfg = cfg
        self.reg = registers
        self.zone = Zone(cfg.gmt, cfg.dst)
        self.period = schedule.period_s(cfg.period)
        self.tariffs = TariffControl(cfg.tariff_control, cfg.tariff_table, cfg.dd)
        self.treg = TariffRegisters(8)
        self.demand = Demand(self.period, tariffs=2, threshold_mw=int(cfg.threshold_kw * 1e6),
                             acc_tariff=cfg.max_demand)
        self.profile = None
        self.analysis = None
        self.billing = None
        self.billing2 = None
        if store is not None:
            self.profile = LoadProfile(store, cfg.profile_channels, self.period)
            self.billing = bl.BillingLogger(store, "billing")
            self.billing2 = bl.BillingLogger(store, "billing2", depth=bl.DEPTH)
            if cfg.analysis is not None:
                self.analysis = AnalysisLogger(store, cfg.analysis)
        self.hours_s = 0        # seconds with voltage present
        self.stops = 0          # billing stops made
        self.pulses = 0         # pulse-input count
        self.last = 0           # UTC of the last update (0: none yet)
        self.interval_end = 0   # UTC end of the open load-profile interval (0: none)
        self.status = 0         # status bits collected for the open profile interval
        self.next_stop = 0      # local second of the next scheduled billing stop (0: none)
        self.repeat_until = 0   # after a clock set back: intervals up to here repeat times
        self.tariff = 1
        self.on_event = None    # f(code, a, b): the meter's event log
        self._in1 = 0           # I/O 1 level (DD 15: billing-stop input)

    # -- values ------------------------------------------------------------------------
    def _wh(self):
        """All registers in whole Wh (primary or secondary per QQ), NAMES order."""
        src = self.reg.primary if self.cfg.profile_primary else self.reg.secondary
        return tuple(v // 1000 for v in src)

    def value(self, name):
        """A register by name (the analysis logger's choices, logs/analysis.py)."""
        if name in NAMES:
            return self.reg.primary[NAMES.index(name)] // 1000
        if name.startswith("a_plus_t"):
            return self.treg.a_plus[int(name[8:]) - 1] // 1000
        if name.startswith("r_plus_t"):
            return self.treg.r_plus[int(name[8:]) - 1] // 1000
        if name == "hours":
            return self.hours_s // 3600
        if name == "stops":
            return self.stops
        if name == "pulse_input":
            return self.pulse_units()
        if name == "demand":
            return self.demand.last_p // 1000
        raise ValueError("logbook: no register %r" % (name,))

    def pulse_units(self):
        """The pulse-input register in thousandths of its unit (NN: kWh, m3, L)."""
        return self.pulses * 1000 // self.cfg.pulse_in_per_unit

    def values(self, utc, flags, reset):
        """The billing list at UTC second `utc` (reset: a billing stop, the maxima are
        frozen and reset; else a peek for billing logger 2)."""
        self.demand.tick(utc)
        d = bl.from_demand(self.demand.billing_stop() if reset else self.demand.peek())
        reg = self.reg
        d["time"] = utc
        d["hours"] = self.hours_s // 3600
        d["stops"] = self.stops
        d["pulse_input"] = self.pulse_units()
        d["ct_primary"], d["ct_secondary"] = reg.ct
        for name, i in (("a_plus", A_PLUS), ("a_minus", A_MINUS), ("r_plus", R_PLUS),
                        ("r_minus", R_MINUS)):
            d[name] = reg.primary[i] // 1000
        for t in range(1, 5):
            d["a_plus_t%d" % t] = self.treg.a_plus[t - 1] // 1000
            d["r_plus_t%d" % t] = self.treg.r_plus[t - 1] // 1000
        k = self.cfg.max_demand
        if k:
            # K (162): the maximum demand is the one measured in tariff k
            for q in ("pmax", "qmax"):
                d[q] = d["%s_t%d" % (q, k)]
                d[q + "_time"] = d["%s_t%d_time" % (q, k)]
        d["flags"] = flags
        return d

    # -- the measurement period --------------------------------------------------------
    def update(self, utc, seconds, powered=True, inputs=(0, 0), pulses=0):
        z = self.zone
        local = z.local(utc)
        if self.last and utc - self.last > seconds + 1:
            self.status |= POWER_FAIL        # the meter was off in between
        # the tariff in force during the period: at its last second (a step of the
        # simulator ends exactly on a switch point, which belongs to the next tariff)
        t = self.tariffs.active(z.local(utc - 1), inputs)
        self.tariff = t
        inc = self.reg.inc_primary
        self.treg.add(t, inc[A_PLUS], inc[R_PLUS])
        self.demand.add(utc, inc[A_PLUS], inc[R_PLUS], t)
        if powered:
            self.hours_s += seconds
        self.pulses += pulses
        self._profile(utc, seconds)
        if self.analysis is not None:
            self.analysis.update(utc, self.value)
        self._billing(utc, local)
        if self.cfg.dd == DD_BILLING_INPUT:
            if inputs[0] and not self._in1:
                self.stop(utc, bl.EXTERNAL)        # a pulse on the billing-stop input
            self._in1 = 1 if inputs[0] else 0
        self.last = utc

    def _profile(self, utc, seconds):
        p = self.profile
        if p is None:
            return
        per = self.period
        if not self.interval_end:
            # the profile starts at the end of this period, inside its interval or on
            # its start
            p.start(self._wh())
            self.interval_end = schedule.period_end(utc + 1, per)
            if utc != self.interval_end - per:
                self.status |= SHORT
            return
        if utc < self.interval_end:
            return
        st = self.status
        if self.zone.summer(self.interval_end):
            st |= DST
        gap = utc - seconds > self.interval_end    # off across the interval end
        if gap:
            st |= SHORT
        if self.interval_end <= self.repeat_until:
            st |= CLOCK_SET          # a time the profile already has (clock set back)
        p.close(self.interval_end, self._wh(), st)
        self.interval_end = schedule.period_end(utc + 1, per)
        self.status = POWER_FAIL | SHORT if gap else 0

    def _billing(self, utc, local):
        cfg = self.cfg
        if self.next_stop == 0:
            self.next_stop = schedule.next_stop(local - 1, cfg.billing_day,
                                                 cfg.billing_interval) or 0
        elif local >= self.next_stop:
            stop_utc = self.zone.utc(self.next_stop)
            flags = bl.LATE if utc - stop_utc >= 2 * self.period else 0
            self.stop(stop_utc if flags else utc, flags)
            self.next_stop = schedule.next_stop(local, cfg.billing_day,
                                                cfg.billing_interval) or 0
        if self.billing2 is not None and self.last and bl.due(
                self.zone.local(self.last), local, cfg.billing2):
            self.billing2.freeze(self.values(utc, 0, False))

    def stop(self, utc, flags=0):
        """A billing stop (scheduled, external input or command: flags EXTERNAL)."""
        self.stops += 1
        v = self.values(utc, flags, True)
        if self.billing is not None:
            self.billing.freeze(v)
        if self.on_event is not None:
            self.on_event(BILLING_STOP, self.stops, flags)
        return v

    def clock_set(self, old, new):
        """The clock was set from UTC `old` to `new`: the open load-profile interval is
        closed now (CLOCK_SET, SHORT) and the next one starts flagged; the open demand
        period is closed; a stop skipped by a jump forward is still made (late), a jump
        back schedules the next stop from the new time."""
        self._cut(old, new, CLOCK_SET | SHORT)
        if self.demand.end is not None:
            self.demand.tick(self.demand.end)
        if new < old:
            self.next_stop = 0
            self.repeat_until = max(self.repeat_until, old)
        self.last = new

    def _cut(self, at, resume, flags):
        """Close the open load-profile interval early at UTC `at` (its status plus
        `flags`); the next interval runs from `resume` on the current period, flagged."""
        p = self.profile
        if p is None or not self.interval_end:
            return
        st = self.status | flags
        if self.zone.summer(at):
            st |= DST
        p.close(at, self._wh(), st)
        self.interval_end = schedule.period_end(resume + 1, self.period)
        self.status = flags

    def set_period(self, code, utc):
        """A new integration period (code E) while running: the open demand period is
        closed, the open load-profile interval closed early (SHORT); both go on with the
        new period. The maxima, counters and thresholds carry over."""
        new = schedule.period_s(code)
        if new == self.period:
            return
        d = self.demand
        if d.end is not None:
            d.tick(d.end)
        nd = Demand(new, d.tariffs, d.threshold_mw, d.acc_tariff)
        for k in ("last_p", "last_q", "pmax", "qmax", "tmax", "pmax_acc", "qmax_acc",
                  "over", "closed"):
            setattr(nd, k, getattr(d, k))
        self.demand = nd
        self.period = new
        if self.profile is not None:
            self.profile.period = new
        self._cut(utc, utc, SHORT)

    # -- stepping ----------------------------------------------------------------------
    def next_boundary(self, utc):
        """Seconds from `utc` to the next point where something happens (period end,
        tariff switch, billing stop, local midnight); at least 1."""
        z = self.zone
        local = z.local(utc)
        best = schedule.period_end(utc + 1, self.period)
        sw = self.tariffs.next_switch(local)
        if sw is not None:
            best = min(best, z.utc(sw))
        if self.next_stop:
            best = min(best, z.utc(self.next_stop))
        if self.analysis is not None and self.analysis.next_end > utc:
            best = min(best, self.analysis.next_end)
        best = min(best, z.utc(local - local % 86400 + 86400))
        return max(1, best - utc)

    # -- persistence -------------------------------------------------------------------
    def shown(self):
        """Values whose change makes a save even when no energy register moves: the
        hour counter (whole hours) and the number of billing stops."""
        return self.hours_s // 3600 * 65536 + self.stops

    def state(self):
        ps = self.profile.state() if self.profile is not None else ()
        head = (STATE_VERSION, self.hours_s, self.stops, self.pulses, self.last,
                self.interval_end, self.status, self.next_stop, self.repeat_until)
        ts = self.treg.state()
        ds = self.demand.state()
        return head + (len(ts),) + ts + (len(ds),) + ds + (len(ps),) + tuple(ps)

    def _parts(self, st):
        if len(st) < _HEAD + 3 or st[0] != STATE_VERSION:
            raise ValueError("logbook state: version or length")
        i = _HEAD
        parts = []
        for _ in range(3):
            n = st[i]
            parts.append(tuple(st[i + 1:i + 1 + n]))
            i += 1 + n
        if i != len(st):
            raise ValueError("logbook state: %d fields, expected %d" % (len(st), i))
        return parts

    def check(self, st):
        ts, ds, ps = self._parts(st)
        TariffRegisters(self.treg.n).restore(ts)
        Demand(self.period, self.demand.tariffs).restore(ds)
        if self.profile is not None and len(ps) not in (0, self.profile.n):
            raise ValueError("logbook state: profile start values")

    def restore(self, st):
        self.check(st)
        ts, ds, ps = self._parts(st)
        (_v, self.hours_s, self.stops, self.pulses, self.last, self.interval_end,
         self.status, self.next_stop, self.repeat_until) = st[:_HEAD]
        self.treg.restore(ts)
        self.demand.restore(ds)
        if self.profile is not None:
            self.profile.restore(ps)
            if not ps:
                self.interval_end = 0


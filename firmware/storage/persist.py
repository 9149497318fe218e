"""Persistence of the meter: registers saved at every displayed change, restored at boot, events.

Boot (mount): every area is scanned; a write cut by a power failure is logged as
TORN_WRITE, corrupt records as CORRUPT (the data-lost indication). The energy
registers resume from the newest record that restores; if it is unusable the
older ones are tried, so the meter never starts from zero while good data
exists (RESTORE_FAILED and the data-lost indication when none is usable).

Running: after each measurement period, if any register's shown value (its
value in display steps, energy/resolution.py; primary and secondary) changed,
or the extra state's shown() value did (the hour and stop counters), a save is
made: the register state (exact, residues included) as kind 0 and the extra
state (the logbook) as kind 1, both headed by the same save number; boot takes
the newest complete pair. An orderly power-down saves once more. At most the
change in flight is lost to a cut.
"""

from ..energy import resolution
from ..logs import events as ev
from .codec import first_uint, pack_uints, unpack_uints

REGISTERS = "registers"


class Persistence:
    def __init__(self, store, registers, cfg, clock, extra=None):
        self.store = store
        self.reg = registers
        self.extra = extra      # check(st)/restore(st)/state() of the meter's other values
        self.save_no = 0
        self.cfg = cfg
        self.clock = clock
        self.step = resolution.energy_display(cfg, True)[0]
        self.step_secondary = resolution.energy_display(cfg, False)[0]
        n = len(registers.primary)
        self._shown = [-1] * (2 * n)
        self._extra_shown = None
        self.saves = 0
        self.errors = 0
        self.data_lost = False
        self.boot = {}          # area -> (torn, corrupt) from the mount
        self.restored = None    # sequence number of the register record in use

    def configure(self, cfg):
        """A new configuration while running: the display steps that trigger saves
        follow it, and both parts are kept in the store (JSON, as at first start)."""
        import json

        self.cfg = cfg
        self.step = resolution.energy_display(cfg, True)[0]
        self.step_secondary = resolution.energy_display(cfg, False)[0]
        legal, settings = cfg.split()
        for area, part in (("legal", legal), ("settings", settings)):
            text = json.dumps(part).encode()
            try:
                if self.store.get(area) != text:
                    self.store.put(area, text)
            except OSError:
                self.errors += 1
        self.save()

    # -- events ------------------------------------------------------------------------
    def log(self, code, a=0, b=0):
        try:
            self.store.append("events", ev.pack(self.clock.now(), code, a, b))
        except OSError:
            self.errors += 1
        if code in ev.LOSS:
            self.data_lost = True

    def events(self):
        out = []
        for _seq, p in self.store.iter("events"):
            try:
                out.append(ev.unpack(p))
            except ValueError:
                pass
        return out

    def clear_status(self):
        self.data_lost = False
        self.log(ev.STATUS_CLEARED)

    # -- boot --------------------------------------------------------------------------
    def mount(self):
        st = self.store
        self.boot = st.boot if st.boot is not None else st.mount()
        self.data_lost = ev.data_lost(self.events())
        for name in st.names:
            torn, corrupt = self.boot[name]
            if torn:
                self.log(ev.TORN_WRITE, st.index(name), torn)
            if corrupt:
                self.log(ev.CORRUPT, st.index(name), corrupt)
                try:
                    st.area(name).retire_corrupt()     # logged once, not at every boot
                except OSError:
                    self.errors += 1
        self._restore()
        self.log(ev.POWER_UP)
        self._mark()

    def _restore(self):
        reg = self.reg
        want_ct = self.cfg.ct
        area = self.store.area(REGISTERS)
        t0 = area.latest(0)
        t1 = area.latest(1) if self.extra is not None else None
        if t0 is not None:
            n0 = first_uint(t0[1])
            n1 = first_uint(t1[1]) if t1 is not None else n0
            if n0 == n1 and self._try(t0[1], t1[1] if t1 is not None else None):
                self.restored = t0[0]
            else:
                # the newest save is incomplete (cut between its records) or unusable:
                # walk the area and keep the newest complete save that restores
                good, tried = self._walk(area)
                if good is None:
                    self.log(ev.RESTORE_FAILED, self.store.index(REGISTERS), tried)
                else:
                    self.restored = good
                    if n0 == n1:          # a complete newest save that did not restore
                        self.log(ev.CORRUPT, self.store.index(REGISTERS), 1)
        if self.restored is not None and (reg.ct != want_ct or reg.vt != self.cfg.vt):
            old = reg.ct[0]
            reg.set_ratio(want_ct, self.cfg.vt)
            self.log(ev.CT_CHANGED, old, want_ct[0])
            self.save()

    def _walk(self, area):
        """Oldest first: every complete save is tried, so the last success is the newest
        usable one (restore() validates before it changes anything)."""
        pending = None      # (save number, payload) of a register record awaiting its pair
        good = None
        tried = 0
        for seq, kind, p in area.walk():
            n = first_uint(p)
            if kind == 0:
                pending = (n, p, seq)
                if self.extra is None:
                    tried += 1
                    if self._try(p, None):
                        good = seq
            elif pending is not None and pending[0] == n:
                tried += 1
                if self._try(pending[1], p):
                    good = pending[2]
        return good, tried

    def _try(self, p0, p1):
        try:
            st = unpack_uints(p0)[1:]
            ex = unpack_uints(p1)[1:] if p1 is not None else None
            self.reg.check(st)
            if ex is not None:
                self.extra.check(ex)
        except ValueError:
            return False
        self.reg.restore(st)
        if ex is not None:
            self.extra.restore(ex)
        self.save_no = first_uint(p0)
        return True

    # -- running -----------------------------------------------------------------------
    def _mark(self):
        """Remember the shown values; True if any changed."""
        reg = self.reg
        sh = self._shown
        n = len(reg.primary)
        st = self.step
        ss = self.step_secondary
        changed = False
        for i in range(n):
            v = reg.primary[i] // st
            if v != sh[i]:
                sh[i] = v
                changed = True
            v = reg.secondary[i] // ss
            if v != sh[n + i]:
                sh[n + i] = v
                changed = True
        ex = self.extra
        if ex is not None and hasattr(ex, "shown"):
            v = ex.shown()          # e.g. the hour counter: kept even with no load
            if v != self._extra_shown:
                self._extra_shown = v
                changed = True
        return changed

    def period(self):
        """After a measurement period: save if a shown value changed."""
        if self._mark():
            self.save()

    def save(self):
        """One save: the registers (kind 0) and, with the same save number, the extra
        state (kind 1: tariff registers, counters, demand...). A cut between the two
        leaves the previous complete save in force."""
        n = self.save_no + 1
        try:
            self.store.put(REGISTERS, pack_uints((n,) + tuple(self.reg.state())), 0)
            if self.extra is not None:
                self.store.put(REGISTERS, pack_uints((n,) + tuple(self.extra.state())), 1)
        except OSError:
            self.errors += 1
            return False
        self.save_no = n
        self.saves += 1
        return True

    def power_down(self):
        self._mark()
        self.save()
        self.log(ev.POWER_DOWN)

"""Analysis logger (162K): up to 16 chosen registers logged at a chosen interval, on the store.

Configuration (config["analysis"], a setting): None (off) or
    {"registers": ["a_plus", "r_plus", "hours", ...], "interval_s": 900}
Registers: the energy registers (energy/registers.py NAMES, whole Wh, primary),
the tariff registers "a_plus_t1".."a_plus_t8", "r_plus_t1".."r_plus_t8" (Wh), "hours"
(hour counter), "stops" (billing stops), "pulse_input" (0.001 unit) and "demand" (W,
the mean of the last closed integration period). The interval divides a day
(60 s .. 86400 s, whole minutes) and entries are aligned to UTC, like the load
profile.

Entry = one record of the store's "analysis" area (128-byte slots, 118-byte
payload): UTC u32 of the interval end, then one u32 per register (clamped). The
depth in days is the area's depth times the interval: with the product layout
(24 blocks, 736 entries) from 2.6 days at 5 min to 736 days at 24 h, the
datasheet's 2.5..520 days.
"""

import struct

from ..energy.registers import NAMES

KIND = 1
MAX_REGISTERS = 16
_U32 = 0xFFFFFFFF
EXTRA = ("hours", "stops", "pulse_input", "demand")
TARIFF = tuple("a_plus_t%d" % t for t in range(1, 9)) + tuple("r_plus_t%d" % t
                                                                for t in range(1, 9))
CHOICES = NAMES + TARIFF + EXTRA


def check(cfg):
    """Validate config["analysis"]; returns (registers tuple, interval_s) or None."""
    if cfg is None:
        return None
    if not isinstance(cfg, dict):
        raise ValueError("config.analysis: an object {registers, interval_s} or null")
    for k in cfg:
        if k not in ("registers", "interval_s"):
            raise ValueError("config.analysis.%s: unknown setting" % k)
    regs = cfg.get("registers")
    if not isinstance(regs, (list, tuple)) or not 1 <= len(regs) <= MAX_REGISTERS:
        raise ValueError("config.analysis.registers: 1..%d register names" % MAX_REGISTERS)
    for i, r in enumerate(regs):
        if r not in CHOICES:
            raise ValueError("config.analysis.registers[%d]: unknown register %r" % (i, r))
    iv = cfg.get("interval_s")
    if not isinstance(iv, int) or isinstance(iv, bool) or not 60 <= iv <= 86400 \
            or iv % 60 or 86400 % iv:
        raise ValueError("config.analysis.interval_s: whole minutes dividing a day, "
                         "60..86400 s, got %r" % (iv,))
    return tuple(regs), iv


def depth_days(store_depth, interval_s):
    return store_depth * interval_s / 86400


class AnalysisLogger:
    def __init__(self, store, cfg, area="analysis"):
        regs, iv = check(cfg)
        self.area = store.area(area)
        self.registers = regs
        self.interval = iv
        self._fmt = "<I" + "I" * len(regs)
        if struct.calcsize(self._fmt) > self.area.capacity:
            raise ValueError("analysis: %d registers do not fit area %s"
                             % (len(regs), area))
        self.next_end = 0

    def update(self, utc, value):
        """After a measurement period ending at UTC `utc`: log an entry when an interval
        end was reached. value(name) gives a register's value now."""
        if not self.next_end:
            self.next_end = utc - utc % self.interval + self.interval
            return None
        if utc < self.next_end:
            return None
        vals = []
        for r in self.registers:
            v = value(r)
            vals.append(0 if v < 0 else (_U32 if v > _U32 else v))
        seq = self.area.append(KIND, struct.pack(self._fmt, self.next_end, *vals))
        self.next_end = utc - utc % self.interval + self.interval
        return seq

    def entries(self, utc_from=None, utc_to=None):
        """(utc_end, values) oldest first."""
        for _q, p in self.area.iter(KIND):
            if len(p) != struct.calcsize(self._fmt):
                continue            # written under another configuration
            e = struct.unpack(self._fmt, p)
            if (utc_from is None or e[0] >= utc_from) and (utc_to is None or e[0] <= utc_to):
                yield e[0], e[1:]

    def depth(self):
        return self.area.depth()

    def days(self):
        return depth_days(self.depth(), self.interval)

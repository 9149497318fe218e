"""Load profile: one entry per integration period with each channel's energy, on the record store.

Channels follow the energy type of the order code (X5, 162 and 351B datasheets):

    X5  name        channels (register indices of energy/registers.py)
    1   "A+"        A+
    2   "A+A-"      A+, A-
    3   "A+R+"      A+, R+
    4   "A+A-R+R-"  A+, A-, R+, R-
    5   "A+R1"      A+, R1 (162 only)

The interval is the integration period (code E: 300, 900, 1800, 3600 s); the
meter closes an entry at each clock-aligned interval end (time/schedule.py
period_end), and early, flagged SHORT, when the clock is set or at power-up.

Entry = one record of the store's "profile" area, kind = the X5 code (so
entries of another energy type are never misread), payload little endian,
5 + 4 * channels bytes (21 for 4 channels; the area's slot takes 22):
    0   u32  UTC seconds of the interval end
    4   u8   status (bits below)
    5   u32  per channel: whole Wh of the interval = the register's whole-Wh value
             at the end minus its value at the start of the interval

Every close() makes its end values the next interval's start values, so the
entries of any run of intervals sum exactly to the registers' whole-Wh
difference over the run (no rounding, no drift). A difference outside u32 (the
register went back, or > 4.29 GWh in one interval: a caller fault) is stored
clamped (0 or 0xFFFFFFFF) with INVALID set, and the next interval starts from the
new values. The start values live in RAM: state()/restore() let the meter keep
them with its registers, so a power failure does not lose energy from the profile.

Register values are given by the caller in whole Wh (primary or secondary per
config code QQ): either the channel values in channel order, or all registers
in NAMES order (the 8 whole-Wh values; the 4-channel type reads the same either way).
"""

import struct

from ..energy.registers import A_MINUS, A_PLUS, N_REG, R1, R_MINUS, R_PLUS

# status bits of an entry
POWER_FAIL = 1    # the power failed during the interval
CLOCK_SET = 2     # the clock was set during the interval
DST = 4           # summer time was in force at the interval end
INVALID = 8       # the values are not trustworthy (e.g. a register went back)
SHORT = 16        # the interval was shorter than the period (clock set, power-up)
STATUS_ALL = 31

ENERGY_TYPES = ("A+", "A+A-", "A+R+", "A+A-R+R-", "A+R1")   # X5 code - 1
CHANNELS = {
    "A+": (A_PLUS,),
    "A+A-": (A_PLUS, A_MINUS),
    "A+R+": (A_PLUS, R_PLUS),
    "A+A-R+R-": (A_PLUS, A_MINUS, R_PLUS, R_MINUS),
    "A+R1": (A_PLUS, R1),
}
_REG_NAMES = ("A+", "A-", "R+", "R-", "R1", "R2", "R3", "R4")
PERIODS = (300, 900, 1800, 3600)
MAX_CHANNELS = 4
_U32 = 0xFFFFFFFF


def entry_size(nchannels):
    """Payload bytes of one entry with `nchannels` channels."""
    return 5 + 4 * nchannels


def _check_period(period_s):
    if period_s not in PERIODS:
        raise ValueError("profile period: 300, 900, 1800 or 3600 s, got %r" % (period_s,))


def depth_days(period_s, nchannels, store_depth):
    """Whole days of profile a store that keeps `store_depth` entries holds: one entry per
    period whatever the channels (every energy type fits one record)."""
    _check_period(period_s)
    if not isinstance(nchannels, int) or not 1 <= nchannels <= MAX_CHANNELS:
        raise ValueError("profile channels: 1..%d, got %r" % (MAX_CHANNELS, nchannels))
    if not isinstance(store_depth, int) or store_depth < 0:
        raise ValueError("profile store depth: an int >= 0, got %r" % (store_depth,))
    return store_depth * period_s // 86400


def decode(payload):
    """(utc_end, status, values tuple) of an entry payload; ValueError if malformed."""
    n = len(payload) - 5
    if n < 4 or n % 4 or n > 4 * MAX_CHANNELS:
        raise ValueError("profile entry: %d bytes" % len(payload))
    v = struct.unpack("<IB" + "I" * (n // 4), payload)
    return v[0], v[1], v[2:]


class LoadProfile:
    def __init__(self, store, channels, period_s, area="profile"):
        if channels not in CHANNELS:
            raise ValueError("profile channels: one of %s, got %r"
                             % (", ".join(ENERGY_TYPES), channels))
        _check_period(period_s)
        self.store = store
        self.area = store.area(area)
        self.channels = channels
        self.regs = CHANNELS[channels]
        self.n = len(self.regs)
        self.kind = ENERGY_TYPES.index(channels) + 1
        self.period = period_s
        self.size = entry_size(self.n)
        if self.size > self.area.capacity:
            raise ValueError("profile: an entry of %d bytes does not fit area %s (%d bytes)"
                             % (self.size, area, self.area.capacity))
        self._fmt = "<IB" + "I" * self.n
        self.begin = None     # channel whole-Wh values at the start of the open interval

    def names(self):
        """Channel names in entry order, e.g. ("A+", "R+")."""
        return tuple(_REG_NAMES[i] for i in self.regs)

    def _values(self, reg_wh):
        """The channel values of `reg_wh` (channel values, or all registers in NAMES order)."""
        try:
            ln = len(reg_wh)
        except TypeError:
            raise ValueError("profile registers: a tuple of whole Wh, got %r"
                             % (reg_wh,)) from None
        if ln == self.n:
            vals = tuple(reg_wh)
        elif ln == N_REG:
            vals = tuple(reg_wh[i] for i in self.regs)
        else:
            raise ValueError("profile registers: %d values (the %d channels or all %d "
                             "registers), got %d" % (self.n, self.n, N_REG, ln))
        for j in range(self.n):
            v = vals[j]
            if not isinstance(v, int) or v < 0:
                raise ValueError("profile register %s: whole Wh >= 0, got %r"
                                 % (_REG_NAMES[self.regs[j]], v))
        return vals

    def start(self, reg_wh):
        """The register values (whole Wh) at the start of the current interval."""
        self.begin = self._values(reg_wh)

    def close(self, utc_end, reg_wh, status=0):
        """Append the entry of the interval ending at `utc_end` with the registers now;
        returns the record's sequence number (the entry is durable when it returns). The
        next interval starts with these register values."""
        if self.begin is None:
            raise ValueError("profile: close() before start()")
        if not isinstance(utc_end, int) or not 0 <= utc_end <= _U32:
            raise ValueError("profile utc_end: UTC seconds 0..2**32-1, got %r" % (utc_end,))
        if not isinstance(status, int) or status & ~STATUS_ALL or status < 0:
            raise ValueError("profile status: bits of %d, got %r" % (STATUS_ALL, status))
        end = self._values(reg_wh)
        d = [0] * self.n
        for j in range(self.n):
            x = end[j] - self.begin[j]
            if x < 0:
                x = 0
                status |= INVALID
            elif x > _U32:
                x = _U32
                status |= INVALID
            d[j] = x
        seq = self.area.append(self.kind, struct.pack(self._fmt, utc_end, status, *d))
        self.begin = end
        return seq

    def entries(self, utc_from=None, utc_to=None):
        """(utc_end, status, values) of the held entries, oldest first, with
        utc_from <= utc_end <= utc_to (None: open). Every entry is looked at (after a
        clock set the end times need not rise)."""
        for _q, p in self.area.iter(self.kind):
            e = decode(p)
            t = e[0]
            if (utc_from is None or t >= utc_from) and (utc_to is None or t <= utc_to):
                yield e

    def depth(self):
        """Entries the profile is guaranteed to hold (the newest)."""
        return self.area.depth()

    def days(self):
        """Whole days of profile that depth() covers at this period."""
        return depth_days(self.period, self.n, self.depth())

    def state(self):
        """The open interval's start values, to keep with the registers ( () before start)."""
        return () if self.begin is None else self.begin

    def restore(self, st):
        if len(st) == 0:
            self.begin = None
            return
        if len(st) != self.n:
            raise ValueError("profile state: %d values for %d channels" % (len(st), self.n))
        self.begin = self._values(st)

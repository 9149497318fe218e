"""Local time of the meter: GMT offset (config code LL) and summer time table (code PPP).

LL 00..12 is GMT+0..+12 h, 13..23 is GMT-11..-1 h (datasheet, Konfiguration 3;
01 is DK-D-F-E-SE, 02 FIN). PPP 000 is no summer time, 001 the EU rule: summer
time (+1 h) from the last Sunday of March to the last Sunday of October, both
changes at 01:00 UTC (Directive 2000/84/EC), for every offset alike.

Meter time is UTC seconds; local time is derived, so setting the zone never
moves the registers or the logs, and every local wall-clock time but the
repeated hour in autumn maps to exactly one UTC second.
"""

from . import civil

DST_NONE = 0
DST_EU = 1


def ll_offset(ll):
    """Standard offset in seconds of LL code 0..23."""
    if not isinstance(ll, int) or not 0 <= ll <= 23:
        raise ValueError("config.gmt (LL): 00..23, got %r" % (ll,))
    return (ll if ll <= 12 else ll - 24) * 3600


def eu_changes(y):
    """UTC seconds of the EU summer time start and end in year y."""
    return (civil.seconds(y, 3, civil.last_sunday(y, 3), 1),
            civil.seconds(y, 10, civil.last_sunday(y, 10), 1))


class Zone:
    def __init__(self, ll=1, dst=DST_EU):
        self.std = ll_offset(ll)
        if dst not in (DST_NONE, DST_EU):
            raise ValueError("config.dst (PPP): 0 none or 1 EU, got %r" % (dst,))
        self.dst = dst
        self._year = None
        self._span = (0, 0)

    def summer(self, utc):
        """True while summer time is in force at UTC second `utc`."""
        if self.dst == DST_NONE:
            return False
        y = civil.split(utc)[0]
        if y != self._year:
            self._year = y
            self._span = eu_changes(y)
        a, b = self._span
        return a <= utc < b

    def offset(self, utc):
        return self.std + (3600 if self.summer(utc) else 0)

    def local(self, utc):
        """Local wall-clock seconds (since 1970-01-01 00:00 local) of UTC second `utc`."""
        return utc + self.offset(utc)

    def utc(self, local, later=False):
        """UTC second of a local wall-clock second. In the autumn's repeated hour the
        first occurrence (summer time) is taken unless later=True; a time skipped in
        spring is taken as if summer time had not started (it is 1 h later then)."""
        a = local - self.std - 3600
        b = local - self.std
        ok_a = self.summer(a)
        ok_b = not self.summer(b)
        if ok_a and ok_b:
            return b if later else a
        if ok_a:
            return a
        return b

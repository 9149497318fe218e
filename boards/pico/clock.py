"""The meter clock on the RP2040: UTC seconds in machine.RTC, milliseconds from time.ticks_ms.

    clock = PicoClock(machine.RTC(), time)
    clock.now() -> UTC seconds; clock.ticks_ms(); clock.set(utc)   (hal.py Clock)

The RTC holds UTC (never local time: the meter's zone and DST are firmware/time/zone.py's)
as the datetime tuple (year, month, day, weekday, hours, minutes, seconds, subseconds);
the conversion is firmware/time/civil.py's integer calendar, not time.mktime (whose epoch
and zone differ between ports). The weekday written is 0 = Monday (the rp2 port ignores
it and computes its own); subseconds are 0 (the rp2 port returns 0).

No battery: the RP2040's RTC runs only while the chip is powered and MicroPython's rp2
start-up code sets it to 2021-01-01 00:00:00 at every hard reset (power-up, watchdog
reset, the RUN pin; a soft reset keeps it). So after every power cut, and after a
watchdog reset, the clock is wrong until it is set through the optical port (W1 of
0.9.1/0.9.2, comms/programming.py) or by the head-end. At boot the board's main loop
(boards/pico/main.py) calls restore(last) with the newest time the store knows (the
event log and the registers' last save, storage/persist.py keeps no clock of its own):
an RTC that reads before it is set to it, and `valid` goes False (a CLOCK_SET event
old -> new is logged). The time lost while off is not known: the load profile, demand
and billing go on from the restored time (the logbook marks the power failure it sees
as a jump); until the clock is set `valid` stays False.

ticks_ms() is time.ticks_ms (30-bit, wraps like the firmware's diff() expects).
"""

from mpmeter.time import civil

# a time before this was never set by anyone (the RTC's reset value is 2021-01-01)
VALID_FROM = 1735689600      # 2025-01-01 00:00:00 UTC


class PicoClock:
    def __init__(self, rtc, time):
        self.rtc = rtc
        self.ticks_ms = time.ticks_ms
        self.valid = self.now() >= VALID_FROM
        self.restored = None     # (old, new) of a restore at boot

    def now(self):
        d = self.rtc.datetime()
        return civil.seconds(d[0], d[1], d[2], d[4], d[5], d[6])

    def _write(self, utc):
        y, mo, d, hh, mi, ss = civil.split(utc)
        wd = civil.weekday(utc // 86400) - 1         # 0 = Monday
        self.rtc.datetime((y, mo, d, wd, hh, mi, ss, 0))

    def set(self, utc):
        """Set the clock (the optical port, a test): the time is now known."""
        if utc < 0:
            raise ValueError("clock: UTC seconds >= 0, got %r" % (utc,))
        self._write(utc)
        self.valid = True

    def restore(self, last):
        """Boot: if the RTC reads before `last` (the newest time in the store), set it to
        `last` and mark the clock not valid. Returns the RTC's old reading, or None."""
        old = self.now()
        if last is None or old >= last:
            return None
        self._write(last)
        self.valid = False
        self.restored = (old, last)
        return old

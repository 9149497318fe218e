"""Demand: mean P+ and Q+ over clock-aligned integration periods, maxima with time, per tariff.

Fed once per measurement period with the whole-mWh increments of A+ and R+
(primary, from the registers) and the local time at its end. An integration
period is (end - period, end] in local seconds (time/schedule.py); a
measurement period belongs to the integration period that contains its end.
The mean power of a closed period is exact in integers: mW = mWh * 3600 / period.

Kept: P+max and Q+max with the end time of their period, overall and per tariff
(1 and 2 on the 162, code K), the accumulated maxima (P+max acc, Q+max acc: the
sum of the maxima at each billing stop), and the power-threshold counter (closed
periods whose mean P+ exceeded the configured limit). billing_stop() returns
the values to freeze, adds the maxima to the accumulated ones and resets them.
Periods with no data (the meter was off) are not closed and set no maximum.
"""

from ..time.schedule import period_end

N_FIELDS = 13


class Demand:
    def __init__(self, period_s, tariffs=2, threshold_mw=0, acc_tariff=0):
        if period_s not in (300, 900, 1800, 3600):
            raise ValueError("demand period: 300, 900, 1800 or 3600 s, got %r" % (period_s,))
        self.period = period_s
        self.tariffs = tariffs
        self.threshold_mw = threshold_mw
        self.acc_tariff = acc_tariff     # K (162): accumulate the maxima of this tariff
        self.end = None          # local end of the open period (None: none open)
        self.e_p = 0             # mWh of A+ in the open period
        self.e_q = 0
        self.tariff = 0          # tariff (1..) at the last update of the open period
        self.last_p = 0          # mean of the last closed period, mW (display: demand)
        self.last_q = 0
        self.pmax = [0, 0]       # [mW, local end time]
        self.qmax = [0, 0]
        self.tmax = [[0, 0, 0, 0] for _ in range(tariffs)]   # per tariff: P, t, Q, t
        self.pmax_acc = 0
        self.qmax_acc = 0
        self.over = 0            # power-threshold counter
        self.closed = 0          # periods closed

    def add(self, local, a_plus_mwh, r_plus_mwh, tariff=1):
        """One measurement period ending at local second `local`."""
        end = period_end(local, self.period)
        if self.end is not None and end != self.end:
            self._close()     # the period is over (or the clock was set back: close it)
        if self.end is None or end != self.end:
            self.end = end
            self.e_p = 0
            self.e_q = 0
        self.e_p += a_plus_mwh
        self.e_q += r_plus_mwh
        self.tariff = tariff

    def tick(self, local):
        """Close the open period once the clock has passed its end (call when no
        measurement arrives exactly at the boundary)."""
        if self.end is not None and local >= self.end:
            self._close()
            self.end = None

    def _close(self):
        k = 3600 // self.period
        p = self.e_p * k
        q = self.e_q * k
        t = self.end
        self.last_p = p
        self.last_q = q
        self.closed += 1
        if p > self.pmax[0]:
            self.pmax = [p, t]
        if q > self.qmax[0]:
            self.qmax = [q, t]
        i = self.tariff - 1
        if 0 <= i < self.tariffs:
            m = self.tmax[i]
            if p > m[0]:
                m[0] = p
                m[1] = t
            if q > m[2]:
                m[2] = q
                m[3] = t
        if self.threshold_mw and p > self.threshold_mw:
            self.over += 1
        self.e_p = 0
        self.e_q = 0

    def _acc(self):
        """The (P, Q) maxima the accumulated maxima take at a stop."""
        if self.acc_tariff:
            m = self.tmax[self.acc_tariff - 1]
            return m[0], m[2]
        return self.pmax[0], self.qmax[0]

    def peek(self):
        """The tuple billing_stop() would return, without freezing or resetting."""
        p, q = self._acc()
        return (self.pmax[0], self.pmax[1], self.qmax[0], self.qmax[1],
                [list(m) for m in self.tmax], self.pmax_acc + p, self.qmax_acc + q,
                self.over)

    def billing_stop(self):
        """Freeze and reset the maxima: returns (pmax, pmax time, qmax, qmax time,
        per-tariff [P, t, Q, t]..., P+max acc, Q+max acc, threshold counter)."""
        p, q = self._acc()
        self.pmax_acc += p
        self.qmax_acc += q
        out = (self.pmax[0], self.pmax[1], self.qmax[0], self.qmax[1],
               [list(m) for m in self.tmax], self.pmax_acc, self.qmax_acc, self.over)
        self.pmax = [0, 0]
        self.qmax = [0, 0]
        for m in self.tmax:
            for j in range(4):
                m[j] = 0
        return out

    def state(self):
        """Everything to resume after a restart, as a tuple of ints >= 0."""
        out = [self.end or 0, self.e_p, self.e_q, self.tariff, self.pmax[0], self.pmax[1],
               self.qmax[0], self.qmax[1], self.pmax_acc, self.qmax_acc, self.over,
               self.closed, self.tariffs]
        for m in self.tmax:
            out.extend(m)
        return tuple(out)

    def restore(self, st):
        if len(st) != N_FIELDS + 4 * self.tariffs or st[12] != self.tariffs:
            raise ValueError("demand state: %d fields for %d tariffs" % (len(st), self.tariffs))
        self.end = st[0] or None
        self.e_p, self.e_q, self.tariff = st[1], st[2], st[3]
        self.pmax = [st[4], st[5]]
        self.qmax = [st[6], st[7]]
        self.pmax_acc, self.qmax_acc, self.over, self.closed = st[8], st[9], st[10], st[11]
        for i in range(self.tariffs):
            self.tmax[i] = list(st[N_FIELDS + 4 * i:N_FIELDS + 4 * i + 4])

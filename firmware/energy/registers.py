"""Four-quadrant energy registers (A+, A-, R+, R-, R1..R4) in exact integers (secondary, primary).

Units
    The metrology calls `integrate(p, q, ticks)` once per measurement period with
    the total active power p (W) and reactive power q (var) on the SECONDARY side
    of the instrument transformers, measured over `ticks` / tick_hz seconds.
    Each call converts p and q ONCE into an exact integer increment in mW*tick:
    the nearest integer (ties away from zero) to the exact value of the float
    times 1000 * ticks (the float is split with math.frexp into an integer
    mantissa and a power of two, so no float rounding happens in the product).
    From there on everything is integer: 1 mWh = 3600 * tick_hz mW*tick
    (`unit`); every register keeps a residue below one mWh, and
        register * unit + residue == sum of all its increments, exactly, forever.

Primary registers
    primary = secondary * (ct_p / ct_s) * (vt_p / vt_s), in exact rationals with
    their own residues: residue / pden mWh, pden = unit * den (den of the reduced
    ratio). set_ratio() changes the ratio for new increments only: registered
    primary energy keeps its value, and the residues are carried over exactly
    (pden becomes the lcm of the old and new denominators).

Quadrants (IEC 62053-23): Q1 +P +Q, Q2 -P +Q, Q3 -P -Q, Q4 +P -Q. P >= 0 counts as
import (+P) and Q >= 0 as +Q, so P == 0 with Q > 0 is Q1 and P < 0 with Q == 0
is Q2. |Q| of a period goes to the register of its quadrant. `quadrant` is the
quadrant of the last period (0 when P == 0 and Q == 0), for the LCD indicator.

Increments
    After each integrate(), inc_secondary[i] and inc_primary[i] hold the whole
    mWh that register i (NAMES order) received in that call: feed exactly these
    integers to the pulse outputs, and no pulse is lost or invented.

Persistence: state() -> tuple of ints (registers, residues, ratio, pden);
restore(state) validates and resumes exactly. Residues and pden may exceed
32 bits (the store must keep arbitrary ints, e.g. as 64-bit or varint fields).
"""

import math

from micropython import const

A_PLUS = const(0)
A_MINUS = const(1)
R_PLUS = const(2)
R_MINUS = const(3)
R1 = const(4)
R2 = const(5)
R3 = const(6)
R4 = const(7)
N_REG = const(8)

NAMES = ("a_plus", "a_minus", "r_plus", "r_minus", "r1", "r2", "r3", "r4")
OBIS = {
    "a_plus": "1.8.0",
    "a_minus": "2.8.0",
    "r_plus": "3.8.0",
    "r_minus": "4.8.0",
    "r1": "5.8.0",
    "r2": "6.8.0",
    "r3": "7.8.0",
    "r4": "8.8.0",
}

STATE_VERSION = const(1)
# state layout: version, tick_hz, ct_p, ct_s, vt_p, vt_s, pden, then 4 blocks of N_REG ints
ST_HEAD = const(7)
ST_LEN = const(39)  # ST_HEAD + 4 * N_REG
_HEAD_NAMES = ("version", "tick_hz", "ct primary", "ct secondary", "vt primary",
               "vt secondary", "pden")
_BLOCK_NAMES = ("secondary register", "secondary residue", "primary register",
                "primary residue")

_TWO53 = 9007199254740992.0  # 2**53: a float mantissa times this is an exact integer


def _gcd(a, b):
    while b:
        a, b = b, a % b
    return a


def _is_int(x):
    return isinstance(x, int) and not isinstance(x, bool)


def _check_ratio(what, r):
    try:
        a, b = r
    except (TypeError, ValueError):
        raise ValueError("%s ratio must be a pair (primary, secondary)" % what) from None
    if not (_is_int(a) and _is_int(b)) or a <= 0 or b <= 0:
        raise ValueError("%s ratio must be two positive ints, got %r" % (what, r))
    return a, b


def to_mw_ticks(x, ticks):
    """Nearest integer (ties away from zero) to x * 1000 * ticks, exactly (x finite)."""
    m, e = math.frexp(x)
    n = int(m * _TWO53) * 1000 * ticks  # x * 1000 * ticks == n * 2**(e - 53), exactly
    s = 53 - e
    if s <= 0:
        return n << -s
    if n >= 0:
        return (n + (1 << (s - 1))) >> s
    return -((-n + (1 << (s - 1))) >> s)


class EnergyRegisters:
    """Eight energy registers, secondary and primary, fed once per measurement period."""

    def __init__(self, tick_hz, ct=(1, 1), vt=(1, 1)):
        if not _is_int(tick_hz) or tick_hz <= 0:
            raise ValueError("tick_hz must be a positive int, got %r" % (tick_hz,))
        self.tick_hz = tick_hz
        self.unit = 3600 * tick_hz  # mW*tick per mWh
        self.secondary = [0] * N_REG      # mWh
        self.primary = [0] * N_REG        # mWh
        self.inc_secondary = [0] * N_REG  # mWh added by the last integrate()
        self.inc_primary = [0] * N_REG
        self._res = [0] * N_REG   # mW*tick, 0 <= r < unit
        self._pres = [0] * N_REG  # 1/pden mWh, 0 <= r < pden
        self._pden = self.unit
        self._pmul = 1
        self.ct = (1, 1)
        self.vt = (1, 1)
        self.quadrant = 0
        self.set_ratio(ct, vt)

    def set_ratio(self, ct=(1, 1), vt=(1, 1)):
        """Set CT and VT ratios (primary, secondary) for new increments; old energy stays."""
        ct = _check_ratio("ct", ct)
        vt = _check_ratio("vt", vt)
        num = ct[0] * vt[0]
        den = ct[1] * vt[1]
        g = _gcd(num, den)
        num //= g
        den //= g
        step = self.unit * den
        old = self._pden
        new = old * step // _gcd(old, step)
        k = new // old
        if k != 1:
            pres = self._pres
            for i in range(N_REG):
                pres[i] *= k
        self._pden = new
        self._pmul = num * (new // step)
        self.ct = ct
        self.vt = vt

    def integrate(self, p, q, ticks):
        """Add one measurement period: p W, q var (secondary side) over ticks / tick_hz s."""
        if not _is_int(ticks) or ticks < 0:
            raise ValueError("ticks must be an int >= 0, got %r" % (ticks,))
        if not isinstance(p, (int, float)) or not isinstance(q, (int, float)):
            raise ValueError("p and q must be numbers, got %r, %r" % (p, q))
        p = float(p)
        q = float(q)
        if not math.isfinite(p):
            raise ValueError("p is not finite: %r" % p)
        if not math.isfinite(q):
            raise ValueError("q is not finite: %r" % q)
        dp = to_mw_ticks(p, ticks)
        dq = to_mw_ticks(q, ticks)
        imp = p >= 0  # -0.0 counts as import
        up = q >= 0
        if imp:
            quad = 1 if up else 4
        else:
            quad = 2 if up else 3
        self.quadrant = 0 if (p == 0 and q == 0) else quad
        if imp:
            self._post(A_PLUS, dp)
            self._post(A_MINUS, 0)
        else:
            self._post(A_PLUS, 0)
            self._post(A_MINUS, -dp)
        if up:
            self._post(R_PLUS, dq)
            self._post(R_MINUS, 0)
        else:
            self._post(R_PLUS, 0)
            self._post(R_MINUS, -dq)
        aq = dq if up else -dq
        for r in range(4):
            self._post(R1 + r, aq if r + 1 == quad else 0)

    def _post(self, i, v):
        """Add v >= 0 mW*tick to register i; set its whole-mWh increments."""
        u = self.unit
        r = self._res[i] + v
        w = r // u
        self._res[i] = r - w * u
        self.secondary[i] += w
        self.inc_secondary[i] = w
        d = self._pden
        r = self._pres[i] + v * self._pmul
        w = r // d
        self._pres[i] = r - w * d
        self.primary[i] += w
        self.inc_primary[i] = w

    def mwh(self, name, primary=True):
        """Register value in whole mWh, by name (NAMES)."""
        if name not in NAMES:
            raise ValueError("unknown register %r" % (name,))
        i = NAMES.index(name)
        return self.primary[i] if primary else self.secondary[i]

    def exact(self, name, primary=True):
        """Register value as an exact (numerator, denominator) pair of mWh (tests, diagnostics)."""
        i = NAMES.index(name)
        if primary:
            return self.primary[i] * self._pden + self._pres[i], self._pden
        return self.secondary[i] * self.unit + self._res[i], self.unit

    def state(self):
        """Everything needed to resume exactly, as a tuple of ints (ST_LEN long)."""
        return ((STATE_VERSION, self.tick_hz, self.ct[0], self.ct[1], self.vt[0], self.vt[1],
                 self._pden) + tuple(self.secondary) + tuple(self._res)
                + tuple(self.primary) + tuple(self._pres))

    def check(self, state):
        """ValueError naming the field if `state` cannot be restored; else (ct, vt, pden, den)."""
        try:
            n = len(state)
        except TypeError:
            raise ValueError("state must be a sequence of ints") from None
        if n != ST_LEN:
            raise ValueError("state has %d fields, expected %d" % (n, ST_LEN))
        for k in range(ST_LEN):
            if not _is_int(state[k]):
                raise ValueError("state[%d] (%s) is not an int" % (k, _field(k)))
        if state[0] != STATE_VERSION:
            raise ValueError("state version %d, expected %d" % (state[0], STATE_VERSION))
        if state[1] != self.tick_hz:
            raise ValueError("state tick_hz %d does not match this meter's %d"
                             % (state[1], self.tick_hz))
        ct = _check_ratio("state ct", (state[2], state[3]))
        vt = _check_ratio("state vt", (state[4], state[5]))
        den = ct[1] * vt[1] // _gcd(ct[0] * vt[0], ct[1] * vt[1])
        pden = state[6]
        if pden <= 0 or pden % (self.unit * den):
            raise ValueError("state pden %d is not a positive multiple of %d"
                             % (pden, self.unit * den))
        for k in range(ST_HEAD, ST_LEN):
            v = state[k]
            b = (k - ST_HEAD) // N_REG
            lim = None if b in (0, 2) else (self.unit if b == 1 else pden)
            if v < 0 or (lim is not None and v >= lim):
                raise ValueError("state[%d] (%s) out of range: %d" % (k, _field(k), v))
        return ct, vt, pden, den

    def restore(self, state):
        """Resume from state(); if invalid: ValueError naming the field, and nothing changed."""
        ct, vt, pden, den = self.check(state)
        s = ST_HEAD
        self.secondary[:] = state[s:s + N_REG]
        self._res[:] = state[s + N_REG:s + 2 * N_REG]
        self.primary[:] = state[s + 2 * N_REG:s + 3 * N_REG]
        self._pres[:] = state[s + 3 * N_REG:s + 4 * N_REG]
        self.ct = ct
        self.vt = vt
        self._pden = pden
        self._pmul = (ct[0] * vt[0] // _gcd(ct[0] * vt[0], ct[1] * vt[1])) * (
            pden // (self.unit * den))
        for i in range(N_REG):
            self.inc_secondary[i] = 0
            self.inc_primary[i] = 0
        self.quadrant = 0


def _field(k):
    if k < ST_HEAD:
        return _HEAD_NAMES[k]
    k -= ST_HEAD
    return "%s %s" % (NAMES[k % N_REG], _BLOCK_NAMES[k // N_REG])

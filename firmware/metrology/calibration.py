"""Calibration constants of one measuring system: gains, offsets, phase, and current points.

The engine (metrology/engine.py) applies them once per measurement period, never per
sample. The meter keeps them in the legal configuration (config "calibration": one dict
per measuring system, written through the optical port only with the seal open;
tools/calibrate.py computes them).

    v_gain, i_gain   true / nominal: multiply the board's LSB sizes
    phase            the current's lead correction, in frames (sampling periods): added to
                     the board's skew; one frame is 360 * f / fs degrees
    i_offset         A rms of the current channel's noise floor, removed in quadrature
    p_offset, q_offset   W / var added to P and Q
    points           multi-point correction of the current transformer: a list of
                     [amps, gain, phase] sorted by amps (> 0). At the period's Irms the
                     gain factor and the phase (frames) are interpolated linearly between
                     neighbouring points (held beyond the first and last) and applied on
                     top of i_gain and phase. A CT's ratio and phase errors grow towards
                     low currents; one gain cannot correct both ends of 5(85) A.
"""

KEYS = ("v_gain", "i_gain", "phase", "i_offset", "p_offset", "q_offset")
MAX_POINTS = 8
MAX_PHASE = 20.0          # frames: 1.8 degrees per frame at 4000 frames/s, 50 Hz


def _num(name, x):
    if isinstance(x, bool) or not isinstance(x, (int, float)) or x != x \
            or x in (float("inf"), float("-inf")):
        raise ValueError("calibration.%s: must be a number" % name)
    return float(x)


class Calibration:
    """Per measuring system constants; gains multiply the board's nominal LSB sizes."""

    def __init__(self, v_gain=1.0, i_gain=1.0, phase=0.0, i_offset=0.0, p_offset=0.0,
                 q_offset=0.0, points=None):
        self.v_gain = v_gain
        self.i_gain = i_gain
        self.phase = phase
        self.i_offset = i_offset
        self.p_offset = p_offset
        self.q_offset = q_offset
        self.points = points or []

    def as_dict(self):
        d = {"v_gain": self.v_gain, "i_gain": self.i_gain, "phase": self.phase,
             "i_offset": self.i_offset, "p_offset": self.p_offset,
             "q_offset": self.q_offset}
        if self.points:
            d["points"] = [list(p) for p in self.points]
        return d

    @classmethod
    def from_dict(cls, d):
        """A Calibration from its dict; ValueError naming the bad field."""
        if not isinstance(d, dict):
            raise ValueError("calibration: one object per measuring system")
        c = cls()
        for k in d:
            if k not in KEYS and k != "points":
                raise ValueError("calibration.%s: unknown field" % k)
        for k in KEYS:
            if k in d:
                setattr(c, k, _num(k, d[k]))
        for k in ("v_gain", "i_gain"):
            if not 0.5 <= getattr(c, k) <= 2.0:
                raise ValueError("calibration.%s: gains must lie in 0.5..2.0" % k)
        if not -MAX_PHASE <= c.phase <= MAX_PHASE:
            raise ValueError("calibration.phase: -%g..%g frames" % (MAX_PHASE, MAX_PHASE))
        if c.i_offset < 0:
            raise ValueError("calibration.i_offset: must be >= 0")
        pts = d.get("points", None)
        if pts is None:
            pts = []
        if not isinstance(pts, (list, tuple)) or len(pts) > MAX_POINTS:
            raise ValueError("calibration.points: a list of up to %d [amps, gain, phase]"
                             % MAX_POINTS)
        out = []
        last = 0.0
        for n, p in enumerate(pts):
            name = "points[%d]" % n
            if not isinstance(p, (list, tuple)) or len(p) != 3:
                raise ValueError("calibration.%s: [amps, gain, phase]" % name)
            a = _num(name, p[0])
            g = _num(name, p[1])
            ph = _num(name, p[2])
            if not a > last:
                raise ValueError("calibration.%s: amps must be > 0 and increasing" % name)
            if not 0.5 <= g <= 2.0:
                raise ValueError("calibration.%s: gain must lie in 0.5..2.0" % name)
            if not -MAX_PHASE <= ph <= MAX_PHASE:
                raise ValueError("calibration.%s: phase -%g..%g frames"
                                 % (name, MAX_PHASE, MAX_PHASE))
            last = a
            out.append((a, g, ph))
        c.points = out
        return c

    def at(self, amps):
        """(gain factor, phase frames) of the points at a current (1.0, 0.0 without)."""
        pts = self.points
        if not pts:
            return 1.0, 0.0
        if amps <= pts[0][0]:
            return pts[0][1], pts[0][2]
        k = 1
        n = len(pts)
        while k < n:
            a1, g1, p1 = pts[k]
            if amps <= a1:
                a0, g0, p0 = pts[k - 1]
                x = (amps - a0) / (a1 - a0)
                return g0 + x * (g1 - g0), p0 + x * (p1 - p0)
            k += 1
        return pts[-1][1], pts[-1][2]


def parse(value, nsys):
    """The config's "calibration" value -> a list of nsys Calibration (None: nominal)."""
    if value is None:
        return [Calibration() for _ in range(nsys)]
    if not isinstance(value, (list, tuple)) or len(value) != nsys:
        raise ValueError("config.calibration: a list of %d objects (one per measuring "
                         "system) or null" % nsys)
    out = []
    for n, d in enumerate(value):
        try:
            out.append(Calibration.from_dict(d))
        except ValueError as e:
            raise ValueError("config.calibration[%d]: %s" % (n, e))
    return out

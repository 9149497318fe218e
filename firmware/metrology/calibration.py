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
        """A Calibration from its dict; ValueError naming the bad field
        (metrology/calcheck.py, imported only when a calibration is given)."""
        from .calcheck import from_dict

        return from_dict(d)

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
    from .calcheck import parse as checked

    return checked(value, nsys)

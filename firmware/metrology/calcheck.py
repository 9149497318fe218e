"""Checks of calibration constants from outside (config, optical port): the field named.

Kept apart from metrology/calibration.py so that a meter running nominal constants does
not load this code (the RP2040's heap).
"""

from .calibration import Calibration

KEYS = ("v_gain", "i_gain", "phase", "i_offset", "p_offset", "q_offset")
MAX_POINTS = 8
MAX_PHASE = 20.0          # frames: 1.8 degrees per frame at 4000 frames/s, 50 Hz


def _num(name, x):
    if isinstance(x, bool) or not isinstance(x, (int, float)) or x != x \
            or x in (float("inf"), float("-inf")):
        raise ValueError("calibration.%s: must be a number" % name)
    return float(x)


def from_dict(d):
    """A Calibration from its dict; ValueError naming the bad field."""
    if not isinstance(d, dict):
        raise ValueError("calibration: one object per measuring system")
    c = Calibration()
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


def parse(value, nsys):
    """A given (not None) "calibration" value -> a list of nsys checked Calibration."""
    if not isinstance(value, (list, tuple)) or len(value) != nsys:
        raise ValueError("config.calibration: a list of %d objects (one per measuring "
                         "system) or null" % nsys)
    out = []
    for n, d in enumerate(value):
        try:
            out.append(from_dict(d))
        except ValueError as e:
            raise ValueError("config.calibration[%d]: %s" % (n, e))
    return out

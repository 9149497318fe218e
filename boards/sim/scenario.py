"""Simulator scenarios: load a JSON scenario, validate every field, return it normalised.

Runs under MicroPython and CPython (only `json` is used; dates are computed here).

Format (JSON object):
    start       "YYYY-MM-DDTHH:MM:SSZ"  UTC start of the scenario (required)
    profile     "162" (1 phase) | "351" (3 phases); the ints 162 / 351 are accepted
    wiring      "4w" (default) | "aron" (3-phase 3-wire, two elements; profile 351 only)
    name, description, comment   free text (optional, ignored)
    segments    non-empty list of
        duration_s    number > 0
        frequency_hz  number 40..70 (default 50.0)
        noise         bool (default true): false disables converter noise for exact tests
        label, comment  free text (optional)
        phases        list, 1 entry for profile 162, 3 for 351 (L1, L2, L3):
            v_rms        number 0..500 V
            i_rms        number 0..200 A
            phi_deg      0..360: angle by which the fundamental current lags its voltage
                         (default 0; 90 inductive, 180 pure export, 270 capacitive)
            v_angle_deg  -360..360: the phase's voltage angle (default 0, -120, +120)
            harmonics    list of [order 2..50, V fraction 0..1, I fraction 0..1,
                         angle -360..360 by which that harmonic current lags that
                         harmonic voltage (optional, default 0)]; orders unique

    button      optional list of presses of the meter's push button, each
                [at_s, hold_s]: pressed at at_s seconds after the start (>= 0) for hold_s
                seconds (> 0; a hold of 3 s or more is a long press); in time order,
                not overlapping

Normalised result: the same keys with every default filled, numbers as float
(harmonic order as int, harmonics as 4-element lists sorted by order), profile
as a string, plus "start_epoch" (int UTC seconds) and "duration_s" (total).
Errors raise ValueError("<field path>: <what is wrong>"), e.g.
"segments[2].phases[0].i_rms: must be a number >= 0".
"""

import gc
import json

from mpmeter.time.civil import days_from_civil, days_in_month

PROFILES = {"162": 1, "351": 3}
WIRINGS = ("4w", "aron")
DEFAULT_V_ANGLE = (0.0, -120.0, 120.0)

_TOP_KEYS = ("start", "profile", "wiring", "segments", "name", "description", "comment",
             "button", "start_epoch", "duration_s")   # the last two: validate()'s output
_SEG_KEYS = ("duration_s", "frequency_hz", "noise", "phases", "label", "comment")
_PH_KEYS = ("v_rms", "i_rms", "phi_deg", "v_angle_deg", "harmonics")


def _fail(path, msg):
    raise ValueError("%s: %s" % (path, msg))


def _is_num(x):
    t = type(x)
    return t is int or t is float


def _num(obj, key, path, lo, hi, default=None, lo_open=False):
    """obj[key] as float in [lo, hi] (or (lo, hi] when lo_open); None bounds are open."""
    p = path + key if path == "" else path + "." + key
    if key not in obj:
        if default is None:
            _fail(p, "required")
        return float(default)
    x = obj[key]
    if not _is_num(x):
        _fail(p, "must be a number" + _range_text(lo, hi, lo_open))
    x = float(x)
    if x != x or (lo is not None and (x < lo or (lo_open and x == lo))) or \
            (hi is not None and x > hi):
        _fail(p, "must be a number" + _range_text(lo, hi, lo_open))
    return x


def _range_text(lo, hi, lo_open):
    if lo is not None and hi is not None:
        if lo_open:
            return " > %g and <= %g" % (lo, hi)
        return " in %g..%g" % (lo, hi)
    if lo is not None:
        return (" > %g" if lo_open else " >= %g") % lo
    if hi is not None:
        return " <= %g" % hi
    return ""


def _keys(obj, allowed, path):
    for k in obj:
        if k not in allowed:
            _fail(path + "." + k if path else k, "unknown field")


# -- dates ----------------------------------------------------------------------------
def parse_utc(s, path="start"):
    """ISO-8601 UTC 'YYYY-MM-DDTHH:MM:SSZ' -> int seconds since 1970-01-01T00:00:00Z."""
    if type(s) is not str:
        _fail(path, "must be a string YYYY-MM-DDTHH:MM:SSZ")
    if len(s) != 20 or s[4] != "-" or s[7] != "-" or s[10] not in "Tt" or s[13] != ":" \
            or s[16] != ":" or s[19] not in "Zz":
        _fail(path, "must be ISO-8601 UTC YYYY-MM-DDTHH:MM:SSZ, got %r" % s)
    parts = (s[0:4], s[5:7], s[8:10], s[11:13], s[14:16], s[17:19])
    for q in parts:
        for ch in q:
            if ch not in "0123456789":
                _fail(path, "must be ISO-8601 UTC YYYY-MM-DDTHH:MM:SSZ, got %r" % s)
    y, mo, d, hh, mi, ss = [int(q) for q in parts]
    if y < 1970 or not 1 <= mo <= 12 or not 1 <= d <= days_in_month(y, mo) or hh > 23 \
            or mi > 59 or ss > 59:
        _fail(path, "not a valid date/time >= 1970: %r" % s)
    return days_from_civil(y, mo, d) * 86400 + hh * 3600 + mi * 60 + ss


# -- validation -----------------------------------------------------------------------
def _phase(ph, path, n, inplace):
    if type(ph) is not dict:
        _fail(path, "must be an object")
    _keys(ph, _PH_KEYS, path)
    out = ph if inplace else {}
    out["v_rms"] = _num(ph, "v_rms", path, 0.0, 500.0)
    out["i_rms"] = _num(ph, "i_rms", path, 0.0, 200.0)
    out["phi_deg"] = _num(ph, "phi_deg", path, 0.0, 360.0, 0.0)
    out["v_angle_deg"] = _num(ph, "v_angle_deg", path, -360.0, 360.0, DEFAULT_V_ANGLE[n])
    hs = ph.get("harmonics", [])
    hp = path + ".harmonics"
    if type(hs) is not list:
        _fail(hp, "must be a list of [order, v_fraction, i_fraction(, angle_deg)]")
    seen = []
    res = []
    for k, h in enumerate(hs):
        p = "%s[%d]" % (hp, k)
        if type(h) is not list or not 3 <= len(h) <= 4:
            _fail(p, "must be a list [order, v_fraction, i_fraction(, angle_deg)]")
        o = h[0]
        if type(o) is float and o == int(o):
            o = int(o)
        if type(o) is not int or not 2 <= o <= 50:
            _fail(p + "[0]", "order must be an integer in 2..50")
        if o in seen:
            _fail(p + "[0]", "duplicate harmonic order %d" % o)
        seen.append(o)
        vals = h if inplace else list(h)
        if len(vals) == 3:
            vals.append(0.0)
        vals[0] = o
        for j, (lo, hi, name) in enumerate(((0.0, 1.0, "v_fraction"), (0.0, 1.0, "i_fraction"),
                                            (-360.0, 360.0, "angle_deg"))):
            x = vals[j + 1]
            if not _is_num(x) or x != x or x < lo or x > hi:
                _fail("%s[%d]" % (p, j + 1), "%s must be a number in %g..%g" % (name, lo, hi))
            vals[j + 1] = float(x)
        res.append(vals)
    res.sort(key=lambda v: v[0])
    out["harmonics"] = res
    return out


def validate(sc, inplace=False):
    """Check a scenario (parsed JSON) and return it normalised (see module doc).

    The result is a new dict unless `inplace`: then the segment and phase objects of
    `sc` are normalised in place and reused (saves heap on a large scenario).
    """
    if type(sc) is not dict:
        _fail("scenario", "must be a JSON object")
    _keys(sc, _TOP_KEYS, "")
    if "start" not in sc:
        _fail("start", "required")
    epoch = parse_utc(sc["start"])
    prof = sc.get("profile")
    if type(prof) is int:
        prof = str(prof)
    if prof not in PROFILES:
        _fail("profile", 'must be "162" or "351"')
    nph = PROFILES[prof]
    wiring = sc.get("wiring", "4w")
    if wiring not in WIRINGS:
        _fail("wiring", 'must be "4w" or "aron"')
    if wiring == "aron" and prof != "351":
        _fail("wiring", '"aron" needs profile "351"')
    segs = sc.get("segments")
    if type(segs) is not list or not segs:
        _fail("segments", "must be a non-empty list")
    out_segs = []
    total = 0.0
    for k, seg in enumerate(segs):
        path = "segments[%d]" % k
        if type(seg) is not dict:
            _fail(path, "must be an object")
        _keys(seg, _SEG_KEYS, path)
        dur = _num(seg, "duration_s", path, 0.0, None, lo_open=True)
        freq = _num(seg, "frequency_hz", path, 40.0, 70.0, 50.0)
        noise = seg.get("noise", True)
        if type(noise) is not bool:
            _fail(path + ".noise", "must be true or false")
        phs = seg.get("phases")
        if type(phs) is not list or len(phs) != nph:
            _fail(path + ".phases", "must be a list of %d phase(s) for profile %s" % (nph, prof))
        phases = [_phase(ph, "%s.phases[%d]" % (path, n), n, inplace)
                  for n, ph in enumerate(phs)]
        o = seg if inplace else {}
        o["duration_s"] = dur
        o["frequency_hz"] = freq
        o["noise"] = noise
        o["phases"] = phases
        if "label" in seg:
            o["label"] = seg["label"]
        if "comment" in o:
            del o["comment"]
        out_segs.append(o)
        total += dur
    out = {"start": sc["start"], "start_epoch": epoch, "profile": prof, "wiring": wiring,
           "segments": out_segs, "duration_s": total}
    if "name" in sc:
        out["name"] = sc["name"]
    out["button"] = _presses(sc.get("button", []))
    return out


def _presses(lst):
    if type(lst) is not list:
        _fail("button", "must be a list of [at_s, hold_s] presses")
    out = []
    end = -1.0
    for k, p in enumerate(lst):
        path = "button[%d]" % k
        if type(p) is not list or len(p) != 2 or not _is_num(p[0]) or not _is_num(p[1]):
            _fail(path, "must be [at_s, hold_s] (two numbers)")
        at, hold = float(p[0]), float(p[1])
        if at < 0 or not hold > 0:
            _fail(path, "at_s must be >= 0 and hold_s > 0")
        if at <= end:
            _fail(path, "presses must be in time order and must not overlap")
        end = at + hold
        out.append([at, hold])
    return out


def loads(text):
    """Parse JSON text and validate it."""
    try:
        obj = json.loads(text)
    except ValueError as e:
        raise ValueError("scenario: not valid JSON (%s)" % e)
    return validate(obj, True)


def load(path):
    """Read a scenario file and validate it (normalised in place: light on the heap)."""
    with open(path) as f:
        try:
            obj = json.load(f)
        except ValueError as e:
            raise ValueError("%s: not valid JSON (%s)" % (path, e))
    gc.collect()
    return validate(obj, True)

"""Analytic truth for the accuracy tests: exact energies and per-phase quantities of a scenario.

CPython only, independent of boards/sim (it reads the scenario dict itself, raw or
normalised, and fills the same defaults) and of the metrology.

Conventions (the scenario format of boards/sim/scenario.py):
    rms phasors, per phase with voltage angle va (radians):
        V_1 = V e^{j va},          I_1 = I e^{j (va - phi)}
        V_h = V fv_h e^{j h va},   I_h = I fi_h e^{j (h va - phi_h)}
    P = sum_h Re(V_h conj(I_h)) = sum_h V_h I_h cos(phi_h)
    Q = sum_h Im(V_h conj(I_h)) = sum_h V_h I_h sin(phi_h)        (Budeanu)
    Vrms = sqrt(sum_h |V_h|^2), Irms likewise, S = Vrms * Irms.
Wiring "aron" (two-wattmeter): the measuring systems are (V1 - V2, I1) and
(V3 - V2, I3); their P and Q are what such a meter measures (equal to the 4-wire
total when i1 + i2 + i3 = 0).

Energies per segment (P, Q constant within it), in Wh, of the totals over the
measuring systems:
    A+ = max(P, 0) dt, A- = max(-P, 0) dt, R+ = max(Q, 0) dt, R- = max(-Q, 0) dt
    R1 (Q1: +P +Q), R2 (Q2: -P +Q), R3 (Q3: -P -Q), R4 (Q4: +P -Q), all >= 0.
A P or Q smaller than 1e-9 of |S| (rounding residue of cos 90 deg etc.) counts
as 0; P = 0 counts as import (Q1 / Q4), Q = 0 as no reactive energy.
"""

import cmath
import math

KEYS = ("A+", "A-", "R+", "R-", "R1", "R2", "R3", "R4")
DEFAULT_V_ANGLE = (0.0, -120.0, 120.0)


def _phasors(ph, n):
    """{order: (V_h, I_h)} complex rms phasors of one phase dict (defaults filled here)."""
    va = math.radians(ph.get("v_angle_deg", DEFAULT_V_ANGLE[n]))
    v = float(ph["v_rms"])
    i = float(ph["i_rms"])
    phi = math.radians(ph.get("phi_deg", 0.0))
    out = {1: (cmath.rect(v, va), cmath.rect(i, va - phi))}
    for h in ph.get("harmonics", []):
        order, fv, fi = int(h[0]), float(h[1]), float(h[2])
        ang = math.radians(h[3]) if len(h) > 3 else 0.0
        out[order] = (cmath.rect(v * fv, order * va), cmath.rect(i * fi, order * va - ang))
    return out


def _quantities(vs, is_):
    """P, Q, S, Vrms, Irms of a system from {order: V} and {order: I}."""
    p = q = 0.0
    for h, v in vs.items():
        if h in is_:
            s = v * is_[h].conjugate()
            p += s.real
            q += s.imag
    vr = math.sqrt(sum(abs(v) ** 2 for v in vs.values()))
    ir = math.sqrt(sum(abs(i) ** 2 for i in is_.values()))
    return {"p_w": p, "q_var": q, "s_va": vr * ir, "v_rms": vr, "i_rms": ir}


def segment_systems(seg, wiring="4w"):
    """(phases, systems): per-phase quantities, and per measuring system for `wiring`."""
    pp = [_phasors(ph, n) for n, ph in enumerate(seg["phases"])]
    phases = [_quantities({h: vi[0] for h, vi in d.items()}, {h: vi[1] for h, vi in d.items()})
              for d in pp]
    if wiring != "aron":
        return phases, phases
    systems = []
    for a, c in ((0, 0), (2, 2)):
        orders = set(pp[a]) | set(pp[1])
        u = {h: pp[a].get(h, (0j, 0j))[0] - pp[1].get(h, (0j, 0j))[0] for h in orders}
        i = {h: vi[1] for h, vi in pp[c].items()}
        systems.append(_quantities(u, i))
    return phases, systems


def _snap(x, s):
    return 0.0 if abs(x) <= 1e-9 * s else x


def quadrant_energies(p, q, dt_s, s=None):
    """{A+, A-, R+, R-, R1..R4} in Wh for constant P (W) and Q (var) during dt_s seconds."""
    if s is None:
        s = math.hypot(p, q)
    p = _snap(p, s)
    q = _snap(q, s)
    h = dt_s / 3600.0
    e = dict.fromkeys(KEYS, 0.0)
    e["A+"] = max(p, 0.0) * h
    e["A-"] = max(-p, 0.0) * h
    e["R+"] = max(q, 0.0) * h
    e["R-"] = max(-q, 0.0) * h
    if p >= 0:
        e["R1"] = e["R+"]
        e["R4"] = e["R-"]
    else:
        e["R2"] = e["R+"]
        e["R3"] = e["R-"]
    return e


def energies(scenario, wiring=None):
    """Exact energies of a scenario.

    Returns {"wiring": w, "segments": [seg...], "total": {"duration_s", A+ .. R4 (Wh)}},
    each seg = {"duration_s", "frequency_hz", "p_w", "q_var" (totals over the measuring
    systems), "phases": [per phase {p_w, q_var, s_va, v_rms, i_rms}], "systems": [the
    same per measuring system (= phases for 4w)], A+ .. R4 (Wh)}.
    wiring: "4w" | "aron"; None takes the scenario's (default "4w").
    """
    w = wiring or scenario.get("wiring", "4w")
    total = dict.fromkeys(KEYS, 0.0)
    total["duration_s"] = 0.0
    segs = []
    for seg in scenario["segments"]:
        dt = float(seg["duration_s"])
        phases, systems = segment_systems(seg, w)
        p = sum(x["p_w"] for x in systems)
        q = sum(x["q_var"] for x in systems)
        s = sum(x["s_va"] for x in systems)
        e = quadrant_energies(p, q, dt, s)
        d = {"duration_s": dt, "frequency_hz": float(seg.get("frequency_hz", 50.0)),
             "p_w": p, "q_var": q, "phases": phases, "systems": systems}
        d.update(e)
        segs.append(d)
        for k in KEYS:
            total[k] += e[k]
        total["duration_s"] += dt
    return {"wiring": w, "segments": segs, "total": total}

"""Calibrate an mpmeter in the field over its optical port: gains, offsets, phase, CT points.

    python tools/calibrate.py (--tcp HOST:PORT | --serial DEVICE) [--password PW]
                              [--address ADDR] [--plan PLAN.json]
                              (--manual | --bench tcp:127.0.0.1:PORT)
                              [--window S] [--dry-run] [--out RESULT.json]

The meter must have its verification seal open (the calibration is a legal setting):
the tool signs on in programming mode (P1 with the password), reads the configuration
and the calibration in use, then for every point of the plan:

  1. the reference load is applied: --manual asks you to set it and to type the
     reference meter's readings per phase (U, I, P, Q; Enter keeps the plan's value);
     --bench sets it on a remote-controlled test bench (the simulator's bench,
     boards/sim/models.py), whose values are the reference;
  2. the meter's own averages over --window seconds of its measurement periods are read
     (R1 "measure": Vrms, Irms, P, Q per phase, after one window is discarded so that no
     period straddles the change);
  3. the errors of U, I, P and Q against the reference are kept.

From the "before" errors it computes, per measuring system: the voltage gain (mean of
U ratios), the current gain and phase at the reference current (P at PF 1 and the angle
of P + jQ at PF 0.5 inductive), a CT correction point for every other current of the plan
(gain and phase relative to the reference current: the meter interpolates between them,
firmware/metrology/calibration.py), and the current channel's noise floor (i_offset) when
the plan has a point with no current. The new calibration is computed from the old one
(re-calibrating a calibrated meter works), written with W1 calibration(...), and every
point is measured again. The table of errors before and after is printed; the exit code
is 0 when every after-error is inside the plan's limits, 1 if not, 2 for a field problem.

Plan (JSON): {"points": [{"v": 230, "i": 5, "phi": 0}, ...], "limit_pf1": 0.5,
"limit_pfx": 0.75, "limit_q": 1.0}; "phi" in degrees (current lagging the voltage);
"i": 0 is a no-load point (noise floor). The default plan, from the meter's own
configuration: Un at Itr, Iref and Imax / 2 (162) or Imax (351), each at PF 1 and 0.5
inductive, after a no-load point (Un, no current: the noise floor); limits: half the
class B (162) or a fifth of class C (351) limits.
"""

import argparse
import json
import math
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import readout  # noqa: E402

EXIT_FIELD = 2


# -- plan ---------------------------------------------------------------------------------
def default_plan(cfg):
    """The plan from the meter's configuration (R1 of its settings)."""
    un = cfg["un"]
    top = cfg["imax"] / 2 if cfg["profile"] == "162" else cfg["imax"]
    pts = [{"v": un, "i": 0.0, "phi": 0.0}]         # no load: the current noise floor
    for i in (cfg["itr"], cfg["iref"], top):
        for phi in (0.0, 60.0):
            pts.append({"v": un, "i": i, "phi": phi})
    lim = (0.5, 0.75, 1.0) if cfg["profile"] == "162" else (0.1, 0.2, 0.5)
    return {"points": pts, "limit_pf1": lim[0], "limit_pfx": lim[1], "limit_q": lim[2]}


def check_plan(plan):
    """ValueError naming the bad field of a plan."""
    if not isinstance(plan, dict) or not isinstance(plan.get("points"), list) \
            or not plan["points"]:
        raise ValueError("plan: an object with a non-empty list \"points\"")
    for n, p in enumerate(plan["points"]):
        if not isinstance(p, dict):
            raise ValueError("plan.points[%d]: an object {v, i, phi}" % n)
        for k, lo, hi in (("v", 1.0, 1000.0), ("i", 0.0, 10000.0), ("phi", -360.0, 360.0)):
            x = p.get(k, 0.0 if k == "phi" else None)
            if isinstance(x, bool) or not isinstance(x, (int, float)) or not lo <= x <= hi:
                raise ValueError("plan.points[%d].%s: a number %g..%g" % (n, k, lo, hi))
    for k in ("limit_pf1", "limit_pfx", "limit_q"):
        x = plan.get(k)
        if x is not None and (not isinstance(x, (int, float)) or x <= 0):
            raise ValueError("plan.%s: a number > 0 (per cent)" % k)
    return plan


# -- references ---------------------------------------------------------------------------
def phase_values(v, i, phi):
    r = math.radians(phi)
    return {"v": v, "i": i, "p": v * i * math.cos(r), "q": v * i * math.sin(r)}


class BenchReference:
    """A remote-controlled test bench: LOAD <json> / OK (boards/sim/models.py)."""

    def __init__(self, host, port, nphases, f=50.0, timeout=30.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.file = self.sock.makefile("rwb")
        self.n = nphases
        self.f = f

    def _ask(self, line):
        self.file.write((line + "\n").encode())
        self.file.flush()
        ans = self.file.readline().decode().strip()
        if not ans.startswith("OK"):
            raise readout.FieldError("bench: %s" % (ans or "no answer"))
        return ans

    def apply(self, point):
        ph = [{"v_rms": point["v"], "i_rms": point["i"], "phi_deg": point.get("phi", 0.0) % 360}
              for _ in range(self.n)]
        self._ask("LOAD " + json.dumps({"frequency_hz": self.f, "phases": ph}))
        return [phase_values(point["v"], point["i"], point.get("phi", 0.0))
                for _ in range(self.n)]

    def close(self):
        self.sock.close()


class ManualReference:
    """A person at the load with a reference meter: asks for its readings per phase."""

    def __init__(self, nphases, inp=input, out=sys.stderr):
        self.n = nphases
        self.inp = inp
        self.out = out

    def _num(self, prompt, default):
        while True:
            text = self.inp("%s [%g]: " % (prompt, default)).strip()
            if not text:
                return default
            try:
                return float(text)
            except ValueError:
                print("  a number, please", file=self.out)

    def apply(self, point):
        print("Set the load: U %g V, I %g A, %g deg (current lagging). "
              % (point["v"], point["i"], point.get("phi", 0.0)), file=self.out)
        self.inp("Press Enter when the load is on and steady: ")
        out = []
        for k in range(self.n):
            nom = phase_values(point["v"], point["i"], point.get("phi", 0.0))
            name = "L%d" % (k + 1)
            v = self._num(name + " U (V)", nom["v"])
            i = self._num(name + " I (A)", nom["i"])
            p = self._num(name + " P (W)", nom["p"])
            q = self._num(name + " Q (var)", nom["q"])
            out.append({"v": v, "i": i, "p": p, "q": q})
        return out

    def close(self):
        pass


# -- the meter ----------------------------------------------------------------------------
def _value(lines):
    """The value of a one-data-set answer."""
    for ln in lines:
        for ds in ln:
            return ds.value
    raise readout.FieldError("empty answer")


class Meter:
    """Programming-mode reads and writes through tools/readout.py's Session."""

    def __init__(self, session):
        self.s = session

    def setting(self, name):
        return json.loads(_value(self.s.read(name)))

    def measure(self):
        return json.loads(_value(self.s.read("measure")))

    def write_calibration(self, cals):
        self.s.write("calibration", json.dumps(cals, separators=(",", ":")))


def averaged(meter, window_s, sleep, max_polls=10000):
    """Discard the open window, then average whole windows until window_s seconds of the
    meter's measurement periods are in (weights: each window's seconds)."""
    meter.measure()
    first = True
    tot = 0.0
    acc = None
    polls = 0
    while tot < window_s:
        polls += 1
        if polls > max_polls:
            raise readout.FieldError("the meter reports no measurement periods")
        sleep()
        m = meter.measure()
        if m["periods"] < 1:
            continue
        if first:                          # may hold a period from before the change
            first = False
            continue
        w = m["seconds"]
        if acc is None:
            acc = {"f": 0.0, "fs": m["fs"]}
            for k in ("v", "i", "p", "q"):
                acc[k] = [0.0] * len(m[k])
        acc["f"] += m["f"] * w
        for k in ("v", "i", "p", "q"):
            for s, x in enumerate(m[k]):
                acc[k][s] += x * w
        tot += w
    acc["f"] /= tot
    for k in ("v", "i", "p", "q"):
        acc[k] = [x / tot for x in acc[k]]
    acc["seconds"] = tot
    return acc


# -- errors and the fit -------------------------------------------------------------------
def pct(got, ref):
    return (got - ref) / abs(ref) * 100 if abs(ref) > 1e-9 else None


def errors_of(meas, ref):
    """Per system {v, i, p, q, ang} errors (% or degrees) of a measurement."""
    out = []
    for s, r in enumerate(ref):
        e = {"v": pct(meas["v"][s], r["v"]), "i": pct(meas["i"][s], r["i"]),
             "p": pct(meas["p"][s], r["p"]), "q": pct(meas["q"][s], r["q"])}
        if abs(r["p"]) + abs(r["q"]) > 1e-9 and abs(meas["p"][s]) + abs(meas["q"][s]) > 1e-9:
            d = math.atan2(meas["q"][s], meas["p"][s]) - math.atan2(r["q"], r["p"])
            e["ang"] = math.degrees(math.atan2(math.sin(d), math.cos(d)))
        else:
            e["ang"] = None
        e["i_abs"] = meas["i"][s]
        out.append(e)
    return out


def _at(cal, amps):
    """(gain, phase) of a calibration's points at amps (metrology/calibration.py at())."""
    pts = cal.get("points") or []
    if not pts:
        return 1.0, 0.0
    if amps <= pts[0][0]:
        return pts[0][1], pts[0][2]
    for k in range(1, len(pts)):
        a1, g1, p1 = pts[k]
        if amps <= a1:
            a0, g0, p0 = pts[k - 1]
            x = (amps - a0) / (a1 - a0)
            return g0 + x * (g1 - g0), p0 + x * (p1 - p0)
    return pts[-1][1], pts[-1][2]


def nominal_cal():
    return {"v_gain": 1.0, "i_gain": 1.0, "phase": 0.0, "i_offset": 0.0, "p_offset": 0.0,
            "q_offset": 0.0}


def fit(old, results, iref):
    """New calibration of one system from its old one and [(point, ref, meas)] (the
    meter's values for this system: dicts v, i, p, q, f, fs). Returns (cal, notes)."""
    new = dict(nominal_cal())
    new.update(dict((k, v) for k, v in old.items() if k != "points"))
    notes = []
    # voltage: mean ratio over every point
    vr = [r["v"] / m["v"] for _pt, r, m in results if m["v"] > 0 and r["v"] > 0]
    if not vr:
        raise ValueError("no point with voltage: cannot calibrate")
    kv = sum(vr) / len(vr)
    new["v_gain"] = old.get("v_gain", 1.0) * kv
    # current levels
    levels = {}
    for pt, r, m in results:
        if pt["i"] == 0:
            floor2 = old.get("i_offset", 0.0) ** 2 + m["i"] ** 2
            new["i_offset"] = math.sqrt(floor2)
            notes.append("noise floor %.4f A rms removed" % new["i_offset"])
            continue
        levels.setdefault(pt["i"], []).append((pt, r, m))
    if not levels:
        raise ValueError("no point with current: cannot calibrate the current channel")
    rows = []
    for amps in sorted(levels):
        gains = []
        phases = []
        for _pt, r, m in levels[amps]:
            w = 2 * math.pi * (m["f"] or 50.0) / m["fs"]        # rad per frame
            angm = math.atan2(m["q"], m["p"])
            angr = math.atan2(r["q"], r["p"])
            d = angr - angm
            d = math.atan2(math.sin(d), math.cos(d))
            sm = math.hypot(m["p"], m["q"])
            sr = math.hypot(r["p"], r["q"])
            gains.append((abs(math.cos(angr)), sr / sm / (r["v"] / m["v"])))
            phases.append((abs(math.sin(angr)), d / w))
        # gain: from the point nearest PF 1; phase: from the point with the most Q
        g = max(gains)[1]
        ph = max(phases)[1]
        g_old, p_old = _at(old, levels[amps][0][2]["i"])
        total_g = old.get("i_gain", 1.0) * g_old * g
        total_p = old.get("phase", 0.0) + p_old + ph
        rows.append([amps, total_g, total_p])
    base = min(rows, key=lambda r: abs(math.log(r[0] / iref)))
    new["i_gain"] = base[1]
    new["phase"] = base[2]
    if len(rows) > 1:
        # abscissa: the engine's Irms at that point (base gain, before the point's own)
        new["points"] = [[round(a * base[1] / g, 6), round(g / base[1], 7),
                          round(p - base[2], 6)] for a, g, p in rows]
    for k in ("v_gain", "i_gain", "phase", "i_offset"):
        new[k] = round(new[k], 7)
    return new, notes


# -- the run ------------------------------------------------------------------------------
def measure_points(meter, reference, plan, window_s, sleep, log):
    out = []
    for n, pt in enumerate(plan["points"]):
        log("point %d/%d: U %g V, I %g A, %g deg" % (n + 1, len(plan["points"]), pt["v"],
                                                     pt["i"], pt.get("phi", 0.0)))
        ref = reference.apply(pt)
        meas = averaged(meter, window_s, sleep)
        out.append((pt, ref, meas))
    return out


def limits(plan, pt):
    pf1 = abs(math.cos(math.radians(pt.get("phi", 0.0)))) > 0.99
    return plan["limit_pf1"] if pf1 else plan["limit_pfx"], plan["limit_q"]


def _f(x, fmt="%+.3f"):
    return "-" if x is None else fmt % x


def table(plan, before, after):
    """The before/after table (lines) and whether every after-error is inside limits."""
    lines = ["| point | phase | U err % after | I err % after | P err % before | P err % after | "
             "Q err % before | Q err % after | angle err deg before | after |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    ok = True
    for (pt, ref, mb), (_p2, ref2, ma) in zip(before, after):
        eb = errors_of(mb, ref)
        ea = errors_of(ma, ref2)
        lp, lq = limits(plan, pt)
        for s in range(len(ref)):
            name = "%g V %g A %g deg" % (pt["v"], pt["i"], pt.get("phi", 0.0))
            lines.append("| %s | L%d | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                name, s + 1, _f(ea[s]["v"]), _f(ea[s]["i"]), _f(eb[s]["p"]), _f(ea[s]["p"]),
                _f(eb[s]["q"]), _f(ea[s]["q"]), _f(eb[s]["ang"], "%+.3f"),
                _f(ea[s]["ang"], "%+.3f")))
            if pt["i"] == 0:
                continue
            pcos = abs(math.cos(math.radians(pt.get("phi", 0.0))))
            if ea[s]["p"] is not None and pcos > 0.1 and abs(ea[s]["p"]) > lp:
                ok = False
            psin = abs(math.sin(math.radians(pt.get("phi", 0.0))))
            if ea[s]["q"] is not None and psin > 0.4 and abs(ea[s]["q"]) > lq:
                ok = False
    return lines, ok


def calibrate(session, reference, plan=None, window_s=5.0, sleep=None, dry_run=False,
              log=None):
    """The whole procedure on an open programming-mode session. Returns a result dict:
    old and new calibration, before/after measurements, table lines, ok."""
    import time

    sleep = sleep or (lambda: time.sleep(0.5))
    log = log or (lambda text: print(text, file=sys.stderr))
    meter = Meter(session)
    cfg = {}
    for k in ("profile", "phases", "wiring", "un", "iref", "itr", "imax"):
        cfg[k] = meter.setting(k)
    if cfg["wiring"] != "4w":
        raise readout.FieldError("calibration of an Aron (3-wire) meter is not supported: "
                                 "its systems see line-to-line voltages")
    plan = check_plan(plan or default_plan(cfg))
    dflt = default_plan(cfg)
    for k in ("limit_pf1", "limit_pfx", "limit_q"):
        plan.setdefault(k, dflt[k])
    old = meter.setting("calibration")
    nsys = cfg["phases"]
    if old is None:
        old = [nominal_cal() for _ in range(nsys)]
    log("calibration in use: %s" % json.dumps(old))
    before = measure_points(meter, reference, plan, window_s, sleep, log)
    new = []
    for s in range(nsys):
        res = [(pt, ref[s], {"v": m["v"][s], "i": m["i"][s], "p": m["p"][s],
                             "q": m["q"][s], "f": m["f"], "fs": m["fs"]})
               for pt, ref, m in before]
        cal, notes = fit(old[s], res, cfg["iref"])
        for t in notes:
            log("L%d: %s" % (s + 1, t))
        new.append(cal)
    log("new calibration: %s" % json.dumps(new))
    if dry_run:
        lines, ok = table(plan, before, before)
        return {"old": old, "new": new, "written": False, "table": lines, "ok": ok}
    meter.write_calibration(new)
    after = measure_points(meter, reference, plan, window_s, sleep, log)
    lines, ok = table(plan, before, after)
    return {"old": old, "new": new, "written": True, "table": lines, "ok": ok,
            "points": [p for p, _r, _m in before],
            "errors_before": [errors_of(m, r) for _p, r, m in before],
            "errors_after": [errors_of(m, r) for _p, r, m in after]}


def build_parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    line = p.add_mutually_exclusive_group(required=True)
    line.add_argument("--tcp", help="HOST:PORT of the meter's optical port (simulator)")
    line.add_argument("--serial", help="serial device of the optical head")
    p.add_argument("--address", default="", help="the meter's address (meter number)")
    p.add_argument("--password", default="00000000")
    p.add_argument("--timeout", type=float, default=10.0, help="silence on the line, s")
    ref = p.add_mutually_exclusive_group(required=True)
    ref.add_argument("--manual", action="store_true",
                     help="you set each load and type the reference meter's readings")
    ref.add_argument("--bench", help="tcp:127.0.0.1:PORT of a remote-controlled bench")
    p.add_argument("--plan", help="JSON plan (default: from the meter's configuration)")
    p.add_argument("--window", type=float, default=5.0,
                   help="seconds of measurement averaged per point (default 5)")
    p.add_argument("--poll", type=float, default=0.5, help="seconds between reads")
    p.add_argument("--dry-run", action="store_true", help="measure and fit, write nothing")
    p.add_argument("--out", help="write the result (old/new calibration, table) as JSON")
    return p


def main(argv=None):
    a = build_parser().parse_args(argv)
    import time

    try:
        plan = None
        if a.plan:
            try:
                with open(a.plan) as f:
                    plan = check_plan(json.load(f))
            except (OSError, ValueError) as e:
                raise readout.FieldError("--plan %s: %s" % (a.plan, e))
        if a.tcp:
            host, _s, port = a.tcp.rpartition(":")
            transport = readout.make_tcp(host or "127.0.0.1", int(port), a.timeout)
        else:
            transport = readout.make_serial(a.serial, a.timeout)
        holder = {}

        def run(session):
            session.program()
            nph = json.loads(_value(session.read("phases")))
            if a.bench:
                parts = a.bench.split(":")
                if len(parts) != 3 or parts[0] != "tcp":
                    raise readout.FieldError("--bench: tcp:HOST:PORT")
                reference = BenchReference(parts[1], int(parts[2]), nph)
            else:
                reference = ManualReference(nph)
            try:
                holder["r"] = calibrate(session, reference, plan, a.window,
                                        lambda: time.sleep(a.poll), a.dry_run)
            finally:
                reference.close()

        readout.run_session(transport, a.address, a.password, "calibration", run,
                            readout.Progress(False))
    except readout.FieldError as e:
        print("calibrate: %s" % e, file=sys.stderr)
        return EXIT_FIELD
    except OSError as e:
        print("calibrate: %s" % e, file=sys.stderr)
        return EXIT_FIELD
    r = holder["r"]
    print("\n".join(r["table"]))
    print("calibration %s: %s" % ("written" if r["written"] else "NOT written (dry run)",
                                  json.dumps(r["new"])))
    if a.out:
        with open(a.out, "w") as f:
            json.dump(r, f, indent=1)
    if not r["ok"]:
        print("calibrate: some errors after calibration are outside the plan's limits",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

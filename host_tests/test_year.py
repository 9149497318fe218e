"""A simulated year at phasor fidelity (coarse steps) against billing values computed here.

The scripted load (one segment per hour of 2026, local time Europe/Stockholm =
LL 01 + EU summer time) is pure active power (phi 0: P exact) or pure reactive
power (phi 90: Q exact), so every energy is an exact rational and every frozen
value can be demanded exactly:
- A+, R+ and the tariff registers T1, T2 at each monthly stop (00:00 local on the
  1st): the floor in Wh of the integral, split by the tariff calendar (T2 07:00-23:00
  on weekdays, T1 otherwise and on the holidays);
- P+max / Q+max per billing period and per tariff, with the UTC end time of the
  first 15-min period that reached it;
- the hour counter and the stop counter; the load profile sums to the registers.
The truth uses Python's datetime and zoneinfo, not the firmware's calendar.
"""

import datetime
import json
import os
import subprocess
import sys
import zoneinfo
from fractions import Fraction

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TZ = zoneinfo.ZoneInfo("Europe/Stockholm")
UTC = datetime.timezone.utc
START = datetime.datetime(2025, 12, 31, 23, 0, tzinfo=UTC)      # 2026-01-01 00:00 local
HOLIDAYS = ("01-01", "01-06", "05-01", "06-06", "12-24", "12-25", "12-26")
TABLE = {"days": {"work": [["00:00", 1], ["07:00", 2], ["23:00", 1]],
                  "free": [["00:00", 1]]},
         "seasons": [{"from": "01-01", "weekday": "work", "saturday": "free",
                      "sunday": "free"}],
         "holidays": list(HOLIDAYS)}


def load(t):
    """(P W, Q var) in the UTC hour starting at datetime t: a day of local hours."""
    lt = t.astimezone(TZ)
    h = lt.hour
    day = lt.timetuple().tm_yday
    if h == 3:
        return 0, 2000                      # a reactive hour (motor at night)
    if h < 7:
        return 1500, 0
    if h == 18:
        return 9000 + day, 0                # the evening peak grows through the year
    return 4000, 0


def scenario(hours):
    segs = []
    for k in range(hours):
        p, q = load(START + datetime.timedelta(hours=k))
        if q:
            ph = {"v_rms": 230.0, "i_rms": q / 230.0, "phi_deg": 90.0}
        else:
            ph = {"v_rms": 230.0, "i_rms": p / 230.0, "phi_deg": 0.0}
        segs.append({"duration_s": 3600, "phases": [ph]})
    return {"start": "2025-12-31T23:00:00Z", "profile": "162", "segments": segs}


def tariff(t):
    lt = t.astimezone(TZ)
    if lt.strftime("%m-%d") in HOLIDAYS or lt.isoweekday() > 5:
        return 1
    return 2 if 7 <= lt.hour < 23 else 1


def truth(hours):
    """Per monthly stop: the values the billing logger must hold."""
    stops = []
    a = r = Fraction(0)
    at = [Fraction(0)] * 3
    rt = [Fraction(0)] * 3
    pmax = qmax = None
    tmax = {}
    for k in range(hours + 1):
        t = START + datetime.timedelta(hours=k)
        lt = t.astimezone(TZ)
        if lt.day == 1 and lt.hour == 0 and k:
            stops.append({"time": int(t.timestamp()), "a_plus": a, "r_plus": r,
                          "a_plus_t1": at[1], "a_plus_t2": at[2], "r_plus_t1": rt[1],
                          "r_plus_t2": rt[2], "pmax": pmax, "qmax": qmax, "tmax": dict(tmax),
                          "hours": k})
            pmax = qmax = None
            tmax = {}
        if k == hours:
            break
        p, q = load(t)
        tf = tariff(t)
        a += p
        r += q
        at[tf] += p
        rt[tf] += q
        end = int(t.timestamp()) + 900           # first 15-min period of the hour
        if p and (pmax is None or p > pmax[0]):
            pmax = (p, end)
        if q and (qmax is None or q > qmax[0]):
            qmax = (q, end)
        for kind, v in (("p", p), ("q", q)):
            key = (kind, tf)
            if v and (key not in tmax or v > tmax[key][0]):
                tmax[key] = (v, end)
    return stops


def test_a_simulated_year_matches_the_analytic_billing_values(tmp_path):
    hours = 365 * 24
    sc = os.path.join(str(tmp_path), "year.json")
    with open(sc, "w") as f:
        json.dump(scenario(hours), f)
    cfg = os.path.join(str(tmp_path), "cfg.json")
    with open(cfg, "w") as f:
        json.dump({"tariff_table": TABLE, "period": 2, "billing_day": 1,
                   "billing_interval": 1, "gmt": 1, "dst": 1}, f)
    rep = os.path.join(str(tmp_path), "r.json")
    r = subprocess.run([sys.executable, "tools/sim.py", "--runtime", "cpython", "--scenario",
                        sc, "--config", cfg, "--fidelity", "phasor", "--coarse", "--quiet",
                        "--state", os.path.join(str(tmp_path), "st"), "--report", rep],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    got = json.load(open(rep))
    lb = got["logbook"]
    want = truth(hours)
    assert len(want) == 12 and lb["billing_stops"] == 12       # Feb 1 .. Jan 1
    assert len(lb["billing"]) == 12
    for w, b in zip(want, lb["billing"], strict=True):
        assert b["time"] == w["time"]
        assert b["stops"] == want.index(w) + 1 and b["flags"] == 0
        assert b["hours"] == w["hours"]
        for key in ("a_plus", "r_plus", "a_plus_t1", "a_plus_t2", "r_plus_t1", "r_plus_t2"):
            assert b[key] == int(w[key]), (key, b["time"], b[key], w[key])
        assert (b["pmax"], b["pmax_time"]) == w["pmax"]
        assert (b["qmax"], b["qmax_time"]) == w["qmax"]
        for tf in (1, 2):
            wp = w["tmax"].get(("p", tf), (0, 0))
            wq = w["tmax"].get(("q", tf), (0, 0))
            assert (b["pmax_t%d" % tf], b["pmax_t%d_time" % tf]) == wp, tf
            assert (b["qmax_t%d" % tf], b["qmax_t%d_time" % tf]) == wq, tf
    # accumulated maxima: the sum of the frozen maxima
    assert lb["billing"][-1]["pmax_acc"] == sum(w["pmax"][0] for w in want)
    # the whole year
    assert got["sim_seconds"] == hours * 3600
    assert lb["hours"] == hours
    total = sum(load(START + datetime.timedelta(hours=k))[0] for k in range(hours))
    assert got["registers"]["a_plus"]["mwh"] // 1000 == total
    # load profile: 15-min entries, the newest 10,880 held, summing to the registers
    ent = lb["profile"]["entries"]
    assert lb["profile"]["channels"] == ["A+", "A-", "R+", "R-"]
    assert len(ent) >= 10880 and ent[-1][0] == int(START.timestamp()) + hours * 3600
    t0 = int(START.timestamp())

    def energy(ts):
        """Exact A+ Wh from the start to UTC second ts."""
        k, rest = divmod(ts - t0, 3600)
        e = sum(load(START + datetime.timedelta(hours=j))[0] for j in range(k))
        return e + Fraction(load(START + datetime.timedelta(hours=k))[0] * rest, 3600)

    begin = ent[0][0] - 900
    assert sum(e[2] for e in ent) == int(energy(ent[-1][0])) - int(energy(begin))
    assert all(e[0] - f[0] == 900 for f, e in zip(ent, ent[1:]))     # no gap, no twin
    print("simulated year: %.1f s wall (CPython, coarse phasor steps)" % got["wall_seconds"])

"""The meter's clock work: a power failure across a billing stop, clock setting, command and
input stops, tariff inputs, hour counter; times checked with datetime and zoneinfo."""

import datetime
import zoneinfo

from boards.sim import scenario as scn
from boards.sim.board import make_board
from mpmeter.config import Config
from mpmeter.logs import billing as bl
from mpmeter.logs import events as ev
from mpmeter.logs import profile as lp
from mpmeter.meter import Meter
from mpmeter.storage.ramflash import RamFlash
from mpmeter.storage.store import REGION_BLOCKS, Store

TZ = zoneinfo.ZoneInfo("Europe/Stockholm")


def utc(y, m, d, hh=0, mm=0):
    """UTC seconds of a Stockholm wall-clock time."""
    return int(datetime.datetime(y, m, d, hh, mm, tzinfo=TZ).timestamp())


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def meter(dev, start, seconds, amps=10.0, overrides=None, inputs=None):
    sc = scn.validate({"start": iso(start), "profile": "162", "segments": [
        {"duration_s": seconds, "phases": [{"v_rms": 230.0, "i_rms": amps, "phi_deg": 0.0}]}]})
    cfg = Config("162", overrides or {})
    board = make_board(cfg, sc, "phasor")
    board.inputs = inputs
    m = Meter(board, cfg, None, Store(dev))
    m.coarse = True
    return m


def run(m):
    while m.step():
        pass


def codes(m):
    return [e[1] for e in m.persist.events()]


def test_a_power_failure_across_a_billing_stop():
    """Off from 31 January 20:00 to 2 February 10:00 local: the 1 February stop is made
    at power-up with its scheduled time and the LATE flag; the profile entry after the
    gap says POWER_FAIL; the hour counter does not count the gap."""
    dev = RamFlash(REGION_BLOCKS)
    m = meter(dev, utc(2026, 1, 31, 12), 8 * 3600)
    run(m)
    m.power_down()
    e1 = m.registers.mwh("a_plus")
    m2 = meter(dev, utc(2026, 2, 2, 10), 3600)
    run(m2)
    b = list(m2.logbook.billing.snapshots())
    assert len(b) == 1
    assert b[0]["time"] == utc(2026, 2, 1) and b[0]["flags"] == bl.LATE
    assert b[0]["a_plus"] == e1 // 1000 == 230 * 10 * 8       # frozen before the new energy
    assert b[0]["hours"] == 8
    assert m2.logbook.hours_s == 9 * 3600
    ent = list(m2.logbook.profile.entries())
    after = [e for e in ent if e[0] > utc(2026, 2, 2, 10)]
    assert after[0][1] & lp.POWER_FAIL
    assert not any(e[1] & lp.POWER_FAIL for e in ent if e[0] <= utc(2026, 1, 31, 20))
    assert ev.BILLING_STOP in codes(m2)


def test_setting_the_clock_is_logged_and_flags_the_profile():
    dev = RamFlash(REGION_BLOCKS)
    t0 = utc(2026, 5, 10, 8)
    m = meter(dev, t0, 3 * 3600)
    for _ in range(7):                       # 07:00 local + a few 15-min steps
        m.step()
    old = m.clock.now()
    new = old + 2 * 3600 + 600               # forward 2 h 10 min
    m.set_clock(new)
    run(m)
    e = [x for x in m.persist.events() if x[1] == ev.CLOCK_SET]
    assert e and e[-1][2:] == (old, new)
    ent = list(m.logbook.profile.entries())
    flagged = [x for x in ent if x[1] & lp.CLOCK_SET]
    assert [x[0] for x in flagged] == [old, utc(2026, 5, 10, 12)]   # 09:45, then 12:00
    assert all(x[1] & lp.SHORT for x in flagged)
    assert all(x[1] & lp.DST for x in ent)                     # summer time in May
    # energy is never lost: the entries sum to the register at the last interval end (less
    # the first 15 min, before the profile started); the open interval holds the rest
    assert sum(x[2][0] for x in ent) == m.logbook.profile.begin[0] - 230 * 10 // 4
    open_wh = m.registers.mwh("a_plus") // 1000 - m.logbook.profile.begin[0]
    assert open_wh in (383, 384)                    # 10 min at 2.3 kW = 383.3 Wh, in floors


def test_billing_stop_by_command_and_by_the_input():
    class Inputs:
        def __init__(self):
            self.levels = [0, 0]

        def value(self, i):
            return self.levels[i]

        def pulses(self):
            return 0

    dev = RamFlash(REGION_BLOCKS)
    inp = Inputs()
    m = meter(dev, utc(2026, 3, 10, 9), 6 * 3600, overrides={"dd": 15, "billing_day": 0,
                                                               "billing_interval": 0},
              inputs=inp)
    for _ in range(4):
        m.step()
    v = m.billing_stop()
    assert v["flags"] == bl.EXTERNAL and v["stops"] == 1
    for _ in range(3):
        m.step()
    inp.levels[0] = 1                      # a pulse on I/O 1 (DD 15)
    m.step()
    inp.levels[0] = 0
    run(m)
    b = list(m.logbook.billing.snapshots())
    assert [x["flags"] for x in b] == [bl.EXTERNAL, bl.EXTERNAL] and b[1]["stops"] == 2
    assert b[1]["pmax"] == 2300                # maxima reset by the first stop, 2.3 kW again


def test_tariff_inputs_drive_the_tariff_registers():
    class Inputs:
        level = 0

        def value(self, i):
            return self.level if i == 0 else 0

        def pulses(self):
            return 0

    dev = RamFlash(REGION_BLOCKS)
    inp = Inputs()
    m = meter(dev, utc(2026, 3, 10, 9), 2 * 3600, overrides={"dd": 7,
                                                               "tariff_control": "inputs"},
              inputs=inp)
    for _ in range(4):                     # 1 h on T1
        m.step()
    inp.level = 1
    run(m)                                 # 1 h on T2
    assert m.logbook.treg.a_plus[:2] == [2300000, 2300000]
    assert sum(m.logbook.treg.a_plus) == m.registers.mwh("a_plus")


def test_k_code_and_the_pulse_input():
    """K 2 (162): the maximum demand is the one in tariff 2 (same load, so the same
    value, but the time of a T2 period). NN: 3 pulses per litre."""
    class Inputs:
        def __init__(self):
            self.level = 0
            self.n = 0

        def value(self, i):
            return self.level if i == 0 else 0

        def pulses(self):
            return self.n

    dev = RamFlash(REGION_BLOCKS)
    inp = Inputs()
    m = meter(dev, utc(2026, 3, 10, 9), 2 * 3600, amps=20.0,
              overrides={"dd": 7, "tariff_control": "inputs", "max_demand": 2,
                         "pulse_in_unit": 3, "pulse_in_per_unit": 3},
              inputs=inp)
    for _ in range(4):                     # 1 h on T1 at 4.6 kW
        m.step()
        inp.n += 30
    inp.level = 1
    while m.step():                        # 1 h on T2
        inp.n += 30
    v = m.billing_stop()
    assert v["pmax"] == v["pmax_t2"] == 4600 and v["pmax_time"] == v["pmax_t2_time"]
    assert v["pmax_acc"] == 4600                         # accumulated from the T2 maximum
    assert v["pmax_time"] > utc(2026, 3, 10, 10)         # a T2 period, not the first hour
    # 30 pulses after each of 8 steps; the last 30 come after the meter's last read:
    # 210 pulses = 70 L, in 0.001 L
    assert v["pulse_input"] == 210 * 1000 // 3
    with __import__("pytest").raises(ValueError, match="K"):
        Config("351", {"max_demand": 1})


def test_billing_logger_2_weekly_and_monthly():
    """U 2: a snapshot at 00:00 local every Monday; U 3: on the 1st of every month."""
    for u, want in ((2, [utc(2026, 3, d) for d in (9, 16, 23, 30)] + [utc(2026, 4, 6)]),
                    (3, [utc(2026, 4, 1)])):
        dev = RamFlash(REGION_BLOCKS)
        m = meter(dev, utc(2026, 3, 3, 12), 35 * 86400, overrides={"billing2": u})
        run(m)
        got = [b["time"] for b in m.logbook.billing2.snapshots()]
        assert got == want, u
        first = list(m.logbook.billing2.snapshots())[0]
        hours = (want[0] - utc(2026, 3, 3, 12)) // 3600
        assert first["a_plus"] == 2300 * hours and first["flags"] == 0


def test_setting_the_clock_back_flags_every_repeated_interval():
    dev = RamFlash(REGION_BLOCKS)
    m = meter(dev, utc(2026, 5, 10, 8), 3 * 3600)
    for _ in range(8):                       # to 10:00 local
        m.step()
    old = m.clock.now()
    m.set_clock(old - 3600)                  # back to 09:00
    run(m)
    ent = list(m.logbook.profile.entries())
    times = [e[0] for e in ent]
    repeated = [e for e in ent if times.count(e[0]) > 1 and e[0] <= old]
    assert repeated                          # 09:15 .. 10:00 occur twice
    later = [e for e in ent if ent.index(e) > times.index(old)]
    assert all(e[1] & lp.CLOCK_SET for e in later if e[0] <= old)
    assert not any(e[1] & lp.CLOCK_SET for e in later if e[0] > old)


def test_hour_counter_carries_the_fraction_of_short_periods():
    """50 cycles at 51 Hz last 0.98 s: 100 such periods are 98 s of voltage, not 0."""
    dev = RamFlash(REGION_BLOCKS)
    m = meter(dev, utc(2026, 3, 10, 9), 1)
    m.step()
    h0 = m.logbook.hours_s
    for _ in range(100):
        m._clockwork(m.fs * 98 // 100)
    assert m.logbook.hours_s - h0 == 98

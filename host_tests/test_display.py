"""The meter display: value-field rule, catalogue, display lists, button and indicators,
on the simulator's clock (values checked by hand, datasheet rules quoted)."""

import pytest

from boards.sim import scenario as scn
from boards.sim.board import SimPin, make_board
from mpmeter.comms import obis
from mpmeter.config import Config
from mpmeter.display import field, lists
from mpmeter.display.button import LONG, SHORT, Button
from mpmeter.display.lcd import BLINK, DATA_LOST, ERROR, MAGNET, OFF, ON, Frame
from mpmeter.display.textlcd import render
from mpmeter.meter import Meter
from mpmeter.storage.ramflash import RamFlash
from mpmeter.storage.store import REGION_BLOCKS, Store


# -- the value field ------------------------------------------------------------------
def shown(value, scale, dec, width=8, wrap=False, pad=0):
    """The field as a person reads it: the characters with the point put in."""
    f = Frame(width)
    f.value, f.dots = field.number(value, scale, dec, width, wrap, pad)
    assert len(f.value) == width
    return f.text()


def test_energy_register_shows_the_a_code_and_truncates():
    # 12345.678901 kWh in mWh; A code 6.1: 7 digits, one decimal, zero padded
    assert shown(12345678901, -6, 1, 8, True, 7) == "012345.6"
    # 7.0: 7 digits, no decimals; 7.1: 8 digits
    assert shown(12345678901, -6, 0, 8, True, 7) == "0012345"
    assert shown(12345678901, -6, 1, 8, True, 8) == "0012345.6"
    # truncated, never rounded up: 0.0999 kWh shows 0.0
    assert shown(99900, -6, 1, 8, True, 7) == "000000.0"


def test_register_rolls_over_by_dropping_leading_digits():
    # 1234567.8 kWh in a 6.1 register (7 digits): the leading 1 is dropped
    assert shown(1234567_800000, -6, 1, 8, True, 7) == "234567.8"
    # a 6-digit glass shows the same register modulo its 6 digits
    assert shown(1234567_800000, -6, 1, 6, True, 7) == "34567.8"


def test_plain_numbers_lose_decimals_then_overflow():
    assert shown(230456, -3, 1) == "230.4"                  # 230.456 V, 1 decimal
    assert shown(-1234567, -3, 3) == "-1234.567"            # sign takes a position
    assert shown(-12345678, -3, 3) == "-12345.67"           # a decimal dropped to fit
    assert shown(123456789012, -3, 3) == "-OFL-"            # 123456789 does not fit 8
    assert shown(-99999999, 0, 0) == "-OFL-"                # 9 positions with the sign
    assert shown(-4, -3, 2) == "0.00"                       # -0.004 -> no "-0.00"
    assert shown(5, -3, 3) == "0.005"


def test_date_and_time_forms():
    assert field.date(2026, 11, 26) == ("26-11-26", 0)
    assert field.clock(3, 4, 5) == ("03-04-05", 0)


# -- catalogue ------------------------------------------------------------------------
def phasor_meter(profile="162", overrides=None, amps=10.0, phi=20.0, seconds=60,
                 store=None, start="2026-06-21T10:00:00Z", volts=230.0):
    nph = 1 if profile == "162" else 3
    sc = scn.validate({"start": start, "profile": profile, "segments": [
        {"duration_s": seconds, "phases": [{"v_rms": volts, "i_rms": amps, "phi_deg": phi}
                                           for _ in range(nph)]}]})
    cfg = Config(profile, overrides or {})
    board = make_board(cfg, sc, "phasor")
    return Meter(board, cfg, None, store)


def run(m):
    t = 0
    while m.step():
        t = m.clock.ticks_ms()
        m.ui(t)
    return t


def test_every_catalogue_row_reads_on_both_profiles():
    for prof, n in (("162", 1), ("351", 3)):
        m = phasor_meter(prof)
        run(m)
        cat = m.display.cat
        codes = [r[0] for r in cat.rows()]
        assert ("52.7.0" in codes) == (n == 3)
        for code in codes:
            r = cat.read(code)
            assert isinstance(r.value, int), code
    with pytest.raises(ValueError, match="needs 3 phases"):
        phasor_meter("162").display.cat.read("72.7.0")


def test_catalogue_values_against_hand_figures():
    # 351B, CT 100/5: 3 x 230 V x 5 A at 20 degrees on the secondary side for 60 s
    m = phasor_meter("351", {"ct": [100, 5]}, amps=5.0, phi=20.0)
    run(m)
    cat = m.display.cat
    import math
    p_prim = 3 * 230 * 5 * math.cos(math.radians(20)) * 20       # W, primary
    r = cat.read("1.7.0")
    assert r.unit == "kW" and abs(r.value - p_prim) < 0.01 * p_prim
    r = cat.read("31.7.0")
    assert r.unit == "A" and abs(r.value - 100000) < 100                 # 100 A in mA
    r = cat.read("1.8.0")
    # 60 s of p_prim: Wh = p_prim / 60; 100/5 -> 1 kWh steps (energy/resolution.py)
    assert r.unit == "kWh" and r.decimals == 0 and r.pad == 8
    assert abs(r.value / 1e6 - p_prim / 60 / 1000) < 0.01 * p_prim / 60 / 1000
    assert cat.read("0.4.2").value == 100 and cat.read("0.4.5").value == 5


def test_ct_3000_shows_mwh_and_verification_mode_adds_two_decimals():
    m = phasor_meter("351", {"ct": [3000, 5]})
    r = m.display.cat.read("1.8.0")
    assert (r.unit, r.scale, r.decimals) == ("MWh", -9, 2)
    assert m.display.cat.read("3.8.0").unit == "Mvarh"
    m = phasor_meter("351", {"ct": [3000, 5], "verification": True})
    r = m.display.cat.read("1.8.0")
    assert (r.unit, r.decimals, r.pad) == ("MWh", 4, 8)
    m = phasor_meter("162", {"verification": True})
    r = m.display.cat.read("1.8.0")
    assert (r.unit, r.decimals) == ("kWh", 3)     # 6.1 + 2 decimals: Wh steps


def test_obis_parse_errors_name_the_problem():
    for code, msg in (("9.9.9", "not a quantity"), ("1.8.0*37", r"\*01..\*36"),
                      ("1.8.0*1", r"\*01"), ("32.7.0*01", "no historical"), (180, "string")):
        with pytest.raises(ValueError, match=msg):
            obis.parse(code)
    assert obis.mandatory() == ("1.8.0", "2.8.0")


# -- display lists --------------------------------------------------------------------
def test_list_configuration_rules():
    ok = ["1.8.0", "2.8.0"]
    lists.check(ok, ok)
    bad = [
        (dict(display_auto=[]), "1..16 entries"),
        (dict(display_auto=["1.8.0"] * 17), "1..16 entries"),
        (dict(display_manual=ok + ["1.8.%d" % t for t in range(1, 9)] + ["3.8.1"] * 31),
         "1..40 entries"),
        (dict(display_auto=["1.8.0*02"]), "historical"),
        (dict(display_auto=["1.8.0", "1.8.0"]), "listed twice"),
        (dict(display_manual=["1.8.0", "3.8.0"]), "2.8.0 is a legal display"),
        (dict(display_auto=["1.8.9"]), "not a quantity"),
        (dict(display_auto=["52.7.0"]), "3-phase"),
        (dict(display_auto="1.8.0"), "a list"),
    ]
    for over, msg in bad:
        with pytest.raises(ValueError, match=msg):
            Config("162", over)
    # historical values are allowed in the manual list
    Config("162", {"display_manual": ok + ["1.8.0*36"]})


def test_auto_scroll_every_10_s_in_order():
    li = lists.Lists(["1.8.0", "2.8.0", "0.9.1"], ["1.8.0", "2.8.0"], 0)
    seen = []
    for t in range(0, 40001, 250):
        li.tick(t)
        seen.append((t, li.current()))
    at = dict(seen)
    assert at[0] == at[9750] == "1.8.0"
    assert at[10000] == at[19750] == "2.8.0"
    assert at[20000] == "0.9.1" and at[30000] == "1.8.0" and at[40000] == "2.8.0"


def test_manual_list_button_and_return_after_two_minutes():
    li = lists.Lists(["1.8.0", "2.8.0"], ["1.8.0", "2.8.0", "3.8.0"], 0)
    li.tick(5000)
    li.release(5000)                         # first press: manual list, first entry
    assert li.manual and li.current() == "1.8.0"
    li.release(6000)
    li.release(7000)
    assert li.current() == "3.8.0"
    li.release(8000)                         # wraps
    assert li.current() == "1.8.0"
    li.tick(8000 + 119999)
    assert li.manual                         # not yet two minutes
    li.activity(100000)                      # a long press keeps the manual list up
    li.tick(100000 + 119999)
    assert li.manual
    assert li.tick(100000 + 120000) and not li.manual and li.current() == "1.8.0"


def test_lists_survive_the_ticks_wrap():
    period = 1 << 30
    li = lists.Lists(["1.8.0", "2.8.0"], ["1.8.0", "2.8.0"], period - 3000)
    li.tick(7000)                            # 10 s later, after the wrap
    assert li.current() == "2.8.0"


# -- button ---------------------------------------------------------------------------
class Pin:
    def __init__(self):
        self.level = 1

    def value(self):
        return self.level


def drive(button, pin, levels):
    """levels: [(t_ms, level)] applied in order; poll every 5 ms; the events seen."""
    out = []
    t = 0
    for until, level in levels:
        while t < until:
            ev = button.poll(t)
            if ev:
                out.append((t, ev))
            t += 5
        pin.level = level
    return out


def test_button_debounce_short_and_long():
    pin = Pin()
    b = Button(pin)
    # contact bounce: 10 ms low/high pulses never count
    bounce = [(100, 0), (110, 1), (120, 0), (130, 1), (400, 1)]
    assert drive(b, pin, bounce) == []
    # a clean 200 ms press with bounce at both edges: one SHORT, at the release
    pin = Pin()
    b = Button(pin)
    evs = drive(b, pin, [(100, 0), (110, 1), (115, 0), (315, 1), (320, 0), (325, 1),
                         (600, 1)])
    assert len(evs) == 1 and evs[0][1] == SHORT and 325 <= evs[0][0] <= 360
    # a 4 s hold: one LONG at 3 s, nothing at its release
    pin = Pin()
    b = Button(pin)
    evs = drive(b, pin, [(100, 0), (4100, 1), (4500, 1)])
    assert [e[1] for e in evs] == [LONG] and 3100 <= evs[0][0] <= 3140
    # held at power-up: not a press
    pin = Pin()
    pin.level = 0
    b = Button(pin)
    assert drive(b, pin, [(500, 1), (800, 1)]) == []


# -- the display on a running meter ---------------------------------------------------
def test_scenario_presses_reach_the_manual_list_and_time_out():
    sc = scn.validate({"start": "2026-06-21T10:00:00Z", "profile": "162",
                       "button": [[12, 0.2], [13, 0.2], [20, 3.5]],
                       "segments": [{"duration_s": 150, "phases": [
                           {"v_rms": 230.0, "i_rms": 5.0}]}]})
    cfg = Config("162")
    board = make_board(cfg, sc, "waveform")
    m = Meter(board, cfg)
    d = m.display
    longs = []
    d.on_long = longs.append
    trace = {}
    while m.step():
        t = board.clock.ms()
        m.ui(t)
        trace[t // 100] = (d.frame.manual, d.frame.ident)     # by tenths of a second
    assert trace[50] == (False, "1.8.0") and trace[110] == (False, "2.8.0")
    assert trace[121] == (False, "2.8.0")           # pressed, not yet released
    assert trace[125] == (True, "1.8.0")            # first release: the manual list
    assert trace[135] == (True, "2.8.0")            # second release: next entry
    assert len(longs) == 1 and 23000 <= longs[0] <= 23200   # long press at 20 s + 3 s
    assert trace[1400] == (True, "2.8.0")           # two minutes after the last press...
    assert trace[1425] == (True, "2.8.0")
    assert trace[1435] == (False, "1.8.0")          # ...counted from the long press


def test_indicators_quadrant_tariff_mains_status_breaker():
    # export at 200 degrees: quadrant 3 (P < 0, Q < 0)
    m = phasor_meter("162", amps=10.0, phi=200.0)
    run(m)
    f = m.display.frame
    assert f.quadrant == 3 and f.mains == (ON,) and f.tariff == 0 and f.status == 0
    assert f.breaker is True                 # the sim's 162 has a closed breaker relay
    m.board.relay.value(0)
    m.display.build(0)
    assert m.display.frame.breaker is False and "[BRK off]" in render(m.display.frame, 0)[5]
    # no current: L1 blinks; a tariff table lights the tariff indicator
    table = {"days": {"all": [["00:00", 2]]},
             "seasons": [{"from": "01-01", "weekday": "all", "saturday": "all",
                          "sunday": "all"}]}
    m = phasor_meter("162", {"tariff_table": table}, amps=0.0)
    run(m)
    f = m.display.frame
    assert f.mains == (BLINK,) and f.tariff == 2 and f.quadrant == 0
    assert render(f, 0)[1].split()[1:2] == ["T2"]
    # 351 with L3 lost
    sc = scn.validate({"start": "2026-06-21T10:00:00Z", "profile": "351", "segments": [
        {"duration_s": 5, "phases": [{"v_rms": 230.0, "i_rms": 5.0},
                                     {"v_rms": 230.0, "i_rms": 0.0},
                                     {"v_rms": 0.0, "i_rms": 0.0}]}]})
    cfg = Config("351")
    board = make_board(cfg, sc, "phasor")
    board.magnet = SimPin("magnet")
    board.magnet.value(1)
    board.relay = SimPin("relay")
    m = Meter(board, cfg)
    run(m)
    f = m.display.frame
    assert f.mains == (ON, BLINK, OFF)
    assert f.status == MAGNET and f.breaker is False
    m.errors = 1
    m.display.build(0)
    assert m.display.frame.status == MAGNET | ERROR
    assert m.display.cat.read("F.F.0").value == MAGNET | ERROR


def test_data_lost_indicator_from_the_store():
    dev = RamFlash(REGION_BLOCKS)
    m = phasor_meter("162", store=Store(dev))
    run(m)
    m.power_down()
    # a bit flipped in the oldest register record: found corrupt at boot (persist.py)
    area = m.persist.store.area("registers")
    dev.flip(area.first * 4096 * 8 + 77)
    m = phasor_meter("162", store=Store(dev))
    run(m)
    assert m.data_lost and m.display.frame.status & DATA_LOST
    assert "DATA" in render(m.display.frame, 0)[1]


def test_historical_value_after_a_billing_stop():
    m = phasor_meter("162", {"display_manual": ["1.8.0", "2.8.0", "1.8.0*01"]},
                     store=Store(RamFlash(REGION_BLOCKS)), seconds=3600, amps=20.0, phi=0.0)
    d = m.display
    d.press(0)
    d.press(1)
    d.press(2)
    m.ui(3)
    assert d.frame.ident == "1.8.0*01" and d.frame.value == "--------"   # no stop yet
    run(m)
    kwh = m.registers.mwh("a_plus") // 100000         # 0.1 kWh steps
    m.billing_stop()
    d.press(m.clock.ticks_ms())
    d.press(m.clock.ticks_ms())
    d.press(m.clock.ticks_ms())
    d.build(m.clock.ticks_ms())
    assert d.frame.ident == "1.8.0*01"
    assert d.frame.text() == "%05d.%d" % (kwh // 10, kwh % 10) or \
        d.frame.text() == "%06d.%d" % (kwh // 10, kwh % 10)
    assert kwh == 46          # 230 V x 20 A x 1 h = 4.6 kWh


def test_date_and_time_entries_show_local_time():
    # 10:00:00 UTC on 21 June is 12:00 in CET with summer time (gmt 1, dst EU)
    m = phasor_meter("162", {"display_auto": ["0.9.1", "0.9.2"]}, seconds=5)
    run(m)
    f = m.display.frame
    assert f.ident == "0.9.1" and f.value == "12-00-05" and f.unit == "hh:mm:ss"
    m.display.lists.tick(10000)
    m.display.build(10000)
    assert m.display.frame.value == "26-06-21"


def test_historical_suffix_range_is_the_billing_depth():
    from mpmeter.logs import billing

    assert obis.DEPTH == billing.DEPTH


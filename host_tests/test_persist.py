"""The meter's persistence: saves at every displayed change, restore at boot, events, status."""

import struct

import pytest

from boards.sim import scenario as scn
from boards.sim.board import SimPin, make_board
from mpmeter.config import Config
from mpmeter.energy import resolution
from mpmeter.logs import events as ev
from mpmeter.meter import Meter
from mpmeter.storage import codec
from mpmeter.storage.ramflash import PowerCut, RamFlash
from mpmeter.storage.store import REGION_BLOCKS, Store


def scenario(profile, seconds, i, phi=0.0, phases=1):
    return scn.validate({"start": "2026-03-01T00:00:00Z", "profile": profile, "segments": [
        {"duration_s": seconds, "phases": [{"v_rms": 230.0, "i_rms": i, "phi_deg": phi}]
         * phases}]})


def meter(dev, sc, cfg=None, power_fail=None):
    cfg = cfg or Config(sc["profile"])
    board = make_board(cfg, sc, "phasor")
    board.power_fail = power_fail
    return Meter(board, cfg, None, Store(dev))


def run(m):
    while m.step():
        pass


def codes(m):
    return [e[1] for e in m.persist.events()]


@pytest.mark.parametrize("profile,display,ct,step_wh,unit,decimals", [
    ("162", "6.1", (1, 1), 100, "kWh", 1),
    ("162", "7.0", (1, 1), 1000, "kWh", 0),
    ("351", "7.1", (5, 5), 100, "kWh", 1),
    # 3 x 230 V x 6 A x 200 = 828 kW: 2.3 kWh per 10 s -> 10 kWh, shown in MWh
    ("351", "7.1", (1000, 5), 10000, "MWh", 2),
    # 3 x 230 V x 6 A x 600 = 2.484 MW: 6.9 kWh per 10 s -> 10 kWh
    ("351", "7.0", (3000, 5), 10000, "MWh", 2),
    # 100/5: 82.8 kW: 230 Wh per 10 s -> 1 kWh
    ("351", "7.1", (100, 5), 1000, "kWh", 0),
])
def test_display_step_rule(profile, display, ct, step_wh, unit, decimals):
    cfg = Config(profile, {"display": display, "ct": list(ct)})
    step, u, dec, _digits = resolution.energy_display(cfg)
    assert (step, u, dec) == (step_wh * 1000, unit, decimals)
    pmax = cfg.phases * 230 * cfg.imax * ct[0] / ct[1]
    assert step / 1000 >= pmax * 10 / 3600          # never faster than one change in 10 s


def test_bad_display_code_is_refused():
    with pytest.raises(ValueError, match="config.display"):
        Config("162", {"display": "7.1"})


def test_saves_exactly_at_every_displayed_change_and_restores():
    """162 at 85 A, PF 1 for 1 h: 230 V x 85 A = 19.55 kWh, a 0.1 kWh step: 195 changes."""
    dev = RamFlash(REGION_BLOCKS)
    m = meter(dev, scenario("162", 3600, 85.0))
    run(m)
    assert m.persist.saves == 195 + 1
    assert m.registers.mwh("a_plus") // 100000 == 195
    m.power_down()
    assert m.persist.saves == 197 and codes(m)[-1] == ev.POWER_DOWN
    state = m.registers.state()
    m2 = meter(dev, scenario("162", 10, 0.0))
    assert m2.registers.state() == state                 # exact, residues included
    assert not m2.data_lost
    assert codes(m2) == [ev.POWER_UP, ev.POWER_DOWN, ev.POWER_UP]


def test_power_cut_during_a_save_loses_at_most_that_change():
    sc = scenario("162", 600, 85.0)
    for k in (0, 17, 100, 255):
        dev = RamFlash(REGION_BLOCKS)
        m = meter(dev, sc)
        acked = None
        saves_before = 0
        dev.cut(20, k)          # some write a few minutes in
        with pytest.raises(PowerCut):
            while m.step():
                if m.persist.saves != saves_before:
                    saves_before = m.persist.saves
                    acked = m.registers.state()
        live = m.registers.mwh("a_plus")
        m2 = meter(dev, scenario("162", 1, 0.0))
        got = m2.registers.mwh("a_plus")
        acked_a = acked[7 + 16]                           # A+ primary in the saved state
        assert acked_a <= got <= live                     # never backwards, nothing invented
        assert live // 100000 - got // 100000 <= 1        # at most the change in flight
        assert not m2.data_lost                           # a cut is not data loss


def test_corrupt_old_record_is_an_event_and_the_status_flag():
    dev = RamFlash(REGION_BLOCKS)
    m = meter(dev, scenario("162", 1200, 85.0))
    run(m)
    m.power_down()
    state = m.registers.state()
    area = m.persist.store.area("registers")
    slot0 = area.first * 4096                     # the oldest register record
    dev.flip(slot0 * 8 + 77)
    m2 = meter(dev, scenario("162", 1, 0.0))
    assert m2.registers.state() == state          # the newest record was not hit
    assert ev.CORRUPT in codes(m2) and m2.data_lost
    m2.persist.clear_status()
    assert not m2.data_lost
    m3 = meter(dev, scenario("162", 1, 0.0))      # the flag is kept through the event log
    assert not m3.data_lost
    assert codes(m3).count(ev.CORRUPT) == 1       # logged once: the slot was retired


def test_unusable_newest_record_falls_back_to_the_previous_good_one():
    dev = RamFlash(REGION_BLOCKS)
    m = meter(dev, scenario("162", 600, 85.0))
    run(m)
    m.power_down()
    good = m.registers.state()
    # a record with a valid CRC but impossible content (e.g. written by a buggy build)
    bad = list(good)
    bad[7 + 8] = 10 ** 12                           # A+ residue beyond its unit
    n = m.persist.save_no + 1                       # a complete save: both records
    m.persist.store.put("registers", codec.pack_uints([n] + bad), 0)
    m.persist.store.put("registers", codec.pack_uints([n] + list(m.logbook.state())), 1)
    m2 = meter(dev, scenario("162", 1, 0.0))
    assert m2.registers.state() == good
    assert ev.CORRUPT in codes(m2) and m2.data_lost


def test_no_usable_record_is_never_silent():
    dev = RamFlash(REGION_BLOCKS)
    st = Store(dev)
    st.mount()
    st.put("registers", b"\x80")                     # truncated varint
    m = meter(dev, scenario("162", 1, 0.0))
    assert m.registers.mwh("a_plus") == 0
    assert ev.RESTORE_FAILED in codes(m) and m.data_lost


def test_ct_ratio_change_is_logged_and_primary_energy_kept():
    dev = RamFlash(REGION_BLOCKS)
    sc = scenario("351", 60, 5.0, phases=3)
    m = meter(dev, sc, Config("351", {"ct": [100, 5]}))
    run(m)
    m.power_down()
    before = m.registers.mwh("a_plus")
    m2 = meter(dev, sc, Config("351", {"ct": [200, 5]}))
    assert m2.registers.mwh("a_plus") == before
    e = [x for x in m2.persist.events() if x[1] == ev.CT_CHANGED]
    assert e and e[-1][2:] == (100, 200)
    run(m2)
    # 3 x 230 V x 5 A for 60 s at 100/5 then at 200/5
    assert abs(m2.registers.mwh("a_plus") - 3 * 230 * 5 * 60 / 3.6 * (20 + 40)) < 2000


def test_power_fail_input_gives_an_orderly_power_down():
    dev = RamFlash(REGION_BLOCKS)
    pf = SimPin("power fail")
    m = meter(dev, scenario("162", 100, 40.0), power_fail=pf)
    for _ in range(30):
        m.step()
    saves = m.persist.saves
    pf.value(1)
    m.step()
    down_state = m.registers.state()
    assert m.down and m.persist.saves == saves + 1 and codes(m)[-1] == ev.POWER_DOWN
    for _ in range(5):
        m.step()                                      # held: nothing more is written
    assert m.persist.saves == saves + 1
    pf.value(0)
    m.step()
    assert codes(m)[-1] == ev.POWER_UP
    m2 = meter(dev, scenario("162", 1, 0.0))
    assert m2.registers.state() == down_state        # what the power-down saved


def test_event_entry_format():
    p = ev.pack(1782000000, ev.CLOCK_SET, 1782000000, 2 ** 32 - 1)
    assert p == struct.pack("<IHII", 1782000000, 10, 1782000000, 2 ** 32 - 1)
    assert len(p) == ev.SIZE and ev.unpack(p) == (1782000000, 10, 1782000000, 2 ** 32 - 1)
    with pytest.raises(ValueError, match="14"):
        ev.unpack(b"\x00" * 3)


class Counters:
    """A stand-in for the meter's other saved values (tariff registers, counters...)."""

    def __init__(self):
        self.v = [0, 0]

    def state(self):
        return tuple(self.v)

    def check(self, st):
        if len(st) != 2:
            raise ValueError("counters: 2 fields")

    def restore(self, st):
        self.check(st)
        self.v = list(st)


def test_a_save_is_two_records_and_a_cut_between_them_keeps_the_previous_save():
    from mpmeter.energy.registers import EnergyRegisters
    from mpmeter.storage.persist import Persistence

    class Clock:
        def now(self):
            return 1782000000

    cfg = Config("162")
    for cut_k in (0, 5, 250):       # the extra record's program: nothing, part, all-but-tail
        dev = RamFlash(REGION_BLOCKS)
        reg, ex = EnergyRegisters(4000), Counters()
        p = Persistence(Store(dev), reg, cfg, Clock(), ex)
        p.mount()
        for k in range(1, 4):
            reg.integrate(19550.0, 0.0, 4000 * 20)
            ex.v = [k, 10 * k]
            p.period()
        good = (reg.state(), ex.state())
        reg.integrate(19550.0, 0.0, 4000 * 20)
        ex.v = [4, 40]
        dev.cut(1, cut_k)                 # the register record goes through, then the cut
        with pytest.raises(PowerCut):
            p.period()
        reg2, ex2 = EnergyRegisters(4000), Counters()
        p2 = Persistence(Store(dev), reg2, cfg, Clock(), ex2)
        p2.mount()
        assert (reg2.state(), ex2.state()) == good, cut_k
        assert not p2.data_lost
        # and the next save pairs up again
        reg2.integrate(19550.0, 0.0, 4000 * 20)
        p2.save()
        reg3, ex3 = EnergyRegisters(4000), Counters()
        p3 = Persistence(Store(dev), reg3, cfg, Clock(), ex3)
        p3.mount()
        assert reg3.state() == reg2.state() and ex3.state() == good[1]

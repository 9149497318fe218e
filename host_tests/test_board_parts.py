"""The board parts the meter itself drives (hal.py): watchdog and reset cause."""

from boards.sim import scenario as scn
from boards.sim.board import make_board
from mpmeter.config import Config
from mpmeter.meter import Meter
from mpmeter.storage.ramflash import RamFlash
from mpmeter.storage.store import REGION_BLOCKS, Store


def test_watchdog_fed_from_the_main_loop_and_reset_cause_logged():
    """Issue 7's board parts the meter uses: the watchdog is fed by every Meter.ui()
    (the main loop), the reset cause is an event at boot."""
    from mpmeter.logs import events as ev

    class Wdt:
        fed = 0

        def feed(self):
            self.fed += 1

    sc = scn.validate({"start": "2026-06-21T10:00:00Z", "profile": "162", "segments": [
        {"duration_s": 30, "phases": [{"v_rms": 230.0, "i_rms": 1.0}]}]})
    cfg = Config("162")
    board = make_board(cfg, sc, "phasor")
    board.wdt = Wdt()
    board.reset_cause = lambda: 3            # machine.WDT_RESET
    m = Meter(board, cfg, None, Store(RamFlash(REGION_BLOCKS)))
    n = 0
    while m.step():
        m.ui(m.clock.ticks_ms())
        n += 1
    assert board.wdt.fed == n == 30
    assert [e[1:3] for e in m.persist.events() if e[1] == ev.RESET_CAUSE] == [
        (ev.RESET_CAUSE, 3)]

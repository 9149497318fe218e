"""The meter's main loop on a Pico board: boot (store, configuration, clock, Meter), then forever.

The deployed /main.py (tools/deploy.py) is `from boards.pico import main; main.main()`.
Importing this module only defines the functions, on every port: the emulator tests and
the bench import it on the chip and run boot() and run() themselves (tools/rp2emu). Another
Pico board starts its own module the same way: boards/pico_ads131m08/main.py's main() is
`main.main(boards.pico_ads131m08.board)`.

boot(board_module, ...) -> (meter, board, store)
    1. micropython.alloc_emergency_exception_buf(100); gc.collect(); gc.threshold(-1)
       (a collection only when the heap is full: see GC_THRESHOLD)
    2. the store: flash.open_store (refuses a filesystem that reaches into it), Store,
       mount
    3. the configuration: Config(profile) the first time (then written to the store);
       afterwards the stored legal + settings JSON wins (the optical port may have
       changed it), as boards/sim/main.py's sync_config. An unreadable or invalid stored
       configuration: the profile's defaults run, the store is left as it is (evidence),
       and a CORRUPT event (area legal) raises the data-lost indication.
    4. the board: board_module.make_board(config, flash=...) with the stored configuration
    5. the clock: restored to the newest time the store knows if the RTC reads earlier
       (no battery: boards/pico/clock.py); logged as CLOCK_SET old -> new
    6. Meter(board, config, None, store): registers restored, the reset cause and
       power-up logged; the calibration is the configuration's legal "calibration"
       (written by tools/calibrate.py through the optical port with the seal open)

run(meter, board, stop=None, idle=None) -> iterations (only when stop() says so)
    while True:
        up to MAX_BLOCKS blocks: meter.step() (it also follows the power-fail input:
            while the supply fails it saves once and measures nothing), meter.tick()
            after each (pulse outputs want a tick every few ms); False from step() only
            means "no block ready yet": the loop goes on
        meter.tick(now); meter.ui(now): display, button, optical port, watchdog feed
    Errors: the loop never halts on them.
    - the metrology side (sampler, engine, registers, pulse outputs, the saves behind
      them) catches its own: Meter.fault counts them (`meter.faults`), logs a
      METER_ERROR event, lights the status indicator (ERROR), and the meter goes on
      measuring with the next block (mpmeter/meter.py). One bad period never costs the
      registers, and a reset would cost the open period and the pulses in flight.
    - the UI side (display, button, optical port, commands) is caught here, counted in
      `meter.errors_ui` and printed: bad input from outside never stops the metrology. The
      feed is the last thing Meter.ui() does, so an exception there skips one feed; a UI
      that fails on every call for WDT_MS gets the board reset (by design: a meter with a
      dead display or port restarts, its registers safe in the store).
    - anything else that leaves run() (a defect of this loop itself) is counted as a
      fault too, and main() enters the loop again.
    - only boot() may stop the meter: a failed self-check there (a filesystem over the
      store, a converter that does not answer) prints the reason and waits for the
      watchdog; the registers in flash are untouched (nothing was measured yet).
    - KeyboardInterrupt (mpremote's Ctrl-C, development): main() saves the registers
      (power_down), stops the watchdog and returns to the REPL.
    Sleep: after an iteration that found no block (or took none because the supply is
    failing), the loop sleeps in board.sleep_ms (time.sleep_ms: WFE on the rp2 port,
    the core really idle) until the sampler's next block is due (sampler.due_us() plus
    DUE_MARGIN_US), never longer than IDLE_MAX_MS (the button's poll), and shorter when
    Meter.idle_ms() says a pulse edge is due sooner or the optical port is busy (its
    bytes wait meanwhile in the UART's 256-byte rxbuf, filled by interrupt). So the
    display, button and port run at most every UI_MS (every wake while the port is in a
    session), not continuously; the CPU load is measured on the emulated chip (make
    bench). With a test's idle() the UI runs every iteration, as before.
    stop(iterations) -> True ends run() (tests); idle(), when given, is called instead
    of the sleep (tests advance their model of the chip there).
"""

import gc
import sys

import micropython

MAX_BLOCKS = 4            # blocks per iteration before tick/ui run again (4 x 20 ms)
IDLE_MAX_MS = 20          # the longest sleep of the loop (the button is polled at least
                          # this often; a block is 20 ms on the 162, 40 ms on the 351)
DUE_MARGIN_US = 300       # wake this long after a block's expected end (its DMA stamp)
UI_MS = 50                # meter.ui() at most this often while the optical port is idle
                          # (button, display, port, watchdog; every wake while it is busy)
GC_THRESHOLD = -1         # gc.threshold: -1 = collect only when an allocation fails.
                          # Measured on the emulated chip (make bench): free // 4 gave a
                          # collection about every second and cost ~5 % of the core (14.2 %
                          # whole-meter load against 9.4 %); a collection's pause (~14 ms
                          # at 150 KB free) is the same either way.


# -- boot ---------------------------------------------------------------------------------
def _heap():
    micropython.alloc_emergency_exception_buf(100)
    gc.collect()
    free = getattr(gc, "mem_free", None)
    if free is not None and hasattr(gc, "threshold"):
        gc.threshold(GC_THRESHOLD)


def load_config(store, profile):
    """(config, problem): the stored configuration over Config(profile) (stored wins);
    the first time the profile's own, written to the store. problem is None, or text
    saying why the stored configuration was not used (the defaults run then)."""
    import json

    from mpmeter.config import Config

    cfg = Config(profile)
    kept = store.get("legal")
    if kept is None:
        legal, settings = cfg.split()
        store.put("legal", json.dumps(legal).encode())
        store.put("settings", json.dumps(settings).encode())
        return cfg, None
    try:
        d = json.loads(kept)
        s = store.get("settings")
        if s is not None:
            d.update(json.loads(s))
        if d.pop("profile", profile) != profile:
            raise ValueError("stored profile is not %s" % profile)
        for k in list(d):
            if k not in cfg.data:
                del d[k]                  # a setting an older firmware kept
        return Config(profile, d), None
    except (ValueError, TypeError, AttributeError) as e:
        return cfg, "stored configuration not used: %s" % e


def last_saved(store):
    """The newest UTC the store holds: the newest event, the logbook's last update of
    the newest register save (logs/logbook.py state: save number, version, hours, stops,
    pulses, last, ...); 0 when there is none."""
    from mpmeter.logs import events
    from mpmeter.logs.logbook import STATE_VERSION
    from mpmeter.storage.codec import unpack_uints

    t = 0
    for _seq, p in store.iter("events"):
        try:
            t = max(t, events.unpack(p)[0])
        except ValueError:
            pass
    p = store.get("registers", 1)
    if p is not None:
        try:
            st = unpack_uints(p)
            if len(st) > 5 and st[1] == STATE_VERSION:
                t = max(t, st[5])
        except ValueError:
            pass
    return t


def boot(board_module, machine=None, rp2=None, time=None, uctypes=None, os=None, **kw):
    """(meter, board, store): see the module doc. The modules are passed to the board
    (tests: models); kw goes to make_board (front_end, sampler, ...)."""
    _heap()                             # first: the emergency buffer, a clean heap
    from mpmeter.logs import events
    from mpmeter.meter import Meter
    from mpmeter.storage.store import Store

    from boards.pico import board as pico

    machine, rp2, time, uctypes, os = pico.modules(machine, rp2, time, uctypes, os)
    from boards.pico.flash import open_store

    dev = open_store(rp2, os)
    store = Store(dev)
    store.mount()
    cfg, problem = load_config(store, board_module.PROFILE)
    board = board_module.make_board(cfg, machine=machine, rp2=rp2, time=time,
                                    uctypes=uctypes, os=os, flash=dev, **kw)
    clock = board.clock
    restored = clock.restore(last_saved(store)) if hasattr(clock, "restore") else None
    rec = getattr(board.sampler, "creep_power", None)
    if rec and cfg.data["creep_power"] is None:
        cfg.creep_power = max(cfg.creep_power, rec)
    meter = Meter(board, cfg, None, store)     # calibration: cfg.calibration
    if restored is not None:
        meter.persist.log(events.CLOCK_SET, restored, clock.now())
    if problem is not None:
        print("mpmeter:", problem)
        meter.persist.log(events.CORRUPT, store.index("legal"), 0)
    meter.errors_ui = 0
    gc.collect()
    return meter, board, store


# -- the loop -----------------------------------------------------------------------------
def _report(where, e):
    print("mpmeter: error in the %s:" % where)
    pe = getattr(sys, "print_exception", None)
    if pe is not None:
        pe(e)
    else:
        import traceback

        traceback.print_exception(type(e), e, e.__traceback__)


def run(meter, board, stop=None, idle=None):
    """The main loop (see the module doc). Returns only when stop(iterations) is true;
    an exception of the metrology side propagates."""
    ticks = board.clock.ticks_ms
    step = meter.step
    tick = meter.tick
    sleep = getattr(board, "sleep_ms", None) if idle is None else None
    due = getattr(board.sampler, "due_us", None)
    op = getattr(meter, "optical", None)
    busy = getattr(op, "in_session", None)
    ui_at = ticks() - UI_MS
    it = 0
    while True:
        n = 0
        while n < MAX_BLOCKS and step():
            n += 1
            tick(ticks())
        now = ticks()
        tick(now)
        try:
            if (idle is not None or now - ui_at >= UI_MS or now - ui_at < 0
                    or (busy is not None and busy())):
                ui_at = now
                meter.ui(now)
        except KeyboardInterrupt:
            raise
        except Exception as e:          # the UI never stops the metrology
            meter.errors_ui = getattr(meter, "errors_ui", 0) + 1
            if isinstance(e, MemoryError):
                gc.collect()
            _report("display / optical port", e)
        it += 1
        if stop is not None and stop(it):
            return it
        if idle is not None:
            if n == 0 or meter.down:    # no block was ready (or none is taken: down)
                idle()
        elif sleep is not None and (n < MAX_BLOCKS or meter.down):
            # step() said no block is ready: sleep until one is (see the module doc)
            w = IDLE_MAX_MS
            if due is not None and not meter.down:
                w = (due() + DUE_MARGIN_US) // 1000
                if w > IDLE_MAX_MS:
                    w = IDLE_MAX_MS
            w = meter.idle_ms(now, w)
            if w > 0:
                sleep(w)


def halt(board):
    """After a failed boot: stop feeding the watchdog (started here if the error came
    before the first feed) and wait for it to reset the board."""
    wdt = getattr(board, "wdt", None) if board is not None else None
    if wdt is None:
        import machine

        machine.reset()
    wdt.start()
    while True:
        pass


def main(board_module=None):
    """Boot and run the meter on the board (never returns, except to the REPL on
    Ctrl-C)."""
    if board_module is None:
        from boards.pico import board as board_module
    try:
        meter, board, _store = boot(board_module)
    except Exception as e:              # the self-check at boot failed
        _report("boot", e)
        halt(None)
    while True:
        try:
            run(meter, board)
        except KeyboardInterrupt:
            meter.power_down()
            wdt = getattr(board, "wdt", None)
            if wdt is not None and hasattr(wdt, "stop"):
                wdt.stop()
            print("mpmeter: stopped (registers saved, watchdog off)")
            return
        except Exception as e:          # counted, logged, shown; measuring goes on
            from mpmeter.meter import FAULT_LOOP

            meter.fault(FAULT_LOOP, e)
            _report("main loop", e)


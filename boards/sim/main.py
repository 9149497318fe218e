"""Simulator entry point: runs the firmware on boards/sim (MicroPython unix port or CPython).

    micropython -X heapsize=1m boards/sim/main.py --scenario FILE [options]
(tools/sim.py builds this command line; `make sim` calls tools/sim.py.)
"""

import json
import sys

if "" not in sys.path:
    sys.path.insert(0, "")

from boards.sim import realtime  # noqa: E402
from boards.sim import scenario as scenario_mod  # noqa: E402
from boards.sim.board import SimPin, make_board  # noqa: E402
from boards.sim.terminal import Terminal, panel, utc_text  # noqa: E402
from mpmeter.config import Config  # noqa: E402
from mpmeter.energy.registers import NAMES, OBIS  # noqa: E402
from mpmeter.meter import Meter  # noqa: E402
from mpmeter.metrology.calibration import Calibration  # noqa: E402

DEFAULT_SCENARIO = "boards/sim/scenarios/household_day.json"
STATE_FILE = "/flash.bin"
EXIT_POWER_CUT = 3
EXIT_INTERRUPTED = 130
MICRO = sys.implementation.name == "micropython"


_ms = realtime.ms
_elapsed = realtime.elapsed
_sleep_ms = realtime.sleep_ms


def parse(argv):
    import argparse

    p = argparse.ArgumentParser(description="mpmeter simulator")
    p.add_argument("--scenario", default=DEFAULT_SCENARIO)
    p.add_argument("--speed", default="max")
    p.add_argument("--fidelity", default="waveform")
    p.add_argument("--adc", default="")
    p.add_argument("--state", default="")
    p.add_argument("--report", default="")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--no-noise", action="store_true")
    p.add_argument("--no-ansi", action="store_true")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--config", default="")
    p.add_argument("--cal", default="")
    p.add_argument("--refresh-ms", type=int, default=250)
    p.add_argument("--coarse", action="store_true")
    p.add_argument("--cut", default="", help="test aid: N:K cuts the power at byte K of "
                   "flash operation N of this run (exit code 3, like pulling the plug)")
    p.add_argument("--optical", default="", help="tcp:HOST:PORT serves the optical port "
                   "on a loopback TCP port (HOST 127.0.0.1 or localhost)")
    p.add_argument("--hold", action="store_true", help="after the scenario, keep serving "
                   "the optical port until interrupted (SIGINT; SIGTERM via tools/sim.py)")
    p.add_argument("--board", default="", help="pico | pico_ads131m08: run that board's "
                   "own sampler on the register-level hardware models (CPython only)")
    p.add_argument("--errors", default="", help="--board: JSON file of analog errors of "
                   "the board's front end (boards/sim/models.py), a mis-calibrated board")
    p.add_argument("--bench", default="", help="--board: tcp:127.0.0.1:PORT, the "
                   "calibration bench's load control (boards/sim/models.py); the last "
                   "load is held until SIGTERM/SIGINT")
    p.add_argument("--seal", default="closed", help="open: the verification seal is "
                   "open (legal settings and calibration writable over the optical port)")
    return p.parse_args(argv)


def parse_optical(text, what="--optical"):
    """(host, port) of tcp:HOST:PORT (loopback only); ValueError naming the part."""
    parts = text.split(":")
    if len(parts) != 3 or parts[0] != "tcp":
        raise ValueError("%s: tcp:HOST:PORT, got %r" % (what, text))
    if parts[1] not in ("127.0.0.1", "localhost"):
        raise ValueError("%s: HOST must be 127.0.0.1 or localhost (loopback only), "
                         "got %r" % (what, parts[1]))
    try:
        port = int(parts[2])
    except ValueError:
        port = 0
    if not 0 < port < 65536:
        raise ValueError("%s: PORT must be 1..65535, got %r" % (what, parts[2]))
    return "127.0.0.1", port


def _speed(text):
    if text == "max":
        return 0.0
    try:
        x = float(text)
    except ValueError:
        raise ValueError("--speed: a number > 0 or 'max', got %r" % text)
    if not x > 0:
        raise ValueError("--speed: a number > 0 or 'max', got %r" % text)
    return x


def _load_json(path, what):
    try:
        with open(path) as f:
            return json.load(f)
    except OSError:
        raise ValueError("%s: cannot read %s" % (what, path))
    except ValueError:
        raise ValueError("%s: %s is not valid JSON" % (what, path))


def open_store(path):
    """The meter's flash region in DIR/flash.bin (created blank on the first run)."""
    from boards.sim.fileflash import FileFlash
    from mpmeter.storage.store import REGION_BLOCKS, Store

    try:
        import os
        os.mkdir(path)
    except OSError:
        pass
    dev = FileFlash(path + STATE_FILE, REGION_BLOCKS)
    return dev, Store(dev)   # mounted by the caller (after a --cut is armed)


def sync_config(store, cfg, path, given=None):
    """(config, settings changed). First run: the configuration goes into the store.
    Later runs: the meter's own configuration is the one in the store (the optical port
    may have changed it); the legal part asked for must match it (it is sealed), except
    the legal settings the port writes with the seal open (comms/programming.py) when
    --config does not name them. With --config (`given`: its overrides) the non-legal
    settings asked for replace the stored ones."""
    from mpmeter.comms.programming import SETTINGS

    legal, settings = cfg.split()
    kept = store.get("legal")
    if kept is None:
        store.put("legal", json.dumps(legal).encode())
        store.put("settings", json.dumps(settings).encode())
        return cfg, False
    try:
        kept = json.loads(kept)
        old = store.get("settings")
        kept_set = json.loads(old) if old is not None else {}
    except ValueError:
        raise ValueError("--state %s: the stored configuration is not readable" % path)
    for k in sorted(legal):
        if kept.get(k) != legal[k] and (k not in SETTINGS or (given and k in given)):
            raise ValueError("--state %s: legal setting %s is %r in this meter, %r asked "
                             "(a sealed setting; use another state directory)"
                             % (path, k, kept.get(k), legal[k]))
    d = dict(legal)
    d.update(kept)
    d.update(settings if given else kept_set)
    d.pop("profile", None)
    for k in list(d):
        if k not in cfg.data:
            del d[k]                       # a setting an older firmware kept
    try:
        new = Config(cfg.profile, d)
    except ValueError as e:
        raise ValueError("--state %s: the stored configuration: %s" % (path, e))
    changed = bool(given) and kept_set != new.split()[1]
    if changed:
        store.put("settings", json.dumps(new.split()[1]).encode())
    return new, changed


def logbook_report(meter):
    """Tariff registers, counters, demand, billing loggers and load profile (for --report)."""
    lb = meter.logbook
    d = lb.demand
    out = {"tariff": lb.tariff,
           "tariff_a_plus_mwh": list(lb.treg.a_plus), "tariff_r_plus_mwh": list(lb.treg.r_plus),
           "hours": lb.hours_s // 3600, "hours_s": lb.hours_s, "billing_stops": lb.stops,
           "pulse_input": lb.pulse_units(),
           "demand": {"period_s": d.period, "pmax_mw": d.pmax, "qmax_mw": d.qmax,
                      "tariff_max": d.tmax, "pmax_acc_mw": d.pmax_acc,
                      "qmax_acc_mw": d.qmax_acc, "threshold_count": d.over,
                      "last_p_mw": d.last_p, "last_q_mw": d.last_q}}
    if lb.billing is not None:
        out["billing"] = list(lb.billing.snapshots())
        out["billing2"] = list(lb.billing2.snapshots())
        # the entries are streamed into the file by write_report (a year is 35,000)
        out["profile"] = {"channels": lb.profile.names(), "period_s": lb.profile.period,
                          "entries": _ENTRIES}
    return out


_ENTRIES = "@@profile entries@@"


def write_report(path, out, meter):
    """JSON of `out`, the load-profile entries written one at a time (no list of them is
    built: a year of entries does not fit the unix port's heap as Python lists)."""
    text = json.dumps(out)
    mark = json.dumps(_ENTRIES)
    i = text.find(mark)
    with open(path, "w") as f:
        if i < 0:
            f.write(text)
            return
        f.write(text[:i])
        f.write("[")
        sep = ""
        for e in meter.logbook.profile.entries():
            f.write(sep + json.dumps([e[0], e[1]] + list(e[2])))
            sep = ", "
        f.write("]")
        f.write(text[i + len(mark):])


def report(meter, board, sc, args, wall_ms):
    out = meter.report()
    m = meter.m
    out["scenario"] = args.scenario
    out["profile"] = sc["profile"]
    out["fidelity"] = args.fidelity
    out["adc"] = board.adc
    out["runtime"] = sys.implementation.name
    out["sim_seconds"] = board.clock.ms() / 1000
    out["wall_seconds"] = wall_ms / 1000
    out["end_utc"] = utc_text(board.clock.now())
    out["obis"] = dict((OBIS[n], n) for n in NAMES)
    out["instantaneous"] = {"vrms": list(m.vrms), "irms": list(m.irms), "p": list(m.p),
                            "q": list(m.q), "pf": list(m.pf), "freq": m.freq,
                            "p_total": m.p_total, "q_total": m.q_total}
    out["logbook"] = logbook_report(meter)
    if args.coarse:
        out["pulses"] = {"note": "not simulated in --coarse steps"}
    elif board.led is not None:
        out["pulses"]["led_active"]["pin_rises"] = board.led.rises
    if board.s0 is not None and "s0" in out["pulses"]:
        out["pulses"]["s0"]["pin_rises"] = board.s0.rises
    if board.sampler is not None and hasattr(board.sampler, "counters"):
        out["sampler"] = board.sampler.counters()
    if board.optical is not None and hasattr(board.optical, "counters"):
        out["optical"] = board.optical.counters()
    return out


def run(argv):
    args = parse(argv)
    speed = _speed(args.speed)
    sc = scenario_mod.load(args.scenario)
    overrides = _load_json(args.config, "--config") if args.config else {}
    if "wiring" in sc and sc["wiring"] != "4w":
        overrides["wiring"] = sc["wiring"]
    cfg = Config(sc["profile"], overrides)
    if args.seal not in ("open", "closed"):
        raise ValueError("--seal: open or closed, got %r" % args.seal)
    if args.board:
        if MICRO:
            raise ValueError("--board runs the hardware models: CPython only "
                             "(tools/sim.py --runtime cpython)")
        from boards.sim import models

        errors = _load_json(args.errors, "--errors") if args.errors else None
        bench = parse_optical(args.bench.replace("tcp:", "tcp:", 1), "--bench") \
            if args.bench else None
        board = models.make_board(args.board, cfg, sc, errors, args.seed,
                                  not args.no_noise, bench)
        if bench is not None:
            print("calibration bench: tcp %s:%d" % bench)
            _flush()
            _stop_on_term(board.sampler)
    else:
        if args.errors or args.bench:
            raise ValueError("--errors and --bench need --board")
        board = make_board(cfg, sc, args.fidelity, args.adc or None, args.seed,
                           not args.no_noise)
    board.seal = SimPin("seal")
    board.seal.value(1 if args.seal == "open" else 0)
    if args.optical:
        from boards.sim.optical import TcpPort

        host, port = parse_optical(args.optical)
        board.optical = TcpPort(host, port)
        print("optical port: tcp %s:%d" % (host, port))
        _flush()
    cals = None
    if args.cal:
        raw = _load_json(args.cal, "--cal")
        if not isinstance(raw, list):
            raise ValueError("--cal: a list with one object per measuring system")
        cals = [Calibration.from_dict(c) for c in raw]
    store = None
    if args.state:
        dev, store = open_store(args.state)
        if args.cut:
            try:
                n, k = args.cut.split(":")
                dev.cut(int(n), int(k))
            except ValueError:
                raise ValueError("--cut: N:K (flash operation, byte), got %r" % args.cut)
        store.mount()
        cfg, changed = sync_config(store, cfg, args.state,
                                   overrides if args.config else None)
    elif args.cut:
        raise ValueError("--cut needs --state DIR")
    if board.sampler is not None and cfg.data["creep_power"] is None:
        # the board's converter sets how low the meter can go (see README: starting current)
        rec = getattr(board.sampler, "creep_power", None)
        if rec:
            cfg.creep_power = max(cfg.creep_power, rec)
    meter = Meter(board, cfg, cals, store)
    if store is not None and changed:
        from mpmeter.logs import events
        meter.persist.log(events.CONFIG, 0)
    if store is not None:
        print(restored_line(meter, args.state))
        _flush()
    optical_poll = throttle_optical(meter) if not speed else None
    term = None if args.quiet else Terminal(sys.stdout, not args.no_ansi)
    title = "mpmeter sim  profile %s  %s/%s  speed %s" % (sc["profile"], args.fidelity,
                                                          board.adc, args.speed)
    t0 = _ms()
    last_draw = -100000
    last_ms = 0
    clock = board.clock
    blocks = 0
    if args.coarse:
        if args.fidelity != "phasor":
            raise ValueError("--coarse needs --fidelity phasor")
        meter.coarse = True
    interrupted = False
    try:
        while meter.step():
            now = clock.ms()
            if meter.busy() and not args.coarse:
                t = last_ms + 1
                while t <= now:
                    meter.tick(t)
                    t += 1
            last_ms = now
            meter.ui(now)
            blocks += 1
            if speed or (term is not None and blocks % 16 == 0):
                real = _elapsed(t0)
                if speed:
                    ahead = int(now / speed) - real
                    if ahead > 2:
                        _sleep_ms(ahead)
                        real = _elapsed(t0)
                if term is not None and real - last_draw >= args.refresh_ms:
                    last_draw = real
                    term.draw(panel(meter, title + "  " + utc_text(clock.now()) + " UTC"))
    except KeyboardInterrupt:
        interrupted = True      # SIGINT (Ctrl-C; SIGTERM through tools/sim.py): the
        #                         orderly end below, as when the scenario ends
    meter.finish()
    # let queued pulses finish on the sim clock (bounded: one minute of pulse time)
    t = last_ms + 1
    while meter.busy() and t < last_ms + 60000 and not args.coarse:
        meter.tick(t)
        t += 1
    wall = _elapsed(t0)
    if term is not None:
        term.draw(panel(meter, title + "  " + utc_text(clock.now()) + " UTC  (end)"))
    if store is not None:
        meter.power_down()   # orderly: the simulator's supply is switched off
    if args.report:
        write_report(args.report, report(meter, board, sc, args, wall), meter)
    if getattr(board, "bench", None) is not None:
        board.bench.close()
    if interrupted:
        print("mpmeter sim: interrupted%s" % (" (registers saved)" if store else ""))
        _close_port(meter)
        return EXIT_INTERRUPTED
    if optical_poll is not None:
        meter.optical.poll = optical_poll       # the port's own pace again
    if args.hold:
        hold(meter)
    return 0


def restored_line(meter, path):
    """What the meter resumed from its state directory (printed at boot)."""
    p = meter.persist
    if p.restored is None:
        return "state %s: no saved registers, a new meter" % path
    reg = meter.registers
    return "state %s: save %d restored: %s (mWh, primary)" % (
        path, p.save_no, " ".join("%s=%d" % (n, reg.mwh(n, True)) for n in NAMES))


POLL_BLOCKS = 8       # sample blocks between two looks at the real clock
POLL_MS = 2           # real milliseconds between two polls of the optical port


def throttle_optical(meter):
    """With --speed max, poll the optical port at most every POLL_MS of real time while
    the samples run (meter.ui polls it after every block: a poll per 20 ms block of the
    162 costs 11..15 % of the run, this ~3 %). Returns the port's own poll (None: no
    optical port); hold() uses that one."""
    opt = getattr(meter, "optical", None)
    if opt is None:
        return None
    real = opt.poll
    st = [0, _ms()]

    def poll():
        st[0] += 1
        if st[0] < POLL_BLOCKS:
            return
        st[0] = 0
        t = _ms()
        if _diff_ms(t, st[1]) >= POLL_MS:
            st[1] = t
            real()

    opt.poll = poll
    return real


_diff_ms = realtime.diff


def _stop_on_term(drv):
    """With a bench the samples never end: SIGTERM/SIGINT end them (an orderly end:
    report, power-down, exit 0)."""
    import signal

    def stop(signum, frame):
        drv.stop = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)


def _flush():
    try:
        sys.stdout.flush()
    except AttributeError:
        pass


def hold(meter):
    """Serve the optical port after the scenario (the registers stay as they ended) until
    KeyboardInterrupt (SIGINT; CPython: SIGTERM too). Returns normally."""
    stop = []
    if not MICRO:
        import signal

        def _term(signum, frame):
            stop.append(signum)

        signal.signal(signal.SIGTERM, _term)
    print("mpmeter sim: holding (the scenario has ended)")
    _flush()
    opt = getattr(meter, "optical", None)
    try:
        while not stop:
            if opt is not None:
                opt.poll()
            _sleep_ms(2)
    except KeyboardInterrupt:
        pass
    _close_port(meter)


def _close_port(meter):
    port = meter.board.optical
    if port is not None and hasattr(port, "close"):
        port.close()


def main(argv):
    from mpmeter.storage.ramflash import PowerCut

    try:
        return run(argv)
    except ValueError as e:
        print("mpmeter sim: error:", e)
        return 2
    except PowerCut:
        print("mpmeter sim: power cut during a flash write (--cut)")
        return EXIT_POWER_CUT
    except KeyboardInterrupt:            # before the meter ran (nothing to save)
        print("mpmeter sim: interrupted")
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The record store on the emulated RP2040's flash: the deployed meter cut off at random moments.

The real frozen firmware runs /main.py (`from boards.pico import main; main.main()`,
as tools/deploy.py writes it) on the emulated chip (tools/rp2emu) at 230 V 85 A PF 1
(the 162 at Imax: 19.55 kW, a save of the registers at every 0.1 kWh step, about
every 18.4 s). Round after round the chip boots from the flash the last round left
(the first from a flash with only the UF2 and /main.py), runs main.py by itself for
a seeded random time and loses its supply at once (`cut`: nothing more executes);
the flash is saved. Some cuts fall in the first second (the boot's store writes: the
configuration on the first boot, the POWER_UP and RESET_CAUSE events), some aimed
right after one store write (stepping 1 ms at a time and watching the flash counters),
some between the two records of a register save, some after a whole save.

After every round a second chip boots from that flash with no load, main.py is
stopped with one Ctrl-C (its KeyboardInterrupt path), and onchip_checks.store_state()
mounts the store and restores the registers the way boards/pico/main.py's boot()
does. Checked: the store mounts every time with no corrupt slot and no data-lost
event (a cut write is torn, never corrupt), no register ever goes backwards, a cut
between the two records of a save keeps the previous save, a cut after a whole save
keeps the new one, and over the rounds the registers advance.

Not covered by the emulator: a cut inside one flash operation (the harness applies a
sector erase or a page program in one step), the erase time (instant here).
"""

import random

import pytest

from rp2_support import full, image

import rp2emu

pytestmark = full

MAIN_PY = "from boards.pico import main\nmain.main()\n"
V, AMPS = 230.0, 85.0
P_W = V * AMPS                      # PF 1
STEP_WH = 100.0                     # the 162's display step (0.1 kWh): a save at each
T_LOOP_S = 0.35                     # reset -> the meter's loop (measured: POWER_UP event)
NAMES = ("a_plus", "a_minus", "r_plus", "r_minus")
SEED = 20261202


def wh(pair):
    n, d = pair
    return n / d / 1000.0


def raw_store(path):
    """The store as the saved flash holds it (decoded here, before any boot writes to
    it): {area: (torn, corrupt)} of a mount, and the save numbers of the newest
    register record of each kind (kind 0 registers, kind 1 the logbook's state)."""
    from boards.pico.flash import FS_BYTES, STORAGE_BYTES
    from mpmeter.storage.codec import first_uint
    from mpmeter.storage.ramflash import RamFlash
    from mpmeter.storage.store import REGION_BLOCKS, Store

    with open(path, "rb") as f:
        img = f.read()
    base = len(img) - STORAGE_BYTES + FS_BYTES
    dev = RamFlash(REGION_BLOCKS)
    dev.mem[:] = img[base:base + len(dev.mem)]
    store = Store(dev)
    mount = store.mount()
    area = store.area("registers")
    tops = [area.latest(k) for k in (0, 1)]
    return mount, [None if t is None else first_uint(t[1]) for t in tops]


def flash_ops(chip):
    f = chip.status()["flash"]
    return f["erase"] + f["program"]


def store_state(uf2, flash, seed):
    """Boot `flash` with no load, stop main.py with one Ctrl-C, read the store."""
    chip = rp2emu.Chip(uf2, flash=flash, seed=seed)
    try:
        chip.run(ms=1500)                     # main.py boots the meter and runs
        chip.read()
        boot_out = chip.usb
        chip.write("\x03")                    # one: a second would interrupt power_down
        stopped = chip.wait_for(">>> ", 5000)
        code = rp2emu.checks_source() + "\nimport boards.pico.board as _b\nstore_state(_b)\n"
        st = chip.exec_json(code, 30000)
        st["usb"] = boot_out + stopped
        return st
    finally:
        chip.close()


def fine_until(chip, pred, limit_ms, step_ms=1.0):
    """Step the chip until pred(ops) is true (ops: flash operations so far); the ms
    stepped, or None if limit_ms passed first."""
    k = 0
    while k * step_ms < limit_ms:
        chip.run(ms=step_ms)
        k += 1
        if pred(flash_ops(chip)):
            return k * step_ms
    return None


def drive(chip, plan, a_plus_wh):
    """Run the round's chip to its cut moment. Returns a text saying where it cut and
    the ops seen in the fine window (None for a random moment)."""
    kind = plan[0]
    if kind == "at":
        chip.run(ms=plan[1] * 1000)
        return "at %.3f s" % plan[1], None
    if kind == "write":                   # right after the n-th store write of the boot
        n = plan[1]
        chip.run(ms=100)
        base = flash_ops(chip)
        got = fine_until(chip, lambda ops: ops >= base + n, 1500)
        assert got is not None, "no %d store writes in the boot's first 1.6 s" % n
        return "after boot write %d" % n, None
    # a register save: predicted from the restored registers (the next 0.1 kWh step)
    need = (int(a_plus_wh // STEP_WH) + 1) * STEP_WH - a_plus_wh
    t_pred = T_LOOP_S + need * 3600.0 / P_W
    chip.run(ms=(t_pred - 0.5) * 1000)
    base = flash_ops(chip)
    got = fine_until(chip, lambda ops: ops > base, 2500)
    assert got is not None, "no register save within 2.5 s of %.2f s" % t_pred
    ops = flash_ops(chip) - base
    if kind == "pair":
        return "between the records of a save (predicted %.2f s)" % t_pred, ops
    chip.run(ms=plan[1] * 1000)             # "after": the save is whole, then more
    return "%.2f s after a save (predicted %.2f s)" % (plan[1], t_pred), ops


def plans(rng):
    return [
        ("write", rng.randint(1, 3)),         # first boot: legal, settings, events
        ("at", rng.uniform(0.05, 1.0)),
        ("pair",),                            # the meter's first save: no older one
        ("write", rng.randint(1, 2)),
        ("after", rng.uniform(0.0, 2.0)),
        ("pair",),
        ("at", rng.uniform(0.05, 1.0)),
        ("at", rng.uniform(1.0, 6.0)),
        ("pair",),
        ("after", rng.uniform(0.0, 2.0)),
    ]


def test_store_survives_power_cuts(tmp_path):
    uf2 = image("pico")
    rng = random.Random(SEED)
    # the flash of a deployed meter: the image, littlefs with /main.py, a blank store
    flash = str(tmp_path / "flash0.bin")
    with rp2emu.Chip(uf2, seed=SEED) as chip:
        chip.boot()
        chip.exec("f = open('/main.py', 'w'); f.write(%r); f.close()" % MAIN_PY)
        chip.save(flash)
    prev = store_state(uf2, flash, SEED)
    assert not prev["data_lost"], prev
    for n in NAMES:
        assert prev["primary"][n][0] == 0, prev
    rows = []
    for r, plan in enumerate(plans(rng)):
        phase0 = rng.uniform(0, 360)
        chip = rp2emu.Chip(uf2, flash=flash, seed=SEED + r)
        try:
            chip.analog(**rp2emu.pico_analog(V, AMPS, 0.0, 50.0, phase0=phase0))
            where, ops = drive(chip, plan, wh(prev["primary"]["a_plus"]))
            chip.cut()
            st = chip.status()
            flash = str(tmp_path / ("flash%d.bin" % (r + 1)))
            chip.save(flash)
        finally:
            chip.close()
        assert st["fault"] is None, st
        cut_ms = st["ns"] / 1e6
        raw_mount, raw_saves = raw_store(flash)
        cur = store_state(uf2, flash, SEED + 100 + r)
        usb = cur.pop("usb")
        assert "error" not in usb, usb
        corrupt = dict((a, v[1]) for a, v in cur["mount"].items() if v[1])
        torn = dict((a, v[0]) for a, v in cur["mount"].items() if v[0])
        codes = [e[1] for e in cur["events"]]
        rows.append((r + 1, plan[0], where, cut_ms, st["flash"]["erase"],
                     st["flash"]["program"], ops, wh(cur["primary"]["a_plus"]),
                     cur["restored"], torn, codes.count(3)))
        print("round %d: %s, cut at %.1f ms emulated (this boot's flash ops: %d erase, "
              "%d program%s): flash as cut: newest register save %s, logbook state %s, torn %s; "
              "after a boot: A+ %.4f Wh (exact %d/%d), torn-write events %d, events %d"
              % (r + 1, where, cut_ms, st["flash"]["erase"], st["flash"]["program"],
                 "" if ops is None else "; %d in the save's fine window" % ops,
                 raw_saves[0], raw_saves[1],
                 dict((a, v[0]) for a, v in raw_mount.items() if v[0]),
                 wh(cur["primary"]["a_plus"]), cur["primary"]["a_plus"][0],
                 cur["primary"]["a_plus"][1], codes.count(3), len(codes)))
        # the store mounts every time: nothing corrupt, nothing lost, nothing failed
        assert not any(v[1] for v in raw_mount.values()), raw_mount
        assert not cur["data_lost"], cur
        assert not corrupt, cur
        assert 4 not in codes and 5 not in codes, cur["events"]     # CORRUPT, RESTORE_FAILED
        assert cur["store_errors"] == 0 and cur["faults"] == 0, cur
        # no register ever goes backwards (exact values, primary and secondary)
        for side in ("primary", "secondary"):
            for n in NAMES:
                n1, d1 = cur[side][n]
                n0, d0 = prev[side][n]
                assert n1 * d0 >= n0 * d1, (r + 1, side, n, prev[side][n], cur[side][n])
        a0 = wh(prev["primary"]["a_plus"])
        a1 = wh(cur["primary"]["a_plus"])
        if plan[0] == "pair" and ops == 1:
            assert raw_saves[0] == (raw_saves[1] or 0) + 1, raw_saves   # the cut pair
            if raw_saves[1] is not None:
                assert cur["primary"] == prev["primary"], (prev, cur)   # the previous save
            else:
                # the meter's first save cut between its records: there is no complete
                # save, and persist.py restores the lone register record (its logbook
                # state from the defaults) rather than starting from zero
                print("  note: the first save, cut between its records: A+ %.4f Wh "
                      "restored from the lone register record (no complete save exists)"
                      % a1)
        if plan[0] == "after":
            # the new save stands: one display step more (at most a period's energy over)
            assert a1 >= (int(a0 // STEP_WH) + 1) * STEP_WH, (a0, a1)
            assert a1 - a0 < STEP_WH + 2 * P_W / 3600.0 + 1, (a0, a1)
        if plan[0] in ("at", "write"):
            assert cur["primary"] == prev["primary"], (prev, cur)   # too short for a save
        prev = cur
    saves = sum(1 for row in rows if row[1] == "after")
    final = wh(prev["primary"]["a_plus"])
    print("rounds %d, register saves kept %d, A+ %.4f Wh at the end, cut moments (ms): %s"
          % (len(rows), saves, final, ", ".join("%.1f" % row[3] for row in rows)))
    assert final >= saves * STEP_WH


if __name__ == "__main__":
    raise SystemExit(pytest.main(["-q", "-s", __file__]))

"""The Pico sampler's DMA ring on the emulated RP2040 while the consumer stalls.

The real frozen firmware boots the meter (boards/pico/main.py's boot()) and runs its
loop, main.run, unchanged (tools/rp2emu/onchip_checks.py's dma_trace) at 230 V 20 A,
the current lagging by 30 degrees, 50 Hz. While it runs the host stops the core twice
(`stall`: time passes, the core executes nothing, the ADC and the three chained DMA
channels go on), as a flash sector erase does (up to 400 ms with interrupts off,
boards/pico/README.md):

  400 ms   inside the ring (32 blocks of 20 ms = 640 ms; a block is returned while it
           is at most (32 - 3) x 20 = 580 ms old): no overrun, and the energy over the
           periods around the stall is P x periods x 1 s (the engine closes a period
           after 50 whole cycles of the received data) within BOUND, the time between
           those period closes is periods x 1 s (no time lost);
  1000 ms  longer than the ring: the sampler skips to the oldest safe block and counts
           the blocks skipped (overruns > 0), no FIFO resync; after it the meter goes on
           measuring at the right rate (energy over whole periods and over the ticks
           between them).
Throughout, every block the sampler returns is checked on the chip as the engine
takes it: its stamp follows the previous one by T x (1 + blocks skipped) (never
twice, never out of order, no silent gap), and once processed the DMA is not writing
into it and its stamp is unchanged (not torn); at the end blocks returned + overruns
== seq + 1 (seq: the number of the block last returned, 0 the first) == the
blocks since the start, counted from the last block's stamp. No fault, no error.

Truth: P = V I cos(phi); over n whole periods the energy is P n cycles / f.
BOUND 0.3 % (the 162 is class B, +-1 % at PF 0.866 for A+): the emulated chain has only
the ADC's 12-bit quantisation, its E11 DNL (undone by the board's table) and noise.
"""

import math

from rp2_support import full, image

import rp2emu

pytestmark = full

V, AMPS, PHI, F = 230.0, 20.0, 30.0, 50.0
STALL1_MS, STALL2_MS = 400, 1000
BOUND = 0.003


def energy(a, b, name):
    n1, d1 = b["reg"][name]
    n0, d0 = a["reg"][name]
    return (n1 / d1 - n0 / d0) / 1000.0


def trace(stalls, total_s, max_age_us=None):
    """dma_trace on the chip; stalls: [(ms run before, ms stalled), ...]."""
    uf2 = image("pico")
    code = (rp2emu.checks_source() + "\nimport boards.pico.board as _b\ndma_trace(_b, %r, %r)\n"
            % (total_s, max_age_us))
    with rp2emu.Chip(uf2, seed=7) as chip:
        chip.boot()
        chip.analog(**rp2emu.pico_analog(V, AMPS, PHI, F, phase0=17.0))
        chip.start(code)
        for run_ms, stall_ms in stalls:
            chip.run(ms=run_ms)
            chip.stall(stall_ms)
        res = chip.result_json(int((total_s + 10) * 1000))
        st = chip.status()
    assert st["fault"] is None, st
    return res


def test_ring_rides_through_stall():
    p = V * AMPS * math.cos(math.radians(PHI))
    q = V * AMPS * math.sin(math.radians(PHI))
    res = trace([(3000, STALL1_MS), (3500, STALL2_MS)], 12.0)
    snaps, gaps = res["snaps"], res["gaps"]
    t_us = res["t_us"]
    period_s = res["cycles_cfg"] / F
    per = int(round(period_s * 1e6 / t_us))       # blocks of a whole period
    print("ring: %d blocks of %d us, max age %d us; loop gaps (ms): %s"
          % (res["nblocks"], t_us, res["max_age_us"],
             ", ".join("%.1f" % ((b - a) / 1000) for a, b in gaps)))
    assert len(gaps) == 2, gaps
    g1, g2 = gaps
    assert abs((g1[1] - g1[0]) / 1000 - STALL1_MS) < 60, gaps
    assert abs((g2[1] - g2[0]) / 1000 - STALL2_MS) < 60, gaps
    # snaps[0] is the loop's start; the rest are period closes
    closes = snaps[1:]
    before1 = [s for s in closes if s["us"] < g1[0]]
    after1 = [s for s in closes if g1[1] < s["us"] < g2[0]]
    after2 = [s for s in closes if s["us"] > g2[1]]
    assert before1 and len(after1) >= 2 and len(after2) >= 4, (len(before1), len(after1),
                                                                len(after2))

    def window(a, b, what):
        n = closes.index(b) - closes.index(a)
        t = n * period_s
        ea, er = energy(a, b, "a_plus"), energy(a, b, "r_plus")
        dt = (b["us"] - a["us"]) / 1e6
        err_a = ea / (p * t / 3600) - 1
        err_r = er / (q * t / 3600) - 1
        err_rate = ea / (p * dt / 3600) - 1
        print("%s: %d periods, %.4f s between the closes, A+ %.5f Wh (%+.4f %%), R+ %.5f "
              "varh (%+.4f %%), A+ over the ticks %+.4f %%, overruns %d -> %d"
              % (what, n, dt, ea, 100 * err_a, er, 100 * err_r, 100 * err_rate,
                 a["overruns"], b["overruns"]))
        return n, dt, err_a, err_r, err_rate

    # the 400 ms stall: nothing lost
    a = before1[-1]
    b = after1[1]
    n, dt, err_a, err_r, err_rate = window(a, b, "across the %d ms stall" % STALL1_MS)
    assert n * per - 1 <= b["seq"] - a["seq"] <= n * per + 4, (a, b)
    assert b["overruns"] == 0 and after1[-1]["overruns"] == 0, after1
    assert abs(err_a) < BOUND and abs(err_r) < 2 * BOUND, (err_a, err_r)
    assert abs(dt - n * period_s) < 0.03, (dt, n)
    # the 1 s stall: blocks skipped and counted, then measuring at the right rate
    over = after2[0]["overruns"]
    lost_ms = over * t_us / 1000
    span = [s for s in closes if s["us"] < g2[0]][-1]
    n, dt, err_a, _err_r, _ = window(span, after2[0], "across the %d ms stall" % STALL2_MS)
    got = (after2[0]["seq"] - span["seq"]) - (after2[0]["overruns"] - span["overruns"])
    print("the %d ms stall: %d blocks skipped (%.0f ms of samples); the period across it "
          "holds %d blocks of samples (%d per period; a snapshot may come up to 3 blocks "
          "after the close while the loop catches up) and took %.3f s of ticks"
          % (STALL2_MS, over, lost_ms, got, per, dt))
    assert over > 0, after2[0]
    # the blocks skipped are the stall less what the ring holds (580 ms), +- 2 blocks
    assert abs(lost_ms - (STALL2_MS - res["max_age_us"] / 1000)) <= 2 * t_us / 1000, lost_ms
    # the period across the gap is whole periods of samples, their energy P x n x 1 s
    assert n * per - 1 <= got <= n * per + 4, (got, n)
    assert abs(err_a) < BOUND, err_a
    n, dt, err_a, err_r, err_rate = window(after2[1], after2[-1], "after the stall")
    assert abs(err_a) < BOUND and abs(err_r) < 2 * BOUND, (err_a, err_r)
    assert abs(err_rate) < BOUND + 0.03 / dt, err_rate
    assert after2[-1]["overruns"] == over, after2        # no more skips afterwards
    # the ring's contract: never torn, twice, out of order, never skipped silently
    end = res["end"]
    last_no = round(((res["last_s"] - res["exp0"] + (1 << 29)) % (1 << 30) - (1 << 29))
                    / t_us)                     # block 0 ends at exp0
    print("blocks: %d returned + %d overruns = seq %d + 1; the last block returned is block %d "
          "since the start (by its stamp); order errors %d, torn %d, stamps overwritten %d, "
          "resyncs %d, faults %d, errors %d"
          % (end["returned"], end["overruns"], end["seq"], last_no, res["order_bad"],
             res["torn"], res["stamp_changed"], end["resyncs"], res["faults"],
             res["errors"]))
    assert end["returned"] + end["overruns"] == end["seq"] + 1, end     # seq: 0 = the first
    assert end["seq"] == last_no, (end, last_no)
    assert res["order_bad"] == 0 and res["torn"] == 0 and res["stamp_changed"] == 0, res
    assert end["resyncs"] == 0, end
    assert res["faults"] == 0 and res["errors"] == 0 and res["errors_ui"] == 0, res


def test_torn_check_sees_a_wrong_age_rule():
    """The negative control of the checks above: with the age rule relaxed to the whole
    ring (32 x 20 ms) a consumer back from a 1 s stall takes a block the DMA is already
    writing again, and the on-chip check counts it torn."""
    res = trace([(3000, STALL2_MS)], 6.0, max_age_us=32 * 20000)
    print("age rule 640 ms: torn %d, stamps overwritten %d, order errors %d, overruns %d"
          % (res["torn"], res["stamp_changed"], res["order_bad"], res["end"]["overruns"]))
    assert res["torn"] + res["stamp_changed"] > 0, res

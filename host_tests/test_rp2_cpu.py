"""CPU and heap of the frozen Pico image on the emulated RP2040, printed by make rp2test.

The unchanged loop (boards/pico/main.py main.run) meters 230 V 5 A PF 0.5 L for
STEADY_S seconds of emulated time. Printed: executed over elapsed cycles (the CPU load:
the loop sleeps in WFE between blocks), the heap free after boot and after the run
(each after a collection). Asserted: no heap is lost over the run (the hot path
allocates nothing that stays), no fault. The speed goals themselves are figures of
make bench (tools/bench_rp2.py), never assertions.
"""

import rp2_support as rs

pytestmark = rs.full

STEADY_S = 30

AFTER = ("import gc, json\ngc.collect()\n"
         "print(json.dumps([gc.mem_free(), meter.faults, meter.errors, "
         "board.sampler.overruns]))\n")


def test_cpu_load_and_heap_over_a_steady_run():
    uf2 = rs.image("pico")
    with rs.chip(uf2) as c:
        c.analog(**rs.rp2emu.pico_analog(230.0, 5.0, 60.0))
        c.start(rs.METER_LOOP)
        c.wait_for("HEAP0 ", 5000)
        heap0 = int(c.wait_for("\r\n", 1000))
        c.run(ms=2000)
        a = c.status()
        c.run(ms=STEADY_S * 1000)
        b = c.status()
        rs.stop_loop(c)
        free, faults, errors, overruns = c.exec_json(AFTER)
    load = (b["executed"] - a["executed"]) / ((b["ns"] - a["ns"]) / 8) * 100
    print("emulated RP2040, 162 at 230 V 5 A: whole meter %.2f %% of the core over %d s; "
          "heap free %d after boot, %d after the run (after a collection)"
          % (load, STEADY_S, heap0, free))
    assert faults == 0 and errors == 0 and overruns == 0
    assert free >= heap0 - 2048, (heap0, free)
    assert 0 < load < 100

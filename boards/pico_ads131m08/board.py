"""The RP2040 + ADS131M08 board (profile 351): the Pico board's parts with a 3-phase AFE sampler.

    board = make_board(config)                 # on the board
    board = make_board(config, machine=m, rp2=r, time=t, os=o, sampler=fake)   # tests

Same parts as boards/pico/board.py (clock, LEDs, button, seal, power fail, magnet,
optical port, HT1621 LCD, watchdog, reset cause, the record store) except:
    sampler   boards.pico_ads131m08.sampler (imported inside make_board): AdsSampler on
              the board's modules with pins.AFE and FRONT_END (+ `front_end`), what its
              make(pins, **front_end) builds on the real modules; a test may pass its own
              `sampler`
    s0        present (the 351B: S0 5000 imp/kWh, while config.s0_imp_kwh is set)
    inputs    boards.pico.board.Inputs: I/O 1, I/O 2 (tariff / billing inputs) and the
              pulse input counted by a hard IRQ (GP19, GP20, GP21)
    relay     none (the 351B has no breaker)
The PDC-6X1 glass has 6 digits: the 351's display formats (code A "7.0", "7.1") are
drawn in the 6 positions the glass has (display/field.py fits the value to the frame's
width); a wider glass needs its own segment map. The main loop is boards/pico/main.py
with this module: boards/pico_ads131m08/main.py (tools/deploy.py starts
boards.<board>.main).
Wiring and parts: boards/pico_ads131m08/README.md.
"""

from boards.pico_ads131m08 import pins

PROFILE = "351"
# the front end of boards/pico_ads131m08/README.md, as AdsSampler takes it: volts at the
# mains per volt at a V input (200 kohm into a 2 mA : 2 mA current-type VT, 604 ohm
# burden: +-397 V peak at +-1.2 V), and the second-stage CT (5 A : 5 mA, 1000 : 1) into
# 120 ohm (+-10 A peak of the 5 A secondaries at +-1.2 V): within 1 % of the simulator's
# +-400 V / +-10 A (boards/sim/adc.py "ads131m08", profile 351).
FRONT_END = {"v_ratio": 200000.0 / 604.0, "ct_ratio": 1000.0, "burden_ohm": 120.0}


def make_board(config, machine=None, rp2=None, time=None, uctypes=None, front_end=None,
               os=None, flash=None, magnet=True, sampler=None):
    from boards.pico import board as pico

    machine, rp2, time, uctypes, os = pico.modules(machine, rp2, time, uctypes, os)
    from mpmeter.hal import check_sampler

    if flash is None:
        from boards.pico.flash import open_store

        flash = open_store(rp2, os)      # before any pin is driven (stock firmware)
    if sampler is None:
        from boards.pico_ads131m08 import sampler as afe

        fe = dict(FRONT_END)
        fe.update(front_end or {})
        sampler = afe.AdsSampler(machine, rp2, uctypes, time, pins.AFE, **fe)
    check_sampler(sampler)
    b = pico.common("pico_ads131m08", config, sampler, machine, time, rp2, os, flash, magnet)
    b.inputs = pico.Inputs(machine, pins.IO, pins.PULSE_IN)
    return b

"""The meter's main loop on the RP2040 + ADS131M08 board: boards/pico/main.py with this board.

The deployed /main.py is `import boards.pico_ads131m08.main`; on the rp2 port that starts
the meter (boot, then the loop forever), elsewhere importing it only defines `main`.
"""

import sys


def main():
    from boards.pico import main as pico_main
    from boards.pico_ads131m08 import board

    pico_main.main(board)


if sys.platform == "rp2":
    main()

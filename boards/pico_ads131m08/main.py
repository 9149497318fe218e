"""The meter's main loop on the RP2040 + ADS131M08 board: boards/pico/main.py with this board.

The deployed /main.py is `from boards.pico_ads131m08 import main; main.main()`: boot, then
the loop forever. Importing this module only defines `main`.
"""


def main():
    from boards.pico import main as pico_main
    from boards.pico_ads131m08 import board

    pico_main.main(board)


"""Real (wall-clock) milliseconds for the simulator's host side, on MicroPython and CPython.

The meter's own time is the sim clock (boards/sim/board.py SimClock); these are for what
happens in real time: the pace of --speed, the terminal refresh, the TCP optical port.
"""

import sys
import time

MICRO = sys.implementation.name == "micropython"


def ms():
    if MICRO:
        return time.ticks_ms()
    return int(time.monotonic() * 1000)


def diff(a, b):
    """a - b in ms (ticks arithmetic on MicroPython)."""
    if MICRO:
        return time.ticks_diff(a, b)
    return a - b


def elapsed(t0):
    return diff(ms(), t0)


def sleep_ms(n):
    if MICRO:
        time.sleep_ms(n)
    else:
        time.sleep(n / 1000)

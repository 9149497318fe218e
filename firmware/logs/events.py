"""Event log entries: what happened to the meter (power, storage, configuration), with time.

Entry payload (14 bytes, little endian): UTC seconds u32, code u16, a u32, b u32.
"""

import struct

POWER_UP = 1          # a: 0
POWER_DOWN = 2        # orderly power-down: registers saved
TORN_WRITE = 3        # a: area index, b: slots (a write cut by a power failure)
CORRUPT = 4           # a: area index, b: corrupt slots found at boot (data may be lost)
RESTORE_FAILED = 5    # a: area index: no saved record could be used; b: records tried
STATUS_CLEARED = 6    # the data-lost indication was acknowledged
CONFIG = 7            # a: 0 settings (non-legal), 1 legal configuration changed
CT_CHANGED = 8        # a: old CT primary, b: new CT primary (secondary 5 A or 1 A)
STORE_ERROR = 9       # a: area index: a write failed (flash error)
CLOCK_SET = 10        # a: old UTC, b: new UTC
BILLING_STOP = 11     # a: stop number, b: flags (logs/billing.py: LATE, EXTERNAL)
PASSWORD = 12         # optical port P1: a: 1 accepted, 0 refused; b: refusals in a row
LOCKED = 13           # a: refusals in a row, b: seconds P1 is refused from now
WRITE_REFUSED = 14    # a: setting (comms/programming.py SETTINGS index), b: why
#                       (1 the verification seal is closed, 2 not writable, 3 bad value)
RESET_CAUSE = 15      # at boot: a: the board's reset cause (machine.reset_cause(): 1 power
#                       on, 3 watchdog, 5 soft reset ...), b: 0
METER_ERROR = 16      # the meter caught an exception in its own work and went on measuring:
#                       a: where (meter.py FAULT_*: 1 period, 2 block, 3 pulse outputs,
#                       4 power-down save, 5 the board's main loop), b: faults so far
#                       (logged at the 1st, 2nd, 4th, 8th ...)
WRITE = 256           # W1 accepted: code WRITE + setting index; a: old, b: new value
#                       (numbers as they are, texts/lists/tables as their CRC-32)

NAMES = {POWER_UP: "power up", POWER_DOWN: "power down", TORN_WRITE: "torn write",
         CORRUPT: "corrupt records", RESTORE_FAILED: "restore failed",
         STATUS_CLEARED: "status cleared", CONFIG: "configuration", CT_CHANGED: "CT ratio",
         STORE_ERROR: "store error", CLOCK_SET: "clock set", BILLING_STOP: "billing stop",
         PASSWORD: "password", LOCKED: "password lockout", WRITE_REFUSED: "write refused",
         RESET_CAUSE: "reset cause", METER_ERROR: "meter error"}

# events that mean data may have been lost (the LCD status indication)
LOSS = (CORRUPT, RESTORE_FAILED)

_FMT = "<IHII"
SIZE = 14


def pack(t, code, a=0, b=0):
    return struct.pack(_FMT, t & 0xFFFFFFFF, code, a & 0xFFFFFFFF, b & 0xFFFFFFFF)


def unpack(payload):
    """(utc, code, a, b); ValueError on a payload of the wrong size."""
    if len(payload) != SIZE:
        raise ValueError("event entry: %d bytes, expected %d" % (len(payload), SIZE))
    return struct.unpack(_FMT, payload)


def data_lost(entries):
    """The data-lost indication after these (utc, code, a, b) entries, oldest first."""
    lost = False
    for e in entries:
        if e[1] in LOSS:
            lost = True
        elif e[1] == STATUS_CLEARED:
            lost = False
    return lost

"""The meter's store: named record areas laid out on one flash region (the EEPROM of the meter).

LAYOUT is the region of the product (RP2040 on-board flash, boards/sim file):
254 erase blocks of 4096 bytes = 1016 KiB. Each area is a RecordArea:

    area       blocks  slot  what                                    holds
    registers   128    256   energy registers + the meter's other    newest (wear: 2048 slots)
                             current values, two records per save
    legal         2   4096   legal configuration (sealed), JSON      newest
    settings      2   4096   non-legal configuration, JSON           newest
    events        4     32   event log (logs/events.py)              384 newest entries
    billing       4    256   billing logger (debiteringslogger)      48 (datasheet: 36)
    billing2      4    256   billing logger 2 (daily/weekly/monthly) 48
    profile      86     32   load profile, one entry per interval    10,880 (datasheet:
                                                                     37 d at 5 min = 10,656)
    analysis     24    128   analysis logger (162K), up to 16 regs   736 (2.6 d at 5 min ..
                                                                     736 d at 24 h)

The registers area is sized for endurance (see README: 20 years at maximum load
with a save at every change of a displayed register, each save two 256-byte
records: the energy registers and the tariff/counter/demand state).
"""

from .records import RecordArea

LAYOUT = (
    ("registers", 128, 256),
    ("legal", 2, 4096),
    ("settings", 2, 4096),
    ("events", 4, 32),
    ("billing", 4, 256),
    ("billing2", 4, 256),
    ("profile", 86, 32),
    ("analysis", 24, 128),
)


def blocks(layout=LAYOUT):
    n = 0
    for _name, b, _slot in layout:
        n += b
    return n


REGION_BLOCKS = blocks()


class Store:
    """Areas by name on a block device (blocks first_block.. of `dev`)."""

    def __init__(self, dev, layout=LAYOUT, first_block=0):
        need = blocks(layout)
        have = dev.ioctl(4, 0) - first_block
        if have < need:
            raise ValueError("store: the flash region has %d blocks, the layout needs %d"
                             % (have, need))
        self.dev = dev
        self.boot = None        # {name: (torn, corrupt)} of the mount, None before it
        self.areas = {}
        self.names = []
        b = first_block
        for name, n, slot in layout:
            self.areas[name] = RecordArea(dev, b, n, slot, name)
            self.names.append(name)
            b += n

    def index(self, name):
        return self.names.index(name)

    def mount(self):
        """Scan every area; returns {name: (torn, corrupt)}."""
        out = {}
        for name in self.names:
            out[name] = self.areas[name].mount()
        self.boot = out
        return out

    def area(self, name):
        try:
            return self.areas[name]
        except KeyError:
            raise ValueError("store: no area %r" % (name,)) from None

    # current values
    def put(self, name, payload, kind=0):
        return self.area(name).append(kind, payload)

    def get(self, name, kind=0):
        top = self.area(name).latest(kind)
        return None if top is None else top[1]

    # logs
    def append(self, name, payload, kind=0):
        return self.area(name).append(kind, payload)

    def iter(self, name, kind=None, after=0):
        return self.area(name).iter(kind, after)

    def depth(self, name):
        return self.area(name).depth()

    def erases(self):
        """Erases done per area by this object (wear figures)."""
        return dict((n, self.areas[n].erases) for n in self.names)

"""Programming mode of the optical port: password, reads, writes, load profile (IEC 62056-21).

Commands(meter) answers what comms/iec62056.py hands it after P0 (handle(c, d, data,
now) -> ("ack",) | ("set", text) one data set | ("lines", f) f() -> lines |
("close", text) an error data set that ends the session):
    P1 (password)       the configured password: ACK. A wrong one: an error data set;
                        after MAX_TRIES wrong ones in a row the session ends and P1 is
                        refused for LOCK_MS (every attempt and the lockout are events)
    R1/R2 addr(x)       a catalogue quantity ("1.8.0", "1.8.0*03": comms/obis.py) or a
                        setting by name ("display_auto": its value as JSON);
                        "measure": Vrms, Irms, P, Q per system and f averaged since the
                        previous "measure" read, as JSON (Meter.measure; tools/calibrate.py)
    R5/R6/R1 P.01(from;to)  the load profile between two local YYMMDDhhmm (either may
                        be empty), comms/readout.py profile()
    W1/W2 addr(value)   0.9.1(hhmmss) / 0.9.2(YYMMDD): the local time or date (the
                        meter logs the clock set); a setting by name with a JSON value,
                        e.g. period(3), display_auto(["1.8.0","2.8.0"]),
                        tariff_table({...}): checked by config.Config (the error names
                        the problem), then taken by the running meter (Meter.configure)
                        and kept in the store. Every accepted write is an event with the
                        old and new value.
Legal settings (config.LEGAL: CT/VT ratio, A code, LED constants, verification mode,
meter number, ...) are written only while the board's verification seal is open
(board.seal.value() == 1); with the seal closed they are refused ("SEALED") and the
refusal is logged. The energy registers are never written (READ ONLY), seal or not.
Nothing but P1 and B0 is answered before the password. Error data sets (no address):
PASSWORD, LOCKED, NO ACCESS, UNKNOWN, SEALED, READ ONLY, NOT WRITABLE, BAD VALUE:
<what config.py said>, UNSUPPORTED.
"""

import json

from ..config import LEGAL, Config
from ..display.lists import diff
from ..logs import events as ev
from . import obis
from .readout import data_set, parse_stamp, profile

MAX_TRIES = 3
LOCK_MS = 900000          # 15 minutes

# settings that W1 may change; the index is the event code offset (events.WRITE + k):
# append only, never reorder
SETTINGS = ("display_auto", "display_manual", "s0_imp_kwh", "pulse_ms", "period",
            "billing_day", "billing_interval", "billing2", "tariff_control", "dd",
            "tariff_table", "threshold_kw", "pulse_in_unit", "pulse_in_per_unit", "gmt",
            "dst", "readout_list", "readout_history", "optical_mode", "optical_baud",
            "password", "max_demand",
            # legal: only with the verification seal open
            "ct", "vt", "display", "verification", "serial", "led_imp_kwh",
            "led_imp_kvarh", "led_idle_on", "creep_current", "creep_power", "calibration")
READABLE_ONLY = ("profile", "phases", "wiring", "accuracy_class", "un", "fn", "iref", "itr",
                 "imin", "ist", "imax", "cycles", "profile_channels", "profile_primary",
                 "analysis")
SECRET = ("password",)
CLOCK_CODES = ("0.9.1", "0.9.2")

try:
    from binascii import crc32
except ImportError:   # pragma: no cover
    from ..storage.records import crc32


def as_u32(v):
    """An event value for a setting: numbers as they are (x1000 for fractions), anything
    else as the CRC-32 of its JSON text."""
    if isinstance(v, bool):
        return 1 if v else 0
    if isinstance(v, int):
        return v & 0xFFFFFFFF
    if isinstance(v, float):
        return int(v * 1000) & 0xFFFFFFFF
    return crc32(json.dumps(v).encode()) & 0xFFFFFFFF


def _split(data):
    """'addr(value)' -> (addr, value); ValueError when malformed."""
    if data is None:
        raise ValueError("no data set")
    i = data.find("(")
    if i < 1 or not data.endswith(")"):
        raise ValueError("data set: address(value)")
    return data[:i], data[i + 1:-1]


def _plain(v):
    """A JSON value for a data set: tuples as lists."""
    if isinstance(v, tuple):
        return list(v)
    return v


class Commands:
    def __init__(self, meter):
        self.meter = meter
        self.authorized = False
        self.tries = 0            # wrong passwords in a row
        self.locked_at = None     # ms when the lockout started

    def end(self):
        """The session ended (break, time-out, new sign-on)."""
        self.authorized = False

    def operand(self):
        """The P0 operand: the meter number, 8 digits."""
        return ("0000000" + str(self.meter.cfg.serial))[-8:]

    def _log(self, code, a=0, b=0):
        p = self.meter.persist
        if p is not None:
            p.log(code, a, b)

    def handle(self, c, d, data, now):
        if c == "P":
            if d != "1":
                return ("set", "(UNSUPPORTED)")
            return self._password(data, now)
        if not self.authorized:
            return ("set", "(NO ACCESS)")
        try:
            if c == "R" and d in ("1", "2", "5", "6"):
                return self._read(data)
            if c == "W" and d in ("1", "2"):
                return self._write(data)
        except ValueError as e:
            return ("set", "(%s)" % _clean(str(e)))
        return ("set", "(UNSUPPORTED)")

    # -- P1 ------------------------------------------------------------------------------
    def _password(self, data, now):
        if self.locked_at is not None:
            if 0 <= diff(now, self.locked_at) < LOCK_MS:
                self._log(ev.PASSWORD, 0, self.tries)
                return ("close", "LOCKED")
            self.locked_at = None
            self.tries = 0
        pw = data[1:-1] if data and data[0] == "(" and data[-1] == ")" else data
        if pw is not None and pw == self.meter.cfg.password:
            self.authorized = True
            self.tries = 0
            self._log(ev.PASSWORD, 1, 0)
            return ("ack",)
        self.tries += 1
        self._log(ev.PASSWORD, 0, self.tries)
        if self.tries >= MAX_TRIES:
            self.locked_at = now
            self._log(ev.LOCKED, self.tries, LOCK_MS // 1000)
            return ("close", "LOCKED")
        return ("set", "(PASSWORD)")

    # -- reads -----------------------------------------------------------------------------
    def _read(self, data):
        addr, value = _split(data)
        m = self.meter
        if addr == "P.01":
            a, _sep, b = value.partition(";")
            lo = parse_stamp(a) if a else None
            hi = parse_stamp(b) if b else None
            return ("lines", lambda: _or_empty(profile(m, lo, hi)))
        if addr in SECRET:
            return ("set", "(NO ACCESS)")
        if addr == "measure":
            return ("set", "measure(%s)" % json.dumps(m.measure()))
        if addr in m.cfg.data:
            return ("set", "%s(%s)" % (addr, json.dumps(_plain(m.cfg.data[addr]))))
        try:
            obis.parse(addr)
        except ValueError:
            return ("set", "(UNKNOWN)")
        return ("set", data_set(m.display.cat, addr, m.logbook.zone))

    # -- writes ----------------------------------------------------------------------------
    def _write(self, data):
        addr, text = _split(data)
        m = self.meter
        if addr in CLOCK_CODES:
            return self._clock(addr, text)
        if addr not in m.cfg.data:
            try:
                row, _n = obis.parse(addr)
            except ValueError:
                return ("set", "(UNKNOWN)")
            legal = row[5] & obis.LEGAL
            if legal and not self._seal_open():
                self._log(ev.WRITE_REFUSED, 0xFFFF, 1)
                return ("set", "(SEALED)")
            return ("set", "(READ ONLY)")
        k = SETTINGS.index(addr) if addr in SETTINGS else 0xFFFF
        if addr in LEGAL and not self._seal_open():
            self._log(ev.WRITE_REFUSED, k, 1)
            return ("set", "(SEALED)")
        if k == 0xFFFF:
            self._log(ev.WRITE_REFUSED, k, 2)
            return ("set", "(NOT WRITABLE)")
        try:
            value = json.loads(text)
        except ValueError:
            self._log(ev.WRITE_REFUSED, k, 3)
            raise ValueError("BAD VALUE: %s is not a JSON value" % addr)
        cfg = m.cfg
        over = dict(cfg.data)
        del over["profile"]
        over[addr] = value
        try:
            new = Config(cfg.profile, over)
        except ValueError as e:
            self._log(ev.WRITE_REFUSED, k, 3)
            raise ValueError("BAD VALUE: %s" % e)
        old = cfg.data[addr]
        m.configure(new)
        self._log(ev.WRITE + k, as_u32(old), as_u32(new.data[addr]))
        return ("ack",)

    def _clock(self, addr, text):
        m = self.meter
        z = m.logbook.zone
        now_local = z.local(m.clock.now())
        day = now_local - now_local % 86400
        try:
            if addr == "0.9.1":
                if len(text) != 6 or not text.isdigit():
                    raise ValueError("time: hhmmss")
                hh, mi, ss = int(text[:2]), int(text[2:4]), int(text[4:])
                if hh > 23 or mi > 59 or ss > 59:
                    raise ValueError("time: hhmmss")
                local = day + hh * 3600 + mi * 60 + ss
            else:
                local = parse_stamp(text + "0000") + now_local % 86400
        except ValueError as e:
            raise ValueError("BAD VALUE: %s" % e)
        m.set_clock(z.utc(local))
        return ("ack",)

    def _seal_open(self):
        seal = getattr(self.meter.board, "seal", None)
        return seal is not None and seal.value() == 1


def _or_empty(gen):
    n = 0
    for ln in gen:
        n += 1
        yield ln
    if not n:
        yield "P.01()"


def _clean(text):
    """An error text without the characters a data set may not hold."""
    out = ""
    for ch in text:
        out += " " if ch in "()/!\r\n" else ch
    return out[:100]

"""Terminal view of the running simulated meter (ANSI redraw in place, or plain lines)."""

from mpmeter.energy.registers import OBIS
from mpmeter.time import civil

_LABEL = {"a_plus": "A+", "a_minus": "A-", "r_plus": "R+", "r_minus": "R-",
          "r1": "R1", "r2": "R2", "r3": "R3", "r4": "R4"}
_UNIT = {"a_plus": "kWh", "a_minus": "kWh"}


def _two(n):
    return ("0" + str(n))[-2:]


def utc_text(epoch):
    """YYYY-MM-DD hh:mm:ss for UTC epoch seconds (no datetime on MicroPython)."""
    y, m, d, hh, mm, ss = civil.split(epoch)
    return "%d-%s-%s %s:%s:%s" % (y, _two(m), _two(d), _two(hh), _two(mm), _two(ss))


def kwh(mwh):
    """Energy in kWh with 3 decimals from integer mWh (truncated like a register display)."""
    neg = mwh < 0
    mwh = -mwh if neg else mwh
    whole = mwh // 1000000
    frac = (mwh // 1000) % 1000
    return "%s%08d.%s" % ("-" if neg else "", whole, ("00" + str(frac))[-3:])


def panel(meter, title):
    m = meter.m
    reg = meter.registers
    lines = [title]
    lcd = meter.board.lcd
    if lcd is not None and getattr(lcd, "lines", None):
        lines.extend(lcd.lines)
    for k in range(m.n):
        lines.append(" L%d %8.2f V %9.3f A %10.3f kW %10.3f kvar  PF %5.2f"
                     % (k + 1, m.vrms[k], m.irms[k], m.p[k] / 1000, m.q[k] / 1000, m.pf[k]))
    lines.append(" total %28.3f kW %10.3f kvar  PF %5.2f  %6.2f Hz"
                 % (m.p_total / 1000, m.q_total / 1000, m.pf_total, m.freq))
    names = ("a_plus", "a_minus", "r_plus", "r_minus", "r1", "r2", "r3", "r4")
    for j in range(0, 8, 2):
        row = ""
        for name in names[j:j + 2]:
            unit = _UNIT.get(name, "kvarh")
            row += " %s %-6s %s %-5s" % (_LABEL[name], OBIS[name], kwh(reg.mwh(name, True)), unit)
        lines.append(row)
    q = reg.quadrant
    out = " quadrant %s" % ("Q%d" % q if q else "--")
    for o, label in ((meter.led_p, "LED kWh"), (meter.led_q, "LED kvarh"), (meter.s0, "S0")):
        if o is not None:
            out += "  %s %s %d" % (label, "*" if o.pin.value() else ".", o.emitted)
    lines.append(out)
    lb = getattr(meter, "logbook", None)
    if lb is not None:
        d = lb.demand
        lines.append(" tariff T%d  demand %.3f kW  P+max %.3f kW%s  hours %d  stops %d"
                     % (lb.tariff, d.last_p / 1e6, d.pmax[0] / 1e6,
                        (" at " + utc_text(d.pmax[1])[5:16]) if d.pmax[1] else "",
                        lb.hours_s // 3600, lb.stops))
    p = meter.persist
    if p is not None:
        lines.append(" store: %d saves  status %s" % (
            p.saves, "DATA LOST (stored data was corrupt)" if p.data_lost else "ok"))
    return lines


class Terminal:
    def __init__(self, out, ansi=True):
        self.out = out
        self.ansi = ansi
        self.drawn = 0

    def draw(self, lines):
        w = self.out.write
        if self.ansi:
            if self.drawn:
                w("\x1b[%dA" % self.drawn)
            for ln in lines:
                w("\x1b[2K" + ln + "\n")
            self.drawn = len(lines)
        else:
            for ln in lines:
                w(ln + "\n")
            w("\n")

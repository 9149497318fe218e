"""Read an mpmeter (or any IEC 62056-21 mode C meter) in the field: readout, billing, profile.

    python tools/readout.py (--tcp HOST:PORT | --serial DEVICE) [--address ADDR]
                            [--password 00000000] [--timeout S]
                            [--readout] [--billing] [--profile [FROM] [TO]]
                            --csv OUT_DIR [--plot PROFILE.png] [--progress | --quiet]

    --readout   the standard readout (mode C, option 0; modes A and B too) ->
                readout.csv: code, value, unit, time (a time stamp, local ISO, if any)
    --billing   programming mode, R1 of every historical code *01..*36, stopping at the
                first stop whose 1.8.0 is empty -> billing.csv: one row per stop, the
                values as the meter sent them, a "<code> time" column for a maximum
    --profile   programming mode, R5 P.01(FROM;TO): local YYMMDDhhmm (or ISO
                2026-11-26T10:00, or a date; "-" leaves it open); FROM defaults to
                the meter's clock less 7 days, TO to open -> profile.csv: end (local
                ISO end of the interval), status (hex), interval_min, one column per
                channel "<code> [<unit>]" (kWh/kvarh of the interval, 3 decimals)
    --plot      a PNG of the load profile, power per interval (energy / interval), drawn
                with matplotlib (Agg); implies --profile
Progress (lines, or stop n/36) goes to stderr when it is a terminal (--progress: always,
--quiet: never). A field problem (refused connection, no answer, a garbled frame, an error
data set from the meter such as (PASSWORD)) is one line on stderr and exit code 2.

Built on pwitab's iec62056-21 0.0.2 (PyPI `iec62056-21`): its transports, sign-on,
identification, option select, frames, BCC and data-set parsing. Added here:
  * transports whose time-out is the silence between bytes, not the length of a whole
    answer (the library's limit would cut a long profile), that report a closed or silent
    line at once instead of spinning until the time-out, that count lines for the
    progress display, and (serial) change the baud rate on the open port instead of
    opening it a second time; the device address is sent on a serial line too
  * the reaction time (200 ms, 20 ms for a lower-case third letter of the
    manufacturer) between an answer and the next command: the library sends the
    option select, P1 and R1 at once, which a meter may not take while it is still
    finishing its own frame
  * the password (the library's send_password() cannot build its data set in 0.0.2) and
    its answer: ACK, or an error data set such as (PASSWORD) or (LOCKED)
  * reads that keep a maximum's time stamp (the library's read_single_value() refuses an
    answer of two data sets), R5 P.01 with a time range, and error data sets ("(...)"
    without an address) raised as errors
  * the identification as sent (0.0.2 cuts it one character off), modes A and B for the
    readout (no option select), the CSV files, the plot, and one error line in place of
    a traceback.
"""

import argparse
import csv
import datetime
import os
import socket
import sys
import time

HIST_CODES = ("1.8.0", "2.8.0", "3.8.0", "4.8.0", "1.8.1", "1.8.2", "1.8.3", "1.8.4",
              "3.8.1", "3.8.2", "3.8.3", "3.8.4", "1.6.0", "3.6.0", "1.6.1", "1.6.2",
              "3.6.1", "3.6.2", "1.2.0", "3.2.0", "C.8.0", "0.1.0")
DEPTH = 36                     # billing stops *01..*36
WHOLE_S = 24 * 3600            # the library's bound on one whole answer (see Tcp/Serial)
BAUDS_C = (300, 600, 1200, 2400, 4800, 9600, 19200)     # Z '0'..'6'
BAUDS_B = (600, 1200, 2400, 4800, 9600, 19200)          # Z 'A'..'F'
ACK = b"\x06"
NAK = b"\x15"
STX = b"\x02"
SOH = b"\x01"


class FieldError(Exception):
    """A problem in the field (line, meter, answer): one line, exit code 2."""


class MeterError(FieldError):
    """The meter answered an error data set, e.g. (PASSWORD)."""

    def __init__(self, text):
        FieldError.__init__(self, "the meter answered (%s)" % text)
        self.text = text


class LineClosed(FieldError):
    pass


class LineSilent(FieldError):
    pass


def _lib():
    try:
        from iec62056_21 import client, exceptions, messages, transports
    except ImportError:
        raise FieldError("the iec62056-21 library is missing: pip install iec62056-21==0.0.2")
    return client, exceptions, messages, transports


# -- transports ---------------------------------------------------------------------------
class _Line:
    """Mixed into the library's transports: idle time-out, pushback, line counting."""

    def _setup(self, idle):
        self.idle = idle
        self.timeout = WHOLE_S       # the library compares a whole answer's time to this
        self.pushback = b""
        self.lines = 0
        self.on_line = None
        self.gap = 0.2               # the reaction time: no command sooner after an answer
        self.last_rx = 0.0

    def _send(self, data):
        wait = self.last_rx + self.gap - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        super()._send(data)

    def unread(self, b):
        self.pushback = b + self.pushback

    def _recv(self, chars=1):
        if self.pushback:
            b, self.pushback = self.pushback[:chars], self.pushback[chars:]
            return b
        b = self._raw(chars)
        if not b:
            raise LineSilent("no answer from the meter within %g s" % self.idle)
        self.last_rx = time.monotonic()
        if b"\n" in b:
            self.lines += b.count(b"\n")
            if self.on_line is not None:
                self.on_line(self.lines)
        return b


def make_tcp(host, port, idle):
    _c, _e, _m, transports = _lib()

    class Tcp(_Line, transports.TcpTransport):
        def __init__(self):
            self._setup(idle)
            transports.TcpTransport.__init__(self, address=(host, port), timeout=idle)
            self._setup(idle)

        def _get_socket(self):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.settimeout(self.idle)
            return s

        def _raw(self, chars):
            try:
                b = self.socket.recv(chars)
            except socket.timeout:
                return b""
            if not b:
                raise LineClosed("the meter closed the connection")
            return b

        def disconnect(self):
            if self.socket is not None:
                self.socket.close()
                self.socket = None

        def where(self):
            return "%s:%d" % (host, port)

    return Tcp()


def make_serial(device, idle):
    _c, _e, _m, transports = _lib()
    import serial

    class Serial(_Line, transports.SerialTransport):
        def __init__(self):
            transports.SerialTransport.__init__(self, port=device, timeout=idle)
            self._setup(idle)

        def connect(self):
            try:
                self.port = serial.Serial(
                    device, baudrate=300, parity=serial.PARITY_EVEN,
                    stopbits=serial.STOPBITS_ONE, bytesize=serial.SEVENBITS,
                    timeout=self.idle, write_timeout=self.idle, rtscts=False, dsrdtr=False,
                    xonxoff=False)
            except (serial.SerialException, OSError) as e:
                why = os.strerror(e.errno) if e.errno else str(e)
                raise FieldError("serial port %s: cannot open: %s" % (device, why))

        def disconnect(self):
            if self.port is not None:
                self.port.close()
                self.port = None

        def _raw(self, chars):
            return self.port.read(chars)

        def switch_baudrate(self, baud):
            self.port.flush()            # the option select has left at the old rate
            self.port.baudrate = baud

        def where(self):
            return device

    return Serial()


# -- protocol -----------------------------------------------------------------------------
def _error_parser():
    _c, exceptions, _m, _t = _lib()

    class Errors(exceptions.Iec6206521BaseErrorParser):
        """An answer of one data set without an address and with a text that is not a
        number is the meter's error data set."""

        def check_for_errors(self, answer):
            d = answer.data
            if len(d) == 1 and not d[0].address:
                v = d[0].value or ""
                if v and not v.replace(".", "").isdigit():
                    raise MeterError(v)

    return Errors


def _client_class():
    client, _e, messages, _t = _lib()

    class Client(client.Iec6205621Client):
        """Keeps the identification as sent: 0.0.2 takes it from the 7th character on,
        which keeps the W of an enhanced "\\W" identification and drops the first
        character of a plain one."""

        def read_identification(self):
            data = self.transport.simple_read(start_char="/", end_char="\x0a")
            text = data.decode("latin-1").rstrip("\r\n")
            self.ident = text[7:] if text[5:6] == "\\" else text[5:]
            return messages.IdentificationMessage.from_bytes(data)

    return Client


class Session:
    """One sign-on on the line: a readout, or programming mode until close()."""

    def __init__(self, transport, address, password):
        client, _e, self.messages, _t = _lib()
        self.t = transport
        self.password = password
        self.c = _client_class()(transport, device_address=address, password=password,
                                 error_parser_class=_error_parser())
        if address:
            transport.TRANSPORT_REQUIRES_ADDRESS = True
        self.prog = False

    def open(self):
        self.t.connect()

    def close(self):
        try:
            if self.prog:
                self.c.send_break()
        except (OSError, FieldError):
            pass
        try:
            self.t.disconnect()
        except (OSError, FieldError):
            pass

    def startup(self):
        self.c.startup()
        self.t.gap = self.c.reaction_time

    def readout(self):
        """The readout as a list of lines, each a list of DataSet."""
        c = self.c
        self.startup()
        z = c.switchover_baudrate_char
        if "0" <= z <= "6":
            c.ack_with_option_select("readout")
            self.t.switch_baudrate(BAUDS_C[int(z)])
        elif "A" <= z <= "F":
            self.t.switch_baudrate(BAUDS_B[ord(z) - ord("A")])   # mode B: no ACK
        # else mode A: the readout follows at 300 baud
        ans = c.read_response()
        return [ln.data_sets for ln in ans.data_block.data_lines if ln.data_sets]

    def program(self):
        """Sign on, option select programming, P0, P1 with the password."""
        c = self.c
        self.startup()
        z = c.switchover_baudrate_char
        if not "0" <= z <= "6":
            raise FieldError("the meter is in protocol mode %s: programming needs mode C"
                             % ("B" if "A" <= z <= "F" else "A"))
        c.ack_with_option_select("programming")
        self.t.switch_baudrate(BAUDS_C[int(z)])
        p0 = c.read_response()
        if getattr(p0, "command", None) != "P":
            raise FieldError("no password prompt (P0) from the meter")
        self.prog = True
        m = self.messages
        ds = m.DataSet(address="", value=self.password)
        self.t.send(m.CommandMessage(command="P", command_type=1, data_set=ds).to_bytes())
        b = self.t.recv(1)
        if b == ACK:
            return
        if b == NAK:
            raise FieldError("the meter refused the password message (NAK)")
        self.t.unread(b)
        try:
            ans = c.read_response()
        except MeterError as e:
            raise FieldError("password refused: the meter answered (%s)" % e.text)
        raise FieldError("unexpected answer to the password: %r" % (ans.data,))

    def read(self, address, command_type=1, value=""):
        """R<command_type> address(value) -> list of lines (lists of DataSet)."""
        m = self.messages
        ds = m.DataSet(address=address, value=value)
        self.t.send(m.CommandMessage(command="R", command_type=command_type,
                                     data_set=ds).to_bytes())
        b = self.t.recv(1)
        if b == NAK:
            raise FieldError("the meter refused R%d %s (NAK)" % (command_type, address))
        self.t.unread(b)
        ans = self.c.read_response()
        return [ln.data_sets for ln in ans.data_block.data_lines if ln.data_sets]


    def write(self, address, value, command_type=1):
        """W<command_type> address(value): ACK, or FieldError with the meter's answer."""
        m = self.messages
        ds = m.DataSet(address=address, value=value)
        self.t.send(m.CommandMessage(command="W", command_type=command_type,
                                     data_set=ds).to_bytes())
        b = self.t.recv(1)
        if b == ACK:
            return
        if b == NAK:
            raise FieldError("the meter refused W%d %s (NAK)" % (command_type, address))
        self.t.unread(b)
        try:
            ans = self.c.read_response()
        except MeterError as e:
            raise FieldError("W%d %s refused: the meter answered (%s)"
                             % (command_type, address, e.text))
        raise FieldError("unexpected answer to W%d %s: %r" % (command_type, address,
                                                              ans.data))


def _library_errors():
    _c, exceptions, _m, transports = _lib()
    return exceptions.Iec6205621Exception, transports.TransportError


def run_session(transport, address, password, what, fn, progress):
    """Open a session, run fn(session), close; every line problem -> FieldError naming
    the phase (session.what) it happened in."""
    lib_error, transport_error = _library_errors()
    s = Session(transport, address, password)
    s.what = what
    try:
        s.open()
        return fn(s)
    except ConnectionRefusedError:
        progress.clear()
        raise FieldError("cannot connect to %s: connection refused" % transport.where())
    except Exception as e:
        progress.clear()
        if isinstance(e, FieldError):
            text = str(e)
        elif isinstance(e, (socket.timeout, TimeoutError)):
            text = "no answer from the meter within %g s" % transport.idle
        elif isinstance(e, transport_error):
            text = "line error: %s" % (e.__cause__ or e)
        elif isinstance(e, OSError):
            text = "%s: %s" % (transport.where(), e.strerror or e)
        elif isinstance(e, (lib_error, ValueError, IndexError, KeyError, UnicodeError)):
            text = "garbled answer from the meter: %s" % (e,)
        else:
            raise
        raise FieldError("%s: %s" % (s.what, text))
    finally:
        s.close()


# -- times --------------------------------------------------------------------------------
def stamp_dt(text):
    """datetime of YYMMDDhhmm[ss] (local, naive); None for 0000000000 or ''."""
    if not text or not text.strip("0"):
        return None
    if len(text) not in (10, 12) or not text.isdigit():
        raise ValueError("time stamp: YYMMDDhhmm, got %r" % (text,))
    f = [int(text[k:k + 2]) for k in range(0, len(text), 2)]
    return datetime.datetime(2000 + f[0], f[1], f[2], f[3], f[4], f[5] if len(f) > 5 else 0)


def iso(dt):
    return "" if dt is None else dt.strftime("%Y-%m-%dT%H:%M")


def arg_stamp(text):
    """A FROM/TO argument -> YYMMDDhhmm ('' stays open)."""
    if text in ("", "-"):
        return ""
    if text.isdigit() and len(text) == 10:
        stamp_dt(text)
        return text
    try:
        dt = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            "a time: YYMMDDhhmm or ISO (2026-11-26T10:00), got %r" % (text,))
    return dt.strftime("%y%m%d%H%M")


# -- progress -----------------------------------------------------------------------------
class Progress:
    SPIN = "|/-\\"

    def __init__(self, enabled, stream=None):
        self.on = enabled
        self.f = stream or sys.stderr
        self.label = ""
        self.shown = 0
        self.last = 0.0

    def start(self, label):
        self.label = label
        self.shown = 0
        self.last = 0.0
        self.count(0, force=True)

    def _draw(self, text):
        if not self.on:
            return
        pad = max(0, self.shown - len(text))
        self.f.write("\r" + text + " " * pad)
        self.f.flush()
        self.shown = len(text)

    def count(self, n, force=False):
        now = time.monotonic()
        if force or now - self.last >= 0.1:
            self.last = now
            self._draw("%s %s %d lines" % (self.label, self.SPIN[n % 4], n))

    def bar(self, n, total, width=36):
        k = width * n // total
        self._draw("%s [%s%s] %d/%d" % (self.label, "#" * k, "." * (width - k), n, total))

    def done(self, text):
        if self.on:
            self._draw("%s %s" % (self.label, text))
            self.f.write("\n")
            self.f.flush()
            self.shown = 0

    def clear(self):
        if self.on and self.shown:
            self.f.write("\r" + " " * self.shown + "\r")
            self.f.flush()
            self.shown = 0


# -- the three reads ----------------------------------------------------------------------
def readout_rows(lines):
    """[code, value, unit, time] per data line of the readout."""
    rows = []
    for sets in lines:
        first = sets[0]
        if not first.address:
            continue
        when = ""
        if len(sets) > 1 and not sets[1].address:
            when = iso(stamp_dt(sets[1].value))
        rows.append([first.address, first.value, first.unit or "", when])
    return rows


def read_billing(s, progress):
    """(codes, {n: {code: (value, unit, time, stamped)}}) for stops 1.. until 1.8.0*NN is empty."""
    codes = list(HIST_CODES)
    stops = {}
    progress.bar(0, DEPTH)
    for n in range(1, DEPTH + 1):
        row = {}
        for code in list(codes):
            try:
                sets = s.read("%s*%02d" % (code, n))[0]
            except MeterError as e:
                if e.text in ("UNKNOWN", "UNSUPPORTED") and code != "1.8.0":
                    codes.remove(code)       # not a historical quantity of this meter
                    continue
                raise
            v = sets[0]
            if code == "1.8.0" and not v.value:
                progress.bar(n - 1, DEPTH)
                return codes, stops
            stamped = len(sets) > 1 and not sets[1].address
            when = iso(stamp_dt(sets[1].value)) if stamped else ""
            row[code] = (v.value, v.unit or "", when, stamped)
        stops[n] = row
        progress.bar(n, DEPTH)
    return codes, stops


def billing_table(codes, stops):
    units = {}
    timed = set()
    for row in stops.values():
        for code, (v, unit, _when, stamped) in row.items():
            if v and unit:
                units.setdefault(code, unit)
            if stamped:
                timed.add(code)
    head = ["stop"]
    for code in codes:
        head.append("%s [%s]" % (code, units[code]) if code in units else code)
        if code in timed:
            head.append("%s time" % code)
    rows = []
    for n in sorted(stops):
        r = ["%02d" % n]
        for code in codes:
            v, _u, when, _s = stops[n].get(code, ("", "", "", False))
            r.append(v)
            if code in timed:
                r.append(when)
        rows.append(r)
    return head, rows


def meter_now(s):
    """The meter's local clock (0.9.2 date, 0.9.1 time), or None."""
    try:
        d = s.read("0.9.2")[0][0].value
        t = s.read("0.9.1")[0][0].value
        return stamp_dt(d + t)
    except MeterError:
        return None


def parse_profile(lines):
    """Lines of a P.01 answer -> (channels [(code, unit)], entries [(end, status,
    interval_min, {code: value})])."""
    channels = []
    entries = []
    cur = None
    for sets in lines:
        first = sets[0]
        if first.address == "P.01":
            if not first.value:
                continue                   # P.01(): no entries in the range
            if len(sets) < 4:
                raise ValueError("P.01 header: %d fields" % len(sets))
            start = stamp_dt(first.value)
            status = sets[1].value
            interval = int(sets[2].value)
            n = int(sets[3].value)
            chans = []
            for k in range(n):
                chans.append((sets[4 + 2 * k].value, sets[5 + 2 * k].value))
            for ch in chans:
                if ch not in channels:
                    channels.append(ch)
            cur = [start, status, interval, chans, 0]
            continue
        if first.address:
            raise ValueError("unexpected data set in the profile: %s" % first.address)
        if cur is None:
            raise ValueError("profile values before a P.01 header")
        start, status, interval, chans, k = cur
        if len(sets) != len(chans):
            raise ValueError("profile line of %d values for %d channels"
                             % (len(sets), len(chans)))
        end = start + datetime.timedelta(minutes=interval * k)
        entries.append((end, status, interval,
                        dict((chans[j][0], sets[j].value) for j in range(len(chans)))))
        cur[4] = k + 1
    return channels, entries


def profile_table(channels, entries):
    head = ["end", "status", "interval_min"] + ["%s [%s]" % c for c in channels]
    rows = []
    for end, status, interval, vals in entries:
        rows.append([iso(end), status, str(interval)] +
                    [vals.get(c, "") for c, _u in channels])
    return head, rows


def plot_profile(path, channels, entries, title):
    try:
        import matplotlib
    except ImportError:
        raise FieldError("--plot needs matplotlib: pip install matplotlib==3.11.2")
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(11, 4.5), dpi=100)
    try:
        for code, unit in channels:
            xs = []
            ys = []
            for end, _st, interval, vals in entries:
                v = vals.get(code, "")
                if v == "":
                    continue
                xs.append(end)
                ys.append(float(v) * 60.0 / interval)     # kWh per interval -> kW
            if xs:
                power = unit[:-1] if unit.endswith("h") else unit
                ax.step(xs, ys, where="pre", label="%s (%s)" % (code, power))
        ax.set_xlabel("local time (end of interval)")
        ax.set_ylabel("mean power per interval (kW / kvar)")
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
        if entries:
            ax.legend(loc="upper right")
        fig.autofmt_xdate()
        fig.tight_layout()
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)


def write_csv(path, head, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(head)
        w.writerows(rows)


# -- command line -------------------------------------------------------------------------
def build_parser():
    p = argparse.ArgumentParser(
        prog="readout.py", description="IEC 62056-21 readout, billing history and load "
        "profile of a meter over its optical port (or TCP) to CSV files.")
    line = p.add_mutually_exclusive_group(required=True)
    line.add_argument("--tcp", metavar="HOST:PORT", help="the meter over TCP")
    line.add_argument("--serial", metavar="DEVICE", help="an optical head, e.g. /dev/ttyUSB0")
    p.add_argument("--address", default="", help="device address for the sign-on")
    p.add_argument("--password", default="00000000", help="programming mode (P1)")
    p.add_argument("--timeout", type=float, default=5.0, metavar="S",
                   help="longest silence of the meter, seconds (default 5)")
    p.add_argument("--readout", action="store_true", help="standard readout -> readout.csv")
    p.add_argument("--billing", action="store_true",
                   help="billing history *01..*36 -> billing.csv")
    p.add_argument("--profile", nargs="*", metavar="FROM/TO", type=arg_stamp,
                   help="load profile [FROM] [TO] (local YYMMDDhhmm; default the last 7 "
                   "days) -> profile.csv")
    p.add_argument("--csv", required=True, metavar="OUT_DIR", help="directory for the CSVs")
    p.add_argument("--plot", metavar="PROFILE.png", help="PNG of the load profile")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--progress", action="store_true", default=None,
                   help="progress on stderr even when it is not a terminal")
    g.add_argument("--quiet", action="store_true", help="no progress")
    return p


def parse_args(argv):
    p = build_parser()
    a = p.parse_args(argv)
    if a.profile is not None and len(a.profile) > 2:
        p.error("--profile takes at most FROM and TO")
    if a.plot and a.profile is None:
        a.profile = []
    if not (a.readout or a.billing or a.profile is not None):
        p.error("nothing to read: give --readout, --billing and/or --profile")
    if a.tcp:
        host, sep, port = a.tcp.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            p.error("--tcp: HOST:PORT, got %r" % a.tcp)
        a.host, a.port = host, int(port)
    if a.timeout <= 0:
        p.error("--timeout: seconds > 0")
    return a


def main(argv=None):
    a = parse_args(sys.argv[1:] if argv is None else argv)
    on = a.progress if a.progress else (not a.quiet and sys.stderr.isatty())
    progress = Progress(bool(on))
    try:
        return _main(a, progress)
    except FieldError as e:
        progress.clear()
        sys.stderr.write("readout.py: error: %s\n" % e)
        return 2
    except KeyboardInterrupt:
        progress.clear()
        sys.stderr.write("readout.py: interrupted\n")
        return 130


def _main(a, progress):
    def transport():
        if a.tcp:
            return make_tcp(a.host, a.port, a.timeout)
        return make_serial(a.serial, a.timeout)

    try:
        os.makedirs(a.csv, exist_ok=True)
    except OSError as e:
        raise FieldError("--csv %s: %s" % (a.csv, e.strerror or e))
    out = []

    def save(name, head, rows):
        path = os.path.join(a.csv, name)
        try:
            write_csv(path, head, rows)
        except OSError as e:
            raise FieldError("%s: %s" % (path, e.strerror or e))
        out.append("%s: %d rows" % (path, len(rows)))

    if a.readout:
        t = transport()
        t.on_line = progress.count
        progress.start("readout")
        lines = run_session(t, a.address, a.password, "readout",
                            lambda s: s.readout(), progress)
        rows = readout_rows(lines)
        progress.done("%d data sets" % len(rows))
        save("readout.csv", ["code", "value", "unit", "time"], rows)
        if a.billing or a.profile is not None:
            time.sleep(0.3)              # the meter is back at 300 baud, idle

    if a.billing or a.profile is not None:
        t = transport()
        got = {}

        def programming(s):
            s.what = "password"
            progress.start("password")
            s.program()
            got["ident"] = "%s %s" % (s.c.manufacturer_id, s.c.ident)
            if a.billing:
                s.what = "billing"
                progress.start("billing")
                codes, stops = read_billing(s, progress)
                progress.done("%d stops" % len(stops))
                save("billing.csv", *billing_table(codes, stops))
            if a.profile is not None:
                s.what = "clock"
                lo = a.profile[0] if a.profile else None
                hi = a.profile[1] if len(a.profile) > 1 else ""
                if lo is None:
                    now = meter_now(s) or datetime.datetime.now()
                    lo = (now - datetime.timedelta(days=7)).strftime("%y%m%d%H%M")
                s.what = "profile"
                progress.start("profile")
                t.lines = 0
                t.on_line = progress.count
                got["range"] = (lo, hi)
                got["profile"] = s.read("P.01", 5, "%s;%s" % (lo, hi))
                t.on_line = None
                progress.done("%d lines" % t.lines)
            return got

        run_session(t, a.address, a.password, "programming", programming, progress)
        if a.profile is not None:
            try:
                channels, entries = parse_profile(got["profile"])
            except (ValueError, IndexError) as e:
                raise FieldError("profile: garbled answer from the meter: %s" % e)
            save("profile.csv", *profile_table(channels, entries))
            if a.plot:
                lo, hi = (iso(stamp_dt(x)) for x in got["range"])
                title = "Load profile %s, %s .. %s" % (got["ident"], lo or "start", hi or "now")
                try:
                    plot_profile(a.plot, channels, entries, title)
                except OSError as e:
                    raise FieldError("%s: %s" % (a.plot, e.strerror or e))
                out.append("%s: %d intervals" % (a.plot, len(entries)))
    for ln in out:
        print(ln)
    return 0


if __name__ == "__main__":
    sys.exit(main())

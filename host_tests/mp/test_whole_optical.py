"""On-MicroPython: the optical port of a whole meter (phasor source, store on a file):
sign-on, readout with its BCC, programming mode with a password, R1, W1, R5 load profile,
all on a port model with its own clock (frames from host_tests/optical_hhu.py)."""

import os
import sys
import time
import unittest

if "host_tests" not in sys.path:
    sys.path.append("host_tests")

from optical_hhu import ACK, Port, bcc, command, option, run, split_message, until  # noqa

from mpmeter.comms import iec62056  # noqa: E402
from mpmeter.config import Config  # noqa: E402
from mpmeter.hal import Board  # noqa: E402
from mpmeter.meter import Meter  # noqa: E402
from mpmeter.storage.store import REGION_BLOCKS, Store  # noqa: E402
from test_whole_meter import Clock, Power  # noqa: E402  (2.3 kW phasor source)

T0 = 1764144000            # 2025-11-26 08:00 UTC


def ended(p):
    r = p.received()
    return len(r) > 2 and r[-2] == iec62056.ETX or r == bytes((ACK,))


class TestOptical(unittest.TestCase):
    def test_readout_and_programming(self):
        from boards.sim.fileflash import FileFlash

        path = "/tmp/mpmeter_mp_optical_%d.bin" % (time.ticks_us() & 0xFFFFFF)
        try:
            src = Power(2 * 3600)
            port = Port()
            board = Board("mp-test", clock=Clock(src, T0), power=src, optical=port)
            m = Meter(board, Config("162", {"serial": 42}), None,
                      Store(FileFlash(path, REGION_BLOCKS)))
            m.coarse = True
            while m.step():
                pass
            opt = m.optical
            port.send(b"/?42!\r\n")
            until(opt, port, lambda p: p.received().endswith(b"\r\n"))
            self.assertEqual(port.take(), b"/MPM5\\2mpmeter162\r\n")
            port.send(option("0", "5", "0"))
            until(opt, port, ended, 10000)
            text, ok = split_message(port.take())
            self.assertTrue(ok)
            self.assertIn("1.8.0(000004.6*kWh)\r\n", text)      # 2.3 kW x 2 h
            self.assertTrue(text.endswith("!\r\n"))
            run(opt, port, 100)
            self.assertEqual(port.format, (300, 7, "E"))
            # programming mode
            port.send(b"/?!\r\n")
            until(opt, port, lambda p: p.received().endswith(b"\r\n"))
            port.take()
            port.send(option("0", "5", "1"))
            until(opt, port, ended, 3000)
            body = b"P0\x02(00000042)\x03"
            self.assertEqual(port.take(), b"\x01" + body + bytes((bcc(body),)))
            port.send(command("P", "1", "(00000000)"))
            until(opt, port, ended)
            self.assertEqual(port.take(), bytes((ACK,)))
            port.send(command("R", "1", "1.8.0()"))
            until(opt, port, ended)
            self.assertEqual(split_message(port.take()), ("1.8.0(000004.6*kWh)", True))
            port.send(command("W", "1", "billing_day(15)"))
            until(opt, port, ended)
            self.assertEqual(port.take(), bytes((ACK,)))
            self.assertEqual(m.cfg.billing_day, 15)
            port.send(command("R", "5", "P.01(;)"))
            until(opt, port, ended, 10000)
            text, ok = split_message(port.take())
            self.assertTrue(ok)
            self.assertEqual(text.count("(0.575)"), 7)    # 15-min entries after the first
            port.send(command("B", "0"))
            run(opt, port, 50)
            self.assertEqual(opt.state, iec62056.IDLE)
        finally:
            try:
                os.remove(path)
            except OSError:
                pass


if __name__ == "__main__":
    unittest.main()

"""Stubs of rp2.DMA, uctypes and time for the on-MicroPython sampler tests (not a test module).

The samplers' register-level behaviour is tested under CPython on the models
(host_tests/rp2040_adc_model.py, pio_model.py); on MicroPython only their viper helpers
and allocation-free read() are, with these stand-ins: DMA channels that do nothing,
addresses handed out `spacing` bytes apart from 0x20001010 (16-byte aligned, as the GC
heap, and deliberately not more), and a microsecond clock the test sets in NOW[0].
"""

NOW = [0]


class DMA:
    n = 0

    def __init__(self):
        self.channel = DMA.n
        DMA.n += 1
        self.ctrl = 0

    def pack_ctrl(self, **kw):
        return 0

    def config(self, **kw):
        pass

    def active(self, *a):
        return False

    def close(self):
        pass


class Uctypes:
    def __init__(self, spacing=0x400):
        self.a = {}
        self.spacing = spacing

    def addressof(self, obj):
        k = id(obj)
        if k not in self.a:
            self.a[k] = 0x20001010 + self.spacing * len(self.a)
        return self.a[k]


class Time:
    @staticmethod
    def ticks_us():
        return NOW[0]

    @staticmethod
    def sleep_us(us):
        pass

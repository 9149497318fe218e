"""TI ADS131M08 register map, SPI command frames, CRC, and one-time configuration over machine.SPI.

From the ADS131M08 datasheet (SBAS950B): 8 simultaneous delta-sigma channels, 24-bit
results; SPI mode 1 (CPOL 0, CPHA 1: the device shifts DOUT out on SCLK rising edges
and latches DIN on falling edges), every transfer a frame of words while CS is low.
A frame is 10 words here (command / response word, 8 channel words, CRC word); the
word is 24 bits after reset and 16 bits once MODE.WLENGTH = 00 (what this board uses:
the viper kernels take int16 blocks, and 16 bits of a +-1.2 V range is 37 uV).
Commands are 16 bits in the top of a word (zero padded); the response to a command
comes in the first word of the NEXT frame:
    NULL    0x0000   -> STATUS
    RESET   0x0011   -> 0xFF28 (0xFF20 | channel count)
    STANDBY 0x0022, WAKEUP 0x0033, LOCK 0x0555, UNLOCK 0x0655 -> the command itself
    RREG    101a aaaa annn nnnn (read n+1 registers from a) -> the register (n = 0)
    WREG    011a aaaa annn nnnn + n+1 data words -> 010a aaaa ammm mmmm (m = written - 1)
Output CRC: CRC-16-CCITT (x^16 + x^12 + x^5 + 1, init 0xFFFF, MSB first, no final
XOR; MODE.CRC_TYPE = 0) over every byte of the frame's words before the CRC word; it
is always sent. A frame and its CRC run through the same CRC give 0. Input CRC
(MODE.RX_CRC_EN) stays off: during capture DIN is held low, i.e. NULL commands with
no CRC word, which with RX_CRC_EN = 1 would set STATUS.CRC_ERR on every frame.

Clock: CLKIN 8.192 MHz, high-resolution mode: fmod = CLKIN / 2 = 4.096 MHz, OSR 512
-> 8000 samples/s per channel, all channels in step.
Code: +-1.2 V / gain full scale over 24 bits; in 16-bit words the top 16 bits,
1.2 / gain / 32768 V per code.

`configure(spi, cs, sleep_us, gains)` runs once at start (the capture is then handed to
PIO, boards/pico_ads131m08/sampler.py): optional SYNC/RESET pin pulse, RESET command,
ID check, MODE / CLOCK / GAIN1 / GAIN2 written, every register written read back
(ValueError naming the register on a mismatch), output CRC checked on every frame.
"""

from micropython import const

# registers
ID = const(0x00)
STATUS = const(0x01)
MODE = const(0x02)
CLOCK = const(0x03)
GAIN1 = const(0x04)
GAIN2 = const(0x05)
CFG = const(0x06)
THRSHLD_MSB = const(0x07)
THRSHLD_LSB = const(0x08)
CH0_CFG = const(0x09)           # CHn_CFG = 0x09 + 5 n, then OCAL_MSB/LSB, GCAL_MSB/LSB
CH_STRIDE = const(5)
REGMAP_CRC = const(0x3E)
NAMES = {ID: "ID", STATUS: "STATUS", MODE: "MODE", CLOCK: "CLOCK", GAIN1: "GAIN1",
         GAIN2: "GAIN2", CFG: "CFG", THRSHLD_MSB: "THRSHLD_MSB", THRSHLD_LSB: "THRSHLD_LSB",
         REGMAP_CRC: "REGMAP_CRC"}
for _n in range(8):
    for _k, _s in enumerate(("CFG", "OCAL_MSB", "OCAL_LSB", "GCAL_MSB", "GCAL_LSB")):
        NAMES[CH0_CFG + CH_STRIDE * _n + _k] = "CH%d_%s" % (_n, _s)


def ch_cfg(n):
    """Address of CHn_CFG (OCAL_MSB +1, OCAL_LSB +2, GCAL_MSB +3, GCAL_LSB +4)."""
    return CH0_CFG + CH_STRIDE * n


# ID: bits 11..8 channel count
ID_MASK = const(0xFF00)
ID_M08 = const(0x2800)
# STATUS fields
ST_LOCK = const(0x8000)
ST_F_RESYNC = const(0x4000)
ST_REG_MAP = const(0x2000)
ST_CRC_ERR = const(0x1000)
ST_CRC_TYPE = const(0x0800)
ST_RESET = const(0x0400)
ST_WLENGTH_LSB = const(8)
ST_DRDY = const(0x00FF)
# MODE fields
MODE_REGCRC_EN = const(0x2000)
MODE_RX_CRC_EN = const(0x1000)
MODE_CRC_TYPE = const(0x0800)
MODE_RESET = const(0x0400)      # "a reset happened": written 0 to clear it
MODE_WLENGTH_LSB = const(8)     # 00 16 bit, 01 24 bit (reset), 10 32 bit LSB zero, 11 sign ext
MODE_TIMEOUT = const(0x0010)
MODE_DRDY_SEL_LSB = const(2)
MODE_DRDY_HIZ = const(0x0002)
MODE_DRDY_FMT = const(0x0001)   # 0: DRDY low until the data are read; 1: short low pulse
# CLOCK fields
CLOCK_CH_EN_LSB = const(8)
CLOCK_OSR_LSB = const(2)
CLOCK_PWR_HR = const(0x0002)    # PWR 10: high resolution (fmod = CLKIN / 2)
OSR_CODES = (128, 256, 512, 1024, 2048, 4096, 8192, 16256)
GAINS = (1, 2, 4, 8, 16, 32, 64, 128)

# commands
NULL = const(0x0000)
RESET = const(0x0011)
STANDBY = const(0x0022)
WAKEUP = const(0x0033)
LOCK = const(0x0555)
UNLOCK = const(0x0655)
RREG = const(0xA000)
WREG = const(0x6000)
WREG_ACK = const(0x4000)
RESET_ACK = const(0xFF28)

RESET_VALUES = {ID: 0x2800, STATUS: 0x0500, MODE: 0x0510, CLOCK: 0xFF0E, GAIN1: 0, GAIN2: 0,
                CFG: 0x0600, THRSHLD_MSB: 0, THRSHLD_LSB: 0, REGMAP_CRC: 0}
for _n in range(8):
    for _k in range(5):
        RESET_VALUES[CH0_CFG + CH_STRIDE * _n + _k] = 0x8000 if _k == 3 else 0

WORDS = const(10)               # words per frame: response, 8 channels, CRC
FS_V = 1.2                      # +-full scale at gain 1, volts
CLKIN = const(8192000)


def rreg(addr, n=1):
    """RREG command word: read n registers from addr."""
    return RREG | (addr << 7) | (n - 1)


def wreg(addr, n=1):
    """WREG command word: write n registers from addr (the data words follow)."""
    return WREG | (addr << 7) | (n - 1)


def mode_value(wlength=0, rx_crc=False, drdy_fmt=0, timeout=True):
    """MODE with CRC-CCITT, the RESET flag cleared, DRDY on the most lagging channel."""
    return ((wlength << MODE_WLENGTH_LSB) | (MODE_RX_CRC_EN if rx_crc else 0)
            | (MODE_TIMEOUT if timeout else 0) | (MODE_DRDY_FMT if drdy_fmt else 0))


def clock_value(osr=512, channels=0xFF):
    """CLOCK: channels enabled (bit mask), OSR, high-resolution power mode."""
    if osr not in OSR_CODES:
        raise ValueError("osr: one of %r" % (OSR_CODES,))
    return (channels << CLOCK_CH_EN_LSB) | (OSR_CODES.index(osr) << CLOCK_OSR_LSB) \
        | CLOCK_PWR_HR


def gain_values(gains):
    """(GAIN1, GAIN2) for 8 PGA gains (1, 2, 4 .. 128)."""
    if len(gains) != 8:
        raise ValueError("gains: 8 PGA gains, one per channel")
    g = [0, 0]
    for n, x in enumerate(gains):
        if x not in GAINS:
            raise ValueError("gains[%d]: one of %r" % (n, GAINS))
        g[n >> 2] |= GAINS.index(x) << (4 * (n & 3))
    return g[0], g[1]


def crc16(buf, n=None, crc=0xFFFF):
    """CRC-16-CCITT of the first n bytes of buf (init 0xFFFF, MSB first, no final XOR)."""
    if n is None:
        n = len(buf)
    for k in range(n):
        crc ^= buf[k] << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
        crc &= 0xFFFF
    return crc


def crc_table(out):
    """Fill out (array('H') of 256) with the byte-wise table of crc16:
    crc' = ((crc << 8) & 0xFFFF) ^ out[((crc >> 8) ^ byte) & 0xFF]."""
    for b in range(256):
        c = b << 8
        for _ in range(8):
            c = ((c << 1) ^ 0x1021) if c & 0x8000 else c << 1
        out[b] = c & 0xFFFF
    return out


class Ads131m08:
    """Frames over machine.SPI (mode 1) with CS driven by hand; 24-bit words until
    MODE.WLENGTH is set to 16 bits. Every received frame's CRC is checked."""

    def __init__(self, spi, cs, sleep_us):
        self.spi = spi
        self.cs = cs
        self.sleep_us = sleep_us
        self.nbytes = 3
        self._tx = bytearray(3 * WORDS)
        self._rx = bytearray(3 * WORDS)
        cs.value(1)

    def frame(self, words=()):
        """One frame: words (16-bit commands / data) then NULL padding; returns the
        10 received words (the top 16 bits of each)."""
        nb = self.nbytes
        n = nb * WORDS
        tx = memoryview(self._tx)[:n]
        rx = memoryview(self._rx)[:n]
        for k in range(n):
            tx[k] = 0
        for k, w in enumerate(words):
            tx[nb * k] = w >> 8
            tx[nb * k + 1] = w & 0xFF
        self.cs.value(0)
        self.spi.write_readinto(tx, rx)
        self.cs.value(1)
        got = [(rx[nb * k] << 8) | rx[nb * k + 1] for k in range(WORDS)]
        crc = crc16(rx, nb * (WORDS - 1))
        if crc != got[WORDS - 1]:
            raise ValueError("ADS131M08: CRC 0x%04x received, 0x%04x computed (SPI wiring?)"
                             % (got[WORDS - 1], crc))
        return got

    def command(self, words, expect=None, what="", nbytes=None):
        """Send a command frame, then a NULL frame (with nbytes-byte words if given: a
        new word length applies from the frame after the MODE write); return the
        response word."""
        self.frame(words)
        if nbytes:
            self.nbytes = nbytes
        r = self.frame()[0]
        if expect is not None and r != expect:
            raise ValueError("ADS131M08 %s: response 0x%04x, expected 0x%04x" % (what, r, expect))
        return r

    def read(self, addr):
        return self.command((rreg(addr),))

    def write(self, addr, value, nbytes=None):
        self.command((wreg(addr), value), WREG_ACK | (addr << 7),
                     "WREG " + NAMES.get(addr, hex(addr)), nbytes)


def configure(spi, cs, sleep_us, gains=(1,) * 8, osr=512, sync_reset=None, drdy=None,
              drdy_fmt=0, flush=4):
    """Reset and configure an ADS131M08 for 16-bit capture; returns {address: value}
    of the registers written (all read back). spi: machine.SPI in mode 1; cs, sync_reset,
    drdy: machine.Pin (cs, sync_reset outputs, drdy input) or None; sleep_us(us).
    With drdy given, `flush` data frames are read after the configuration, each after
    DRDY falls, so the device's data FIFO holds no conversion of the old settings."""
    if sync_reset is not None:          # > 2048 CLKIN periods low: a full reset
        sync_reset.value(0)
        sleep_us(1000)
        sync_reset.value(1)
        sleep_us(1000)
    dev = Ads131m08(spi, cs, sleep_us)
    dev.frame((RESET,))
    sleep_us(100)                       # > t_REGACQ after a reset
    r = dev.frame()[0]
    if r != RESET_ACK:
        raise ValueError("ADS131M08 RESET: response 0x%04x, expected 0x%04x" % (r, RESET_ACK))
    ident = dev.read(ID)
    if ident & ID_MASK != ID_M08:
        raise ValueError("ADS131M08 ID: 0x%04x is not an ADS131M08 (0x28xx)" % ident)
    g1, g2 = gain_values(gains)
    regs = ((MODE, mode_value(0, False, drdy_fmt)), (CLOCK, clock_value(osr)),
            (GAIN1, g1), (GAIN2, g2))
    for addr, value in regs:
        dev.write(addr, value, 2 if addr == MODE else None)
    for addr, value in regs:
        got = dev.read(addr)
        if got != value:
            raise ValueError("ADS131M08 %s: wrote 0x%04x, read back 0x%04x"
                             % (NAMES[addr], value, got))
    st = dev.read(STATUS)
    if st & (ST_RESET | (3 << ST_WLENGTH_LSB)):
        raise ValueError("ADS131M08 STATUS: 0x%04x (reset flag or word length)" % st)
    if drdy is not None:
        for _ in range(flush):
            n = 0
            while drdy.value() and n < 1000:
                sleep_us(10)
                n += 1
            dev.frame()
    return dict(regs)

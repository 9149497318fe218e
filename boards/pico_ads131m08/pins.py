"""Pin map of the RP2040 + ADS131M08 board (profile 351): the Pico's map plus the AFE on SPI0.

Every GPIO is boards/pico/pins.py's (one table for both boards, checked unique there):

GPIO   use (351 board)
GP0/1  UART0: optical port (as the 162)
GP2    SPI0 SCK  -> ADS131M08 SCLK
GP3    SPI0 TX   -> ADS131M08 DIN
GP4    SPI0 RX   <- ADS131M08 DOUT
GP5    ADS131M08 /CS (a GPIO driven by the sampler, not SPI0's own CSn)
GP6    ADS131M08 /DRDY (input, falling edge: a new frame of 8 channels)
GP7    ADS131M08 /SYNC/RESET (output, held high; low > 2048 CLKIN periods resets)
CLKIN  not a GPIO: an 8.192 MHz crystal oscillator on the AFE side drives the
       ADS131M08's CLKIN (modulator 8.192 MHz / 2, OSR 512: the 8000 frames/s of
       boards/sim's ads131m08 model; the RP2040's clocks cannot make 8.192 MHz exactly), so
       AFE["clkin"] is None
GP8..18  button, LEDs, S0, (relay: none on the 351), seal, power fail, magnet, HT1621
GP19   I/O 1 tariff input, GP20 I/O 2 tariff input (optocouplers, 0 while energised)
GP21   pulse input (optocoupler, falling edge counted by a hard IRQ)
GP26..28 not used (the AFE measures)
"""

from boards.pico import pins as _pico

# the dict boards.pico_ads131m08.sampler.make(pins, ...) takes
AFE = {"sck": _pico.AFE_SCK, "mosi": _pico.AFE_MOSI, "miso": _pico.AFE_MISO,
       "cs": _pico.AFE_CS, "drdy": _pico.AFE_DRDY, "sync_reset": _pico.AFE_SYNC_RESET,
       "clkin": None}
SPI_ID = 0
IO = (_pico.IO1, _pico.IO2)
PULSE_IN = _pico.PULSE_IN

"""Pin map of the Pico meter boards: every GPIO the meter uses, in one place (numbers only).

Raspberry Pi Pico (RP2040), profile 162 (boards/pico/board.py). The 3-phase board
(boards/pico_ads131m08) is the same Pico on the same carrier wiring plus the ADS131M08 on
SPI0: its AFE pins (GP2..GP7) are left free here, and the pins only it uses (tariff
inputs, pulse input) are listed here too, so one table proves that no GPIO serves two
purposes on either board (host_tests/test_pico_board.py checks it).

GPIO   Pico pin  use (162 board)                              level
GP0    1         UART0 TX -> IR LED driver of the optical port  idle high (UART)
GP1    2         UART0 RX <- IR receiver of the optical port    idle high (UART)
GP2..7 4..7,9,10 free on the 162 (SPI0 + DRDY + SYNC/RESET of the ADS131M08 board)
GP8    11        push button to GND (internal pull-up)          0 while pressed
GP9    12        meter LED, active energy (imp/kWh)             1 = LED lit
GP10   14        meter LED, reactive energy (imp/kvarh)         1 = LED lit
GP11   15        S0 output: LED of the optocoupler (via 1 k)    1 = S0 transistor on
GP12   16        breaker relay driver (transistor / ULN2003)    1 = supply connected
GP13   17        verification seal jumper to GND (pull-up)      0 (jumper fitted) = open
GP14   19        power-fail comparator output (pull-down)       1 while the supply fails
GP15   20        magnet (Hall) switch, open drain (pull-up)     0 while a field is present
GP16   21        HT1621 CS  (LCD, the chip powered from 3V3)    output
GP17   22        HT1621 WR                                      output
GP18   24        HT1621 DATA                                    output
GP19   25        I/O 1 tariff input (351 board; optocoupler)    0 while energised
GP20   26        I/O 2 tariff input (351 board; optocoupler)    0 while energised
GP21   27        pulse input (351 board; optocoupler, IRQ)      falling edge = a pulse
GP22   29        free
GP26   31        ADC0: voltage (AC-AC adapter, divider, bias)   analog
GP27   32        ADC1: current (SCT-013-000 CT, burden, bias)   analog
GP28   34        ADC2: neutral current CT (optional)            analog
not used: GP23 (SMPS power-save), GP24 (VBUS sense), GP25 (on-board LED), GP29 (ADC3,
VSYS/3): wired inside the Pico module.

Why the meter LED is not GP25: the on-board LED sits under the meter's cover, while a
meter LED must be seen from the front by the test bench's scanning head (and by the
customer): it is a red LED on the front panel on GP9. GP25 stays unused (it would only
duplicate GP9 for bench work without a front panel).

Active-low inputs (seal, magnet, tariff inputs) fail safe: a broken wire reads as the
pull-up's 1 = "seal closed", "no field", "input off". The seal is open only while a
jumper under the sealed verification cover pulls GP13 to ground.
"""

from micropython import const

# optical port (IEC 62056-21) on UART0
UART_ID = const(0)
UART_TX = const(0)
UART_RX = const(1)

# the ADS131M08 board's AFE on SPI0 (boards/pico_ads131m08/pins.py uses these)
AFE_SCK = const(2)
AFE_MOSI = const(3)
AFE_MISO = const(4)
AFE_CS = const(5)
AFE_DRDY = const(6)
AFE_SYNC_RESET = const(7)

BUTTON = const(8)
LED_KWH = const(9)
LED_KVARH = const(10)
S0 = const(11)
RELAY = const(12)
SEAL = const(13)
POWER_FAIL = const(14)
MAGNET = const(15)
LCD_CS = const(16)
LCD_WR = const(17)
LCD_DATA = const(18)
IO1 = const(19)
IO2 = const(20)
PULSE_IN = const(21)

ADC_V = const(26)
ADC_I = const(27)
ADC_N = const(28)

# GPIOs wired inside the Pico module: never used by the meter
INTERNAL = (23, 24, 25, 29)

# name -> GPIO of every pin either Pico board uses (the uniqueness check reads this)
PINS = {
    "uart_tx": UART_TX, "uart_rx": UART_RX,
    "afe_sck": AFE_SCK, "afe_mosi": AFE_MOSI, "afe_miso": AFE_MISO, "afe_cs": AFE_CS,
    "afe_drdy": AFE_DRDY, "afe_sync_reset": AFE_SYNC_RESET,
    "button": BUTTON, "led_kwh": LED_KWH, "led_kvarh": LED_KVARH, "s0": S0,
    "relay": RELAY, "seal": SEAL, "power_fail": POWER_FAIL, "magnet": MAGNET,
    "lcd_cs": LCD_CS, "lcd_wr": LCD_WR, "lcd_data": LCD_DATA,
    "io1": IO1, "io2": IO2, "pulse_in": PULSE_IN,
    "adc_v": ADC_V, "adc_i": ADC_I, "adc_n": ADC_N,
}

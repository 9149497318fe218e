"""The simulator board: waveform or phasor source, sample-driven clock, recording pulse pins."""

from mpmeter.hal import Board


class SimClock:
    """Meter time advanced by the samples themselves (deterministic, any speed)."""

    def __init__(self, source, start_epoch):
        self.source = source
        self.start = start_epoch

    def ms(self):
        s = self.source
        if hasattr(s, "frames_done"):
            return s.frames_done * 1000 // s.fs
        return s.seconds_done * 1000

    def ticks_ms(self):
        return self.ms()

    def now(self):
        return self.start + self.ms() // 1000

    def set(self, utc):
        """Set the clock: the samples keep counting from the new time."""
        self.start += utc - self.now()


class SimPin:
    """An output pin that counts its rising edges and remembers its level (LED, S0)."""

    def __init__(self, name):
        self.name = name
        self.level = 0
        self.rises = 0

    def value(self, x=None):
        if x is None:
            return self.level
        x = 1 if x else 0
        if x and not self.level:
            self.rises += 1
        self.level = x


class SimButton:
    """The push button, pressed by the scenario's [at_s, hold_s] list on the sim clock:
    value() is 0 while pressed (a button to ground with a pull-up, as on the boards)."""

    def __init__(self, clock, presses):
        self.clock = clock
        self.presses = [(int(a * 1000), int((a + h) * 1000)) for a, h in presses]
        self.extra = []          # (from_ms, to_ms) added while running (tests, keyboard)

    def press(self, at_ms, hold_ms):
        self.extra.append((at_ms, at_ms + hold_ms))

    def value(self):
        t = self.clock.ms()
        for lst in (self.presses, self.extra):
            for a, b in lst:
                if a <= t < b:
                    return 0
        return 1


def make_board(config, scenario, fidelity="waveform", adc=None, seed=1, noise=True,
               errors=None):
    """Build the sim board for a validated scenario. adc: 'rp2040' | 'ads131m08'."""
    from boards.sim import waveform

    if adc is None:
        adc = "rp2040" if scenario["profile"] == "162" else "ads131m08"
    if fidelity == "waveform":
        src = waveform.WaveformSource(scenario, model=adc, seed=seed, noise=noise,
                                      errors=errors)
        sampler = waveform.Sampler(src)
        power = None
        if adc == "rp2040":
            # what boards/pico does: undo the ADC's wide codes (erratum E11) by table
            from boards.pico import adc_dnl

            sampler.lut = adc_dnl.table()
            sampler.systems, sampler.neutral = adc_dnl.linearised(sampler.systems,
                                                                  sampler.neutral)
    elif fidelity == "phasor":
        src = waveform.PhasorSource(scenario)
        sampler = None
        power = src
        src.nsys = 1 if scenario["profile"] == "162" else (
            2 if scenario.get("wiring", "4w") == "aron" else 3)
    else:
        raise ValueError("fidelity: 'waveform' or 'phasor', got %r" % (fidelity,))
    clock = SimClock(src, scenario["start_epoch"])
    led = SimPin("LED kWh")
    led_q = SimPin("LED kvarh")
    s0 = SimPin("S0") if config.s0_imp_kwh else None
    from mpmeter.display.textlcd import TextLcd

    b = Board("sim-" + adc if sampler else "sim-phasor", sampler=sampler, clock=clock,
              led=led, led_q=led_q, s0=s0, power=power, lcd=TextLcd(),
              button=SimButton(clock, scenario.get("button", [])))
    if scenario["profile"] == "162":
        # the 162 with breaker ("med bryder"): the relay is closed (supply connected)
        b.relay = SimPin("relay")
        b.relay.value(1)
    b.source = src
    b.adc = adc if sampler else "phasor"
    return b

"""mpmeter: an open electricity meter (Kamstrup 162 / 351B behaviour) for RP2040 boards."""

VERSION = "0.1.0"

"""Raspberry Pi Pico with a TI ADS131M08 (external 8-channel 24-bit ADC); uses boards.pico."""

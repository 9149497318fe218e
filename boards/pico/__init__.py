"""Raspberry Pi Pico board (profile 162, RP2040 internal ADC)."""

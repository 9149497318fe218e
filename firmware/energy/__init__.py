"""Energy: four-quadrant registers in integers, and the LED / S0 pulse outputs."""

"""Meter time: civil calendar in integers, time zone and summer time (config LL, PPP)."""

"""Logs: events, load profile, billing, demand (on the record store)."""

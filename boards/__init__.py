"""Board packages: one per target (sim, pico, pico_ads131m08)."""

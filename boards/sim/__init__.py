"""The host (simulator) board: waveform source, converter models, scenarios."""

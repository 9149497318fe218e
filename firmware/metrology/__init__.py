"""Metrology: sample blocks -> per-block sums (viper) -> Vrms, Irms, P, Q, S, PF, f."""

"""Storage: EEPROM-style records on a flash block device (power-cut safe, wear levelled)."""

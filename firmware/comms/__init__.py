"""Communication: the quantity catalogue (OBIS), and later IEC 62056-21 and DLMS/COSEM."""

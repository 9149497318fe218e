"""Compact record payloads: unsigned LEB128 varints for tuples of ints of any size."""


def pack_uints(values):
    """bytes of the varints of `values` (each an int >= 0)."""
    out = bytearray()
    for v in values:
        if v < 0:
            raise ValueError("pack_uints: negative value %d" % v)
        while True:
            b = v & 0x7F
            v >>= 7
            if v:
                out.append(b | 0x80)
            else:
                out.append(b)
                break
    return bytes(out)


def unpack_uints(data):
    """Tuple of the ints packed by pack_uints; ValueError if the bytes end mid-number."""
    out = []
    v = 0
    shift = 0
    for b in data:
        v |= (b & 0x7F) << shift
        if b & 0x80:
            shift += 7
        else:
            out.append(v)
            v = 0
            shift = 0
    if shift:
        raise ValueError("varint payload ends inside a number")
    return tuple(out)


def first_uint(data):
    """The first varint of `data` without decoding the rest; -1 if there is none."""
    v = 0
    shift = 0
    for b in data:
        v |= (b & 0x7F) << shift
        if not b & 0x80:
            return v
        shift += 7
    return -1

"""Pico flash layout: littlefs low in the MicroPython storage region, the record store on top.

RPI_PICO (2 MiB flash): MicroPython's storage region is the top 1408 KiB of the
flash (offset 0x0A0000 up; the firmware image is below it). This board splits it:

    storage offset 0 .. FS_BYTES             littlefs, mounted at / by the build's _boot.py
    storage offset FS_BYTES .. STORAGE_BYTES the meter's record store (store.LAYOUT)

The modules are passed in (rp2, os) so that tests can hand in fakes.
"""

from mpmeter.storage.store import REGION_BLOCKS

STORAGE_BYTES = 1408 * 1024     # MICROPY_HW_FLASH_STORAGE_BYTES of RPI_PICO
BLOCK = 4096                    # erase sector = rp2.Flash block
STORE_BYTES = REGION_BLOCKS * BLOCK
FS_BYTES = STORAGE_BYTES - STORE_BYTES
KIB = 1024


def store_device(rp2):
    """The block device of the meter's record store: the top STORE_BYTES of the region."""
    try:
        dev = rp2.Flash(start=FS_BYTES, len=STORE_BYTES)
    except TypeError:
        raise ValueError("pico flash: rp2.Flash(start=, len=) needs MicroPython >= 1.23")
    n = dev.ioctl(4, 0)
    if n != REGION_BLOCKS:
        raise ValueError("pico flash: the store device has %d blocks, the store needs %d"
                         % (n, REGION_BLOCKS))
    bs = dev.ioctl(5, 0)
    if bs != BLOCK:
        raise ValueError("pico flash: the store device has %d-byte blocks, not %d"
                         % (bs, BLOCK))
    return dev


def check_layout(os_mod, mount="/"):
    """The filesystem at `mount` must end at or below FS_BYTES (it starts at storage
    offset 0); returns its size in bytes. Raises ValueError if it reaches the store."""
    st = os_mod.statvfs(mount)
    unit = st[1] or st[0]           # f_frsize (f_bsize if 0)
    size = unit * st[2]             # f_blocks
    if size > FS_BYTES:
        raise ValueError(
            "pico flash: filesystem covers %d KiB of the storage region, the meter store "
            "starts at %d KiB (FS_BYTES): flash the mpmeter build (its _boot.py mounts "
            "littlefs over the first %d KiB only), or the store would overwrite files"
            % (size // KIB, FS_BYTES // KIB, FS_BYTES // KIB))
    return size


def open_store(rp2, os_mod):
    """check_layout, then the store device (the board builds Store(dev) on it)."""
    check_layout(os_mod)
    return store_device(rp2)

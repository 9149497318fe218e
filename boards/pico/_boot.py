"""Frozen _boot.py of the mpmeter Pico build: littlefs at / over the low FS_BYTES of storage only.

Replaces the rp2 port's _boot.py, which formats littlefs over the whole storage
region (and so over the meter's record store at its top; see flash.py, README).
It runs before / is mounted, so it cannot import flash.py or mpmeter: the numbers
below repeat flash.py's (host_tests/test_pico_flash.py checks that they agree).
"""

import sys

STORAGE_BYTES = 1408 * 1024
BLOCK = 4096
STORE_BLOCKS = 254              # mpmeter.storage.store.REGION_BLOCKS
FS_BYTES = STORAGE_BYTES - STORE_BLOCKS * BLOCK


def mount_filesystem(rp2, vfs):
    """Mount littlefs over storage bytes 0..FS_BYTES at /; format only that part if it
    does not mount (blank, or a filesystem of another size, e.g. the stock one)."""
    bdev = rp2.Flash(start=0, len=FS_BYTES)
    try:
        fs = vfs.VfsLfs2(bdev, progsize=256)
    except Exception:
        vfs.VfsLfs2.mkfs(bdev, progsize=256)
        fs = vfs.VfsLfs2(bdev, progsize=256)
    vfs.mount(fs, "/")
    return fs


if sys.platform == "rp2":
    import rp2
    import vfs

    mount_filesystem(rp2, vfs)
    del rp2, vfs

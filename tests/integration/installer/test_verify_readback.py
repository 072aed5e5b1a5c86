"""The write-image step's read-back check reads the disk, not the page cache.

Linux drops a block device's cache on its last close, but on a live system udev, blkid or
multipathd often hold the disk open; then a plain re-read returns the cached pages that were just
written and would pass a write that never reached the disk. The holder below plays that part.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from stook_core.osimage import copy_image, sha256_prefix
from support.install_engine import loop_disks
from support.tiers import require_commands, require_root

MiB = 1 << 20


def test_a_corruption_below_the_page_cache_is_caught(tmp_path: Path) -> None:
    require_root()
    require_commands("losetup")
    image = tmp_path / "os.img"
    image.write_bytes(os.urandom(8 * MiB))
    expected = hashlib.sha256(image.read_bytes()).hexdigest()
    with loop_disks(tmp_path, [32 * MiB]) as (device,):
        holder = os.open(device, os.O_RDONLY)
        try:
            copy_image(image, device, lambda fraction, message: None)
            assert sha256_prefix(Path(device), 8 * MiB, from_medium=True) == expected

            # Change the bytes underneath the loop device (as a failing disk would) while the
            # device's page cache still holds what was written.
            with (tmp_path / "disk0.img").open("r+b") as backing:
                backing.seek(3 * MiB)
                backing.write(b"\xff" * 4096)
                backing.flush()
                os.fsync(backing.fileno())

            assert sha256_prefix(Path(device), 8 * MiB, from_medium=True) != expected
        finally:
            os.close(holder)

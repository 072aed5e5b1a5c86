"""The write-image step's read-back check reads the disk, not the page cache.

Linux drops a block device's cache on its last close, but on a live system udev, blkid or
multipathd often hold the disk open; then a plain re-read returns the cached pages that were just
written and would pass a write that never reached the disk. The holder below plays that part.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from stook_core.osimage import copy_image, read_back_sha256
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
            assert read_back_sha256(device, 8 * MiB) == expected

            # Change the bytes underneath the loop device (as a failing disk would) while the
            # device's page cache still holds what was written.
            with (tmp_path / "disk0.img").open("r+b") as backing:
                backing.seek(3 * MiB)
                backing.write(b"\xff" * 4096)
                backing.flush()
                os.fsync(backing.fileno())

            assert read_back_sha256(device, 8 * MiB) != expected
        finally:
            os.close(holder)


def test_an_image_of_any_length_is_copied_whole_with_direct_writes(tmp_path: Path) -> None:
    """The bulk goes with O_DIRECT in aligned blocks; the tail that is not a multiple of the
    alignment (and a block that is not whole) must reach the disk too, and nothing after it."""
    require_root()
    require_commands("losetup")
    image = tmp_path / "os.img"
    image.write_bytes(os.urandom(9 * MiB + 1234))
    with loop_disks(tmp_path, [32 * MiB]) as (device,):
        with Path(device).open("r+b") as stream:
            stream.write(b"\xee" * 16 * MiB)
        copied = copy_image(image, device, lambda fraction, message: None)
        data = image.read_bytes()
        assert copied == (len(data), hashlib.sha256(data).hexdigest())
        assert read_back_sha256(device, len(data)) == copied.sha256
        with Path(device).open("rb") as stream:
            assert stream.read(len(data) + 10) == data + b"\xee" * 10

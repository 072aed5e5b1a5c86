"""Install GRUB's BIOS boot code the way grub-bios-setup embeds it on a GPT disk.

grub-bios-setup guesses a "root device" from the folder holding core.img and fails when that
is a loop-device partition (GRUB's hostdisk cannot size it), which is how the integration
tests and some rescue set-ups see disks. The embedding itself is small and fixed by GRUB's
boot.S/diskboot.S layout, so the engine does it: boot.img goes into the MBR (keeping the
protective MBR's partition table), with the LBA of core.img patched in; core.img goes into
the BIOS boot partition, its first sector's block list pointing at the sectors after it.
Reed-Solomon redundancy is not added (as ``grub-bios-setup --no-rs-codes``).
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

SECTOR = 512
BPB_START, BPB_END = 0x03, 0x5A
KERNEL_SECTOR = 0x5C
DRIVE_CHECK = 0x66
NT_MAGIC, PART_END = 0x1B8, 0x1FE
BLOCKLIST = SECTOR - 12  # struct { u64 start; u16 len; u16 segment; } at the end of sector 0


class BiosBootError(ValueError):
    pass


def embed(
    boot_img: bytes, core_img: bytes, mbr: bytes, start_lba: int, room: int
) -> tuple[bytes, bytes]:
    """The new MBR sector and the padded core image for a BIOS boot partition at *start_lba*
    holding *room* sectors."""
    if len(boot_img) != SECTOR or len(mbr) != SECTOR:
        raise BiosBootError("boot.img and the MBR must be one sector each")
    sectors = -(-len(core_img) // SECTOR)
    if sectors > room:
        raise BiosBootError(f"core.img needs {sectors} sectors; the BIOS boot partition has {room}")
    boot = bytearray(boot_img)
    boot[BPB_START:BPB_END] = mbr[BPB_START:BPB_END]
    boot[KERNEL_SECTOR : KERNEL_SECTOR + 8] = struct.pack("<Q", start_lba)
    boot[DRIVE_CHECK : DRIVE_CHECK + 2] = b"\x90\x90"  # trust the BIOS boot drive (hard disk)
    boot[NT_MAGIC:PART_END] = mbr[NT_MAGIC:PART_END]
    boot[PART_END:SECTOR] = b"\x55\xaa"
    core = bytearray(core_img.ljust(sectors * SECTOR, b"\0"))
    _, _, segment = struct.unpack_from("<QHH", core, BLOCKLIST)
    struct.pack_into("<QHH", core, BLOCKLIST, start_lba + 1, sectors - 1, segment)
    return bytes(boot), bytes(core)


def _partition_geometry(partition: str) -> tuple[int, int]:
    sys = Path("/sys/class/block") / Path(os.path.realpath(partition)).name
    start = int((sys / "start").read_text())
    size = int((sys / "size").read_text())
    return start, size


def install(disk: str, partition: str, boot_img: Path, core_img: Path) -> None:
    """Write GRUB's BIOS boot code to *disk*, core.img into BIOS boot *partition*."""
    start, room = _partition_geometry(partition)
    with Path(disk).open("r+b", buffering=0) as device:
        mbr = device.read(SECTOR)
        boot, core = embed(boot_img.read_bytes(), core_img.read_bytes(), mbr, start, room)
        device.seek(start * SECTOR)
        device.write(core)
        device.seek(0)
        device.write(boot)
        os.fsync(device.fileno())

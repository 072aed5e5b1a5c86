from __future__ import annotations

import pytest

from stook_core.config.model import DiskMatch
from stook_core.diskmatch import DiskMatchError, resolve
from stook_core.hardware import Disk
from support.install_engine import profile


def pick(spec: object, machine: str = "nvme-sata-mix") -> str:
    return resolve(DiskMatch.model_validate(spec), profile(machine).disks).path


def test_by_serial_wwn_and_path_link() -> None:
    assert pick({"serial": "WWZ1A002"}) == "/dev/sdb"
    assert pick({"wwn": "5000c500d0000001"}) == "/dev/sda"
    assert pick({"wwn": "0x5000C500D0000001"}) == "/dev/sda"
    assert pick("/dev/disk/by-id/nvme-Samsung_SSD_980_PRO_1TB_S5GXNF0N100001") == "/dev/nvme0n1"


def test_model_glob_with_size_pick() -> None:
    assert pick({"model": "Samsung SSD 980*"}) == "/dev/nvme0n1"
    assert pick({"path": "/dev/nvme*", "size": "smallest"}) == "/dev/nvme0n1"
    assert pick({"path": "/dev/nvme*", "size": "largest"}) == "/dev/nvme1n1"


@pytest.mark.parametrize("size", ["smallest", "largest"])
def test_a_size_pick_between_equal_disks_is_an_error_naming_both(size: str) -> None:
    # sda and sdb are both 8 TB: picking one of them would be arbitrary, and the other may hold
    # what the operator meant to keep.
    with pytest.raises(DiskMatchError, match=rf"size: {size} ties .*8 TB \(/dev/sda, /dev/sdb\)"):
        pick({"model": "ST8000*", "size": size})
    with pytest.raises(DiskMatchError, match=r"ties between 2 disks of 960 GB"):
        pick("smallest", "busy-disks")


def test_largest_skips_the_removable_live_stick() -> None:
    assert pick("largest", "os-and-data") == "/dev/sdb"
    assert pick("smallest", "os-and-data") == "/dev/sda"


def test_ambiguous_match_says_how_to_narrow_it() -> None:
    with pytest.raises(DiskMatchError, match=r"matches 2 disks .*size: largest"):
        pick({"model": "ST8000*"})


def test_no_match_lists_the_disks() -> None:
    with pytest.raises(DiskMatchError, match=r"matches no disk \(disks: /dev/nvme0n1"):
        pick({"serial": "nope"})


def test_read_only_disks_never_match() -> None:
    disk = Disk(name="sda", path="/dev/sda", size=10**12, read_only=True)
    with pytest.raises(DiskMatchError, match="read-only"):
        resolve(DiskMatch(path="/dev/sda"), [disk])

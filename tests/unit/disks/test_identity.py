"""Disk identity and object names (stook_core.diskid): pure functions over the Disk model."""

from __future__ import annotations

import re
from typing import Any

import pytest

from stook_core.diskid import (
    Identity,
    filesystem_label,
    identities,
    normalise_wwn,
    object_name,
)
from stook_core.hardware import Disk

DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def disk(name: str, **fields: Any) -> Disk:
    return Disk(name=name, path=f"/dev/{name}", size=10**12, **fields)


def test_a_unique_real_wwn_names_the_disk_whatever_its_kernel_name() -> None:
    before = identities([disk("sdb", wwn="0x5000c500a1b2c3d4", serial="S1")])["sdb"]
    after = identities([disk("sdc", wwn="0x5000c500a1b2c3d4", serial="S1")])["sdc"]
    assert before == after == Identity("wwn", "5000c500a1b2c3d4")
    assert object_name("n1", before) == object_name("n1", after)


@pytest.mark.parametrize("wwn", ["0x0000000000000000", "naa.00000000", "0", "", None])
def test_an_all_zero_or_missing_wwn_is_not_trusted(wwn: str | None) -> None:
    found = identities([disk("sda", wwn=wwn, serial="ZA1", model="ST4000")])["sda"]
    assert found.source == "serial"


def test_a_wwn_shared_by_two_disks_is_not_trusted() -> None:
    shared = "0x5000000000000001"
    found = identities([
        disk("sda", wwn=shared, serial="A1", model="M"),
        disk("sdb", wwn=shared, serial="B2", model="M"),
    ])  # fmt: skip
    assert found["sda"] != found["sdb"]
    assert {found["sda"].source, found["sdb"].source} == {"serial"}


def test_wwn_spellings_of_different_udev_versions_are_one_identity() -> None:
    assert normalise_wwn("0x5000C500A1B2C3D4") == normalise_wwn("naa.5000c500a1b2c3d4")


def test_without_wwn_or_serial_a_loop_device_is_named_by_its_backing_file() -> None:
    a = identities([disk("loop3", backing_file="/srv/a.img")])["loop3"]
    b = identities([disk("loop7", backing_file="/srv/a.img")])["loop7"]
    assert a == b == Identity("backingFile", "/srv/a.img")


def test_last_resort_is_bus_path_and_model() -> None:
    found = identities([disk("vda", bus_path="pci-0000:00:05.0", model="QEMU")])["vda"]
    assert found == Identity("busPath", "pci-0000:00:05.0:QEMU")


@pytest.mark.parametrize("node", ["worker-1", "Node_With.Caps", "x" * 300, "-odd-"])
def test_object_names_are_valid_dns1123_names(node: str) -> None:
    name = object_name(node, Identity("wwn", "5000c500a1b2c3d4"))
    assert len(name) <= 253 and DNS1123.match(name), name


def test_the_filesystem_label_fits_ext4() -> None:
    assert len(filesystem_label("n" * 253 + "-0123456789abcdef").encode()) <= 16

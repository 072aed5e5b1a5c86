from __future__ import annotations

from typing import Any

import pytest

from stook_core.config.model import NicRef
from stook_core.hardware import Machine, Nic
from stook_core.units import GiB
from stook_installer.engine.files.network import network_files
from stook_installer.engine.preflight import check_machine, errors, find_nic
from support.install_engine import make_config, profile

BUSY_NICS = {"nics": ["eno1", "eno2"]}


def test_examples_fit_the_os_and_data_profile() -> None:
    for name in ("create", "join"):
        assert check_machine(make_config(name), profile("os-and-data")) == []


def test_too_small_disk_is_an_error_unless_skip_checks() -> None:
    # 60 GiB holds the partitions (OS, 32 GiB state, some data) but not the 50 GiB Longhorn
    # minimum: a policy skip_checks may waive.
    base = profile("no-usable-disk")
    small = base.disks[0].model_copy(update={"size": 60 * GiB})
    machine = Machine(disks=[small, *base.disks[1:]], nics=base.nics)
    shared: dict[str, Any] = {
        "install_disk": "/dev/sda", "data_disk": None, "persistent_size": "32Gi",
        "management_interface": {"nics": ["eno1"]},
    }  # fmt: skip
    problems = check_machine(make_config(**shared), machine)
    assert [p.path for p in errors(problems)] == ["install.install_disk"]
    assert "skip_checks" in problems[0].message
    skipped = check_machine(make_config(**shared, skip_checks=True), machine)
    assert errors(skipped) == [] and [p.severity for p in skipped] == ["warning"]


def test_skip_checks_never_waives_a_layout_larger_than_the_disk() -> None:
    # The 16 GB disk cannot hold the OS slots and a 32 GiB state partition at all.
    config = make_config(
        install_disk="/dev/sda", data_disk=None, persistent_size="32Gi", skip_checks=True,
        management_interface={"nics": ["eno1"]},
    )  # fmt: skip
    problems = errors(check_machine(config, profile("no-usable-disk")))
    assert [p.path for p in problems] == ["install.install_disk"]
    assert "skip_checks cannot waive" in problems[0].message


@pytest.mark.parametrize(
    ("field", "spec", "why"),
    [
        ("install_disk", "/dev/sdz", "/dev/sdz is the live medium the installer booted from"),
        ("install_disk", {"serial": "4C530001230516199999"}, "/dev/sdz is the live medium"),
        ("install_disk", "/dev/sda", "/dev/sda is in use (/dev/sda1 mounted at /mnt/backup)"),
        ("install_disk", "/dev/sdb", "/dev/sdb is in use (held by dm-0)"),
        ("install_disk", "largest", "/dev/nvme0n1 is in use (/dev/nvme0n1p1 is an active swap"),
        ("data_disk", "/dev/sdz", "/dev/sdz is the live medium the installer booted from"),
        ("data_disk", "/dev/sdb", "/dev/sdb is in use (held by dm-0)"),
        ("wipe_disks", ["/dev/sdz"], "/dev/sdz is the live medium the installer booted from"),
        ("wipe_disks", ["/dev/sda"], "/dev/sda is in use (/dev/sda1 mounted at /mnt/backup)"),
    ],
)
def test_a_disk_in_use_is_never_erased(field: str, spec: Any, why: str) -> None:
    fields: dict[str, Any] = {
        "install_disk": "/dev/nvme1n1", "data_disk": None, "persistent_size": "100Gi",
        "management_interface": BUSY_NICS, field: spec,
    }  # fmt: skip
    if field == "data_disk":
        fields["persistent_size"] = None
    problems = errors(check_machine(make_config(**fields), profile("busy-disks")))
    path = f"install.{field}" + ("[0]" if field == "wipe_disks" else "")
    assert [p.path for p in problems] == [path]
    assert why in problems[0].message


def test_the_free_disk_of_a_busy_machine_is_accepted() -> None:
    config = make_config(
        install_disk="/dev/nvme1n1", data_disk=None, persistent_size="100Gi",
        management_interface=BUSY_NICS,
    )  # fmt: skip
    assert check_machine(config, profile("busy-disks")) == []


def test_a_removable_wipe_disk_is_warned_about_under_its_own_field() -> None:
    base = profile("busy-disks")
    stick = base.disks[-1].model_copy(update={"live_medium": False, "mountpoints": []})
    machine = Machine(disks=[*base.disks[:-1], stick], nics=base.nics)
    config = make_config(
        install_disk="/dev/nvme1n1", data_disk=None, persistent_size="100Gi",
        wipe_disks=["/dev/sdz"], management_interface=BUSY_NICS,
    )  # fmt: skip
    problems = check_machine(config, machine)
    assert [(p.path, p.severity) for p in problems] == [("install.wipe_disks[0]", "warning")]
    assert "/dev/sdz is a removable disk" in problems[0].message


def test_missing_nic_is_an_error_and_unplugged_a_warning() -> None:
    config = make_config(
        management_interface={"nics": ["eno2", "eth9"]},
        install_disk="largest", data_disk=None, persistent_size="100Gi",
    )  # fmt: skip
    problems = check_machine(config, profile("four-nics"))
    assert [(p.path, p.severity) for p in problems] == [
        ("install.management_interface.nics[1]", "error"),
        ("install.management_interface.nics[0]", "warning"),
    ]
    assert "eth9 is not a NIC of this machine (NICs: ens1f0" in problems[0].message
    assert "cable not plugged" in problems[1].message


def test_name_and_mac_must_name_the_same_nic() -> None:
    config = make_config(
        management_interface={"nics": [{"name": "eno1", "mac": "3c:ec:ef:20:00:02"}]}
    )
    assert [p.severity for p in check_machine(config, profile("os-and-data"))] == ["error"]


def test_data_disk_resolving_to_install_disk_is_an_error() -> None:
    config = make_config(data_disk={"path": "/dev/sda"})
    problems = errors(check_machine(config, profile("os-and-data")))
    assert [p.path for p in problems] == ["install.data_disk"]


def test_bond_primary_must_be_one_of_the_nics_found_by_mac() -> None:
    # join.yaml names its NICs by MAC only, so only the machine can say what primary means.
    bond = {"mode": "active-backup", "options": {"primary": "eno3"}}
    nics = ["3c:ec:ef:20:00:01", "3c:ec:ef:20:00:02"]
    config = make_config("join", management_interface={"nics": nics, "bond": bond})
    problems = errors(check_machine(config, profile("os-and-data")))
    assert [p.path for p in problems] == ["install.management_interface.bond.options.primary"]
    assert "eno3 is not one of the chosen NICs (eno1, eno2)" in problems[0].message
    bond["options"] = {"primary": "eno2"}
    config = make_config("join", management_interface={"nics": nics, "bond": bond})
    assert errors(check_machine(config, profile("os-and-data"))) == []


# eno1 and eno2 enslaved to a bond by the live system: both carry eno1's MAC now.
BONDED = [
    Nic(name="eno1", mac="3c:ec:ef:20:00:01", permanent_mac="3c:ec:ef:20:00:01", link_up=True),
    Nic(name="eno2", mac="3c:ec:ef:20:00:01", permanent_mac="3c:ec:ef:20:00:02", link_up=True),
]


def test_a_mac_reference_resolves_against_the_permanent_mac() -> None:
    assert find_nic(NicRef(mac="3c:ec:ef:20:00:02"), BONDED) == BONDED[1]
    assert find_nic(NicRef(mac="3c:ec:ef:20:00:01"), BONDED) == BONDED[0]
    # a NIC without a permanent MAC is still found by its current one
    veth = Nic(name="veth0", mac="0a:58:0a:00:00:05")
    assert find_nic(NicRef(mac="0a:58:0a:00:00:05"), [veth]) == veth


def test_bonded_nics_are_ports_by_their_permanent_macs() -> None:
    machine = profile("os-and-data").model_copy(update={"nics": BONDED})
    config = make_config("join")  # NICs by MAC: 3c:ec:ef:20:00:01 and :02
    assert errors(check_machine(config, machine)) == []
    files = {f.path.rsplit("/", 1)[-1]: f.content for f in network_files(config.install, machine)}
    assert "PermanentMACAddress=3c:ec:ef:20:00:02" in files["20-mgmt-bo-port1.network"]
    assert "MACAddress=3c:ec:ef:20:00:01" in files["10-mgmt-bo.netdev"]


def test_a_nic_without_a_permanent_mac_is_a_port_by_name_with_a_warning() -> None:
    nics = [BONDED[0], Nic(name="eno2", mac="3c:ec:ef:20:00:02", link_up=True)]
    machine = profile("os-and-data").model_copy(update={"nics": nics})
    config = make_config("join")
    warnings = [p for p in check_machine(config, machine) if p.severity == "warning"]
    assert [p.path for p in warnings] == ["install.management_interface.nics[1]"]
    assert "eno2 reports no permanent MAC" in warnings[0].message
    files = {f.path.rsplit("/", 1)[-1]: f.content for f in network_files(config.install, machine)}
    assert "[Match]\nName=eno2\n" in files["20-mgmt-bo-port1.network"]

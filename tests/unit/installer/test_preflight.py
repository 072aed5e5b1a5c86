from __future__ import annotations

from stook_installer.engine.preflight import check_machine, errors
from support.install_engine import make_config, profile


def test_examples_fit_the_os_and_data_profile() -> None:
    for name in ("create", "join"):
        assert check_machine(make_config(name), profile("os-and-data")) == []


def test_too_small_disk_is_an_error_unless_skip_checks() -> None:
    machine = profile("no-usable-disk")
    config = make_config(
        install_disk="/dev/sda", data_disk=None, persistent_size="32Gi",
        management_interface={"nics": ["eno1"]},
    )  # fmt: skip
    problems = check_machine(config, machine)
    assert [p.path for p in errors(problems)] == ["install.install_disk"]
    assert "skip_checks" in problems[0].message
    lenient = make_config(
        install_disk="/dev/sda", data_disk=None, persistent_size="32Gi", skip_checks=True,
        management_interface={"nics": ["eno1"]},
    )  # fmt: skip
    skipped = check_machine(lenient, machine)
    assert errors(skipped) == [] and [p.severity for p in skipped] == ["warning"]


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

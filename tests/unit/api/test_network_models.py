"""The network kinds parse what the API server returns and canonicalize bond options with
stook_core.net.bond's table (the same values the install config takes)."""

from __future__ import annotations

import pytest

from stook_agent.api import ManagementChange, UplinkConfig
from stook_agent.api.meta import InvalidObjectError
from stook_agent.api.network import bond_name, bridge_name, network_label


def _uplink(**spec: object) -> dict[str, object]:
    return {
        "apiVersion": "stook.io/v1alpha1",
        "kind": "UplinkConfig",
        "metadata": {"name": "u1"},
        "spec": {"clusterNetwork": "vms", "nics": [{"mac": "52:54:00:AA:BB:CC"}]} | spec,
    }


def test_bond_options_are_canonical_and_macs_lowercase() -> None:
    bond = {"mode": "802.3ad", "options": {"lacp_rate": "1", "min_links": 2}}
    parsed = UplinkConfig.parse(_uplink(bond=bond))
    assert parsed.spec.bond.options == {"lacp_rate": "fast", "min_links": "2"}
    assert parsed.spec.nics[0].mac == "52:54:00:aa:bb:cc"
    assert str(parsed.spec.nics[0]) == "(52:54:00:aa:bb:cc)"


def test_a_bad_bond_option_names_the_option_and_the_rule() -> None:
    with pytest.raises(InvalidObjectError, match=r"spec\.bond\.options.*options\.lacp_rate: "
                       r"'turbo' is not allowed; lacp_rate takes slow, fast"):  # fmt: skip
        UplinkConfig.parse(_uplink(bond={"options": {"lacp_rate": "turbo"}}))
    with pytest.raises(InvalidObjectError, match=r"is set by bond\.miimon"):
        UplinkConfig.parse(_uplink(bond={"options": {"miimon": "100"}}))


def test_device_names_fit_ifnamsiz() -> None:
    assert bridge_name("twelve-chars") == "twelve-chars-br" and len(bond_name("twelve-chars")) == 15
    assert network_label("vms") == "network.stook.io/vms"


def test_a_management_change_defaults_to_one_node_at_a_time() -> None:
    change = ManagementChange.parse({"metadata": {"name": "c"}, "spec": {"mtu": 9000}})
    assert change.spec.max_concurrent == 1 and change.status.phase == "Pending"

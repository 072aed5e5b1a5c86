"""The core network model and its systemd-networkd renderer (stook_core.net), and the one
bonding-option table the config validator and the renderer share."""

from __future__ import annotations

from stook_core.config.model import Bond as BondConfig
from stook_core.net import (
    BOND_OPTIONS,
    Bond,
    Bridge,
    BridgePort,
    IpConfig,
    NetworkSetup,
    Port,
    render,
)
from stook_core.net.networkd import bond_entries
from stook_installer.engine.files.network import network_files
from support.install_engine import make_config


def _bond(**options: object) -> Bond:
    parsed = BondConfig.model_validate({"mode": "802.3ad", "options": options}).options
    return Bond("bo0", (Port("eno1", "3c:ec:ef:20:00:01"),), "802.3ad", options=parsed)


def test_numbers_the_kernel_takes_are_written_as_the_names_networkd_takes() -> None:
    # networkd's LACPTransmitRate= and AdSelect= take only names; "1" would be ignored.
    entries = dict(bond_entries(_bond(lacp_rate=1, ad_select="2", xmit_hash_policy=2)))
    assert entries["LACPTransmitRate"] == "fast"
    assert entries["AdSelect"] == "count"
    assert entries["TransmitHashPolicy"] == "layer2+3"


def test_arp_targets_are_space_separated_for_networkd() -> None:
    parsed = BondConfig.model_validate(
        {"miimon": 0, "options": {"arp_interval": 200, "arp_ip_target": "10.0.0.1, 10.0.0.2"}}
    ).options
    bond = Bond("bo0", (), "active-backup", 0, parsed)
    assert ("ARPIPTargets", "10.0.0.1 10.0.0.2") in bond_entries(bond)
    assert ("ARPIntervalSec", "200ms") in bond_entries(bond)


def test_peer_notification_count_is_written_once() -> None:
    entries = bond_entries(_bond(num_grat_arp=3, num_unsol_na=3))
    assert [key for key, _ in entries].count("GratuitousARP") == 1


def test_every_option_the_validator_takes_is_one_the_renderer_knows() -> None:
    # One table: an option is valid exactly when it is in BOND_OPTIONS, and each either has a
    # networkd key or is rendered elsewhere (primary) or only its kernel default is allowed.
    elsewhere = {name for name, option in BOND_OPTIONS.items() if option.networkd is None}
    assert elsewhere == {"primary", "use_carrier"}


def test_the_model_renders_without_an_install_config() -> None:
    # The agent's network controllers build these models from cluster objects.
    setup = NetworkSetup(
        bond=Bond("bo1", (Port(permanent_mac="52:54:00:00:00:01"), Port(name="eth1"))),
        bridge=Bridge("br1", (BridgePort("bo1", (20, 30)),)),
        ip=IpConfig(dhcp=False, address="10.1.0.5/24", gateway="10.1.0.1", dns=("10.1.0.1",)),
    )
    files = {unit.name: unit.text for unit in render(setup)}
    assert sorted(files) == [
        "10-bo1.netdev", "10-br1.netdev", "20-bo1-port0.network", "20-bo1-port1.network",
        "30-bo1.network", "30-br1.network",
    ]  # fmt: skip
    assert "[Match]\nName=eth1" in files["20-bo1-port1.network"]
    assert "[BridgeVLAN]\nVLAN=20\n\n[BridgeVLAN]\nVLAN=30\n" in files["30-bo1.network"]
    assert "Address=10.1.0.5/24\nGateway=10.1.0.1\nDNS=10.1.0.1" in files["30-br1.network"]


def test_primary_marks_the_named_port() -> None:
    config = make_config(
        "create",
        management_interface={"nics": ["eno1", "eno2"], "bond": {"options": {"primary": "eno2"}}},
    )
    files = {f.path.rsplit("/", 1)[-1]: f.content for f in network_files(config.install)}
    assert "PrimarySlave=yes" in files["20-mgmt-bo-port1.network"]
    assert "PrimarySlave" not in files["20-mgmt-bo-port0.network"]
    assert "primary" not in files["10-mgmt-bo.netdev"].lower()

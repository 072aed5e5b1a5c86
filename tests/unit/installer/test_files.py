from __future__ import annotations

from typing import Any

from stook_installer.engine.files.network import network_files
from stook_installer.engine.files.rke2 import rke2_config, rke2_files
from stook_installer.engine.files.system import proxy_files
from stook_installer.engine.files.users import Accounts, user_files
from support.install_engine import TOKEN, make_config


def by_path(files: list[Any]) -> dict[str, str]:
    return {f.path.rsplit("/", 1)[-1]: f.content for f in files}


def test_vlan_network_puts_the_node_ip_on_the_vlan_device() -> None:
    files = by_path(network_files(make_config("create").install))
    assert "Kind=bond" in files["10-mgmt-bo.netdev"]
    assert "VLANFiltering=yes" in files["10-mgmt-br.netdev"]
    assert "STP=no" in files["10-mgmt-br.netdev"]
    assert "Id=100" in files["10-mgmt-br.100.netdev"]
    assert "Address=10.0.100.11/24" in files["40-mgmt-br.100.network"]
    assert "[BridgeVLAN]\nVLAN=100" in files["30-mgmt-bo.network"]
    assert "MTUBytes=9000" in files["20-mgmt-bo-port0.network"]


def test_dhcp_without_vlan_on_the_bridge_with_nics_by_mac_and_bond_options() -> None:
    files = by_path(network_files(make_config("join").install))
    assert "DHCP=ipv4" in files["30-mgmt-br.network"]
    assert "PermanentMACAddress=3c:ec:ef:20:00:01" in files["20-mgmt-bo-port0.network"]
    assert "Mode=802.3ad" in files["10-mgmt-bo.netdev"]
    assert "LACPTransmitRate=fast" in files["10-mgmt-bo.netdev"]
    assert "TransmitHashPolicy=layer3+4" in files["10-mgmt-bo.netdev"]
    assert not any(name.endswith(".100.netdev") for name in files)


def test_bond_and_bridge_take_the_first_nics_mac_and_dhcp_identifies_by_it() -> None:
    files = by_path(network_files(make_config("join").install))
    assert "MACAddress=3c:ec:ef:20:00:01" in files["10-mgmt-bo.netdev"]
    assert "MACAddress=3c:ec:ef:20:00:01" in files["10-mgmt-br.netdev"]
    assert "[DHCPv4]\nClientIdentifier=mac" in files["30-mgmt-br.network"]


def test_rke2_create_has_vip_san_and_cluster_cidrs_and_kube_vip() -> None:
    spec = make_config("create").install
    config = rke2_config(spec)
    assert config["tls-san"][0] == "10.0.100.10" and config["cni"] == "canal"
    assert config["cluster-cidr"] == "10.52.0.0/16" and "server" not in config
    files = by_path(rke2_files(spec))
    assert "value: 10.0.100.10" in files["kube-vip.yaml"]
    assert "value: mgmt-br.100" in files["kube-vip.yaml"]


def test_rke2_join_roles() -> None:
    join = rke2_config(make_config("join").install)
    assert join["server"] == "https://10.0.100.10:9345" and join["token"] == TOKEN
    witness = rke2_config(make_config("join", role="witness").install)
    assert witness["node-taint"] == ["node-role.kubernetes.io/etcd=true:NoExecute"]
    worker = make_config("join", role="worker").install
    assert "kube-vip.yaml" not in by_path(rke2_files(worker))
    assert by_path(rke2_files(worker))["node.env"].startswith("STOOK_RKE2_TYPE=agent")


def test_users_keep_image_accounts_and_lock_password_without_one() -> None:
    base = Accounts(passwd="root:x:0:0::/root:/bin/sh\nsshd:x:100:65534::/run/sshd:/bin/false\n")
    files = by_path(user_files(make_config("join").install, base))
    assert files["passwd"].startswith("root:x:0:0") and "sshd:x:100" in files["passwd"]
    assert "stook:!:" in files["shadow"]
    assert "NOPASSWD" in files["50-stook"]
    assert "PasswordAuthentication no" in files["50-stook.conf"]


def test_shadow_files_are_root_shadow_0640_as_debian_ships_them() -> None:
    group = "root:x:0:\nshadow:x:42:\nsudo:x:27:alice\n"
    gshadow = "root:*::\nshadow:*::\nsudo:*::alice\n"
    written = {f.path: f for f in user_files(make_config("join").install, Accounts(
        group=group, gshadow=gshadow))}  # fmt: skip
    for name in ("/etc/shadow", "/etc/gshadow"):
        assert (written[name].mode, written[name].owner, written[name].gid) == (0o640, 0, 42)
    lines = written["/etc/gshadow"].content.splitlines()
    assert lines == ["root:*::", "shadow:*::", "sudo:*::alice,stook", "stook:!::"]
    # Without the image's gshadow it is derived from /etc/group, members included.
    derived = {f.path: f for f in user_files(make_config("join").install, Accounts(group=group))}
    assert "sudo:*::alice,stook" in derived["/etc/gshadow"].content.splitlines()
    # An image without a shadow group: root only, never readable by others.
    bare = {
        f.path: f for f in user_files(make_config("join").install, Accounts(group="root:x:0:\n"))
    }
    assert (bare["/etc/shadow"].mode, bare["/etc/shadow"].gid) == (0o640, 0)


def test_proxy_env_covers_cluster_networks_and_rke2_units() -> None:
    files = proxy_files(make_config("join").install)
    env = files[0].content
    assert "HTTP_PROXY=http://proxy.example:3128" in env
    assert "10.52.0.0/16" in env and ".svc" in env and ".example" in env
    assert {f.path for f in files[1:]} == {
        "/etc/systemd/system/rke2-server.service.d/50-proxy.conf",
        "/etc/systemd/system/rke2-agent.service.d/50-proxy.conf",
    }

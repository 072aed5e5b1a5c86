"""The PXE server playbook for real: ansible-playbook configures dnsmasq and nginx in a network
namespace from the example inventory (its vaulted token included); a second run changes
nothing; each node's boot script pins the SHA-256 of the config nginx serves to that node's
address only; TFTP serves Debian's iPXE; a broken inventory fails the play naming the host and
the field, and nothing is written."""

from __future__ import annotations

import hashlib
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from support.pxe import (
    EXAMPLE,
    SERVER,
    Namespace,
    ansible_playbook,
    namespace,
    pxe_vars,
    recap,
    shown,
)
from support.tiers import require_commands, require_root

NODE1_MAC = "52:54:00:5f:01:01"
EXAMPLE_TOKEN = "stook-example-token-4f1c9a2e7b"  # in inventory/example's vault


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    """Stand-ins for build-iso.sh --pxe's output (the e2e tier serves the real ones)."""
    folder = tmp_path / "pxe-artifacts"
    folder.mkdir()
    for name in ("vmlinuz", "initrd.img", "filesystem.squashfs"):
        (folder / name).write_bytes(f"{name} ".encode() * 1000)
    return folder


@pytest.fixture
def ns() -> Iterator[Namespace]:
    require_root()
    require_commands("ip", "dnsmasq", "nginx", "curl")
    with namespace(f"stook-pxe-{uuid.uuid4().hex[:6]}") as made:
        yield made


def curl(ns: Namespace, url: str, *options: str) -> tuple[str, bytes]:
    """(HTTP status, body) of a GET from inside the namespace."""
    out = ns.folder / "curl.out"
    result = ns.run("curl", "-sS", "--max-time", "10", "-o", str(out), "-w", "%{http_code}",
                    *options, url)  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout, out.read_bytes()


def test_the_pxe_server_serves_each_node_its_pinned_config_and_a_second_run_changes_nothing(
    ns: Namespace, artifacts: Path
) -> None:
    variables = pxe_vars(ns.folder, artifacts)
    first = ansible_playbook(ns, "pxe-server.yml", variables)
    assert first.returncode == 0, shown(first)
    assert recap(first.stdout)["pxe1"]["changed"] > 0, shown(first)
    second = ansible_playbook(ns, "pxe-server.yml", variables)
    assert second.returncode == 0, shown(second)
    assert recap(second.stdout)["pxe1"]["changed"] == 0, shown(second)

    # The iPXE entry point chains by MAC; the node's script boots the live system unattended.
    status, boot = curl(ns, f"http://{SERVER}/boot.ipxe")
    assert status == "200" and b"${netX/mac:hexhyp}.ipxe" in boot
    status, script = curl(ns, f"http://{SERVER}/boot/{NODE1_MAC.replace(':', '-')}.ipxe")
    assert status == "200", status
    kernel = next(line for line in script.decode().splitlines() if line.startswith("kernel "))
    assert f"fetch=http://{SERVER}/stook/filesystem.squashfs" in kernel
    assert "stook.install.automatic" in kernel
    pinned = re.search(r"stook\.install\.config_sha256=([0-9a-f]{64})", kernel)
    url = re.search(r"stook\.install\.config_url=(\S+)", kernel)
    assert pinned and url, kernel
    status, squashfs = curl(ns, f"http://{SERVER}/stook/filesystem.squashfs")
    assert (status, squashfs) == ("200", (artifacts / "filesystem.squashfs").read_bytes())

    # The config (it carries the token) goes to node1's reserved address only, as pinned.
    status, _ = curl(ns, url.group(1))
    assert status == "403", "a config served to an address that is not its node's"
    status, config = curl(ns, url.group(1), "--interface", "10.77.0.11")
    assert status == "200", status
    assert hashlib.sha256(config).hexdigest() == pinned.group(1)
    install = yaml.safe_load(config)["install"]
    assert (install["hostname"], install["token"], install["mode"]) == (
        "node1",
        EXAMPLE_TOKEN,
        "create",
    )
    assert install["management_interface"]["nics"] == [{"mac": NODE1_MAC}]
    status, _ = curl(ns, f"http://{SERVER}/configs/node2.yaml", "--interface", "10.77.0.11")
    assert status == "403", "node1 may fetch node2's config"

    # TFTP: Debian's iPXE for PXE ROMs that are not iPXE; dnsmasq leases node1 its address.
    status, kpxe = curl(ns, f"tftp://{SERVER}/undionly.kpxe")
    assert kpxe == Path("/usr/lib/ipxe/undionly.kpxe").read_bytes()
    dnsmasq = (ns.folder / "etc" / "dnsmasq.conf").read_text()
    assert f"dhcp-host={NODE1_MAC},10.77.0.11,node1" in dnsmasq
    assert EXAMPLE_TOKEN not in first.stdout + second.stdout, "the token in Ansible's output"


def test_a_broken_inventory_fails_the_play_naming_host_and_field_before_writing(
    ns: Namespace, artifacts: Path, tmp_path: Path
) -> None:
    inventory = tmp_path / "inventory"
    shutil.copytree(EXAMPLE, inventory)
    node2 = inventory / "host_vars" / "node2.yml"
    data = yaml.safe_load(node2.read_text())
    data["stook_node"]["macs"] = [NODE1_MAC]  # node1's NIC
    data["stook_node"]["data_disk"] = {"size": "biggest"}
    node2.write_text(yaml.safe_dump(data))

    result = ansible_playbook(ns, "pxe-server.yml", pxe_vars(ns.folder, artifacts), inventory)
    assert result.returncode != 0, shown(result)
    output = result.stdout + result.stderr
    assert "the Stook inventory is not valid: nothing was written" in output, shown(result)
    assert "stook_node.macs" in output and NODE1_MAC in output, shown(result)
    assert "node2" in output and "stook_node.data_disk.size" in output, shown(result)
    assert "Traceback" not in output
    assert not (ns.folder / "srv").exists(), "the play wrote files for a broken inventory"

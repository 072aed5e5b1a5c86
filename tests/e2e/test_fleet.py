"""Fleet installs for real (issue 15), on one provisioning network in a network namespace.

F1: ansible-playbook configures the playbooks' PXE server (dnsmasq: DHCP + TFTP, nginx: the live
system, per-MAC iPXE scripts, per-node install configs rendered by stook_core.fleet from the
example inventory, its token from ansible-vault) in the namespace; a blank QEMU node (node1)
whose NIC reaches the namespace through a tap device boots its iPXE ROM (Debian's ipxe-qemu),
gets its reserved address and boot script, boots the live system over HTTP, installs
unattended from its inventory-rendered config (pinned by SHA-256 on the kernel line), reboots
into its disk, and verify.yml (the shared testinfra checks) passes against it.

F2: node2 of the same inventory joins node1. RKE2 cannot run here, so node1 serves what a
joining node asks of the cluster through stand-ins: on node1, the cluster VIP (as kube-vip would
hold it) and tests/support/supervisor.py on port 9345 (RKE2's supervisor: /cacerts, /ping) with
a certificate the cluster CA signs; the Kubernetes API is the real test kube-apiserver (its CA
is the cluster CA), reached by node2 through its second NIC on QEMU's user network. A Node named
node2 already exists: node2's installer pins node1's CA to the token, verifies /ping and the API,
finds the name taken and stops before anything is written (its disks stay blank). A successful
join would go on to install and write the RKE2 config (the integration tier covers that path:
tests/integration/installer/test_join_preflight.py); it is not repeated here for time.

QEMU's user network is node2's path to the test API server only; DHCP, TFTP and HTTP are the
namespace's dnsmasq and nginx. The test process itself runs in the namespace (pyroute2 pushns),
so the API server it starts listens where node2's QEMU reaches it (10.0.2.2).
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from pyroute2 import netns

from support.apiserver import running_cluster, sign
from support.node_vm import NodeDisks, NodeVm, boot_healthy, passwordless_sudo
from support.os_image import VERSION, os_image
from support.pxe import EXAMPLE, Namespace, ansible_playbook, namespace, pxe_vars, recap, shown
from support.qemu import QEMU, BootTimeoutError, Ssh, free_port, running, serial_tail, wait_for
from support.tiers import require_commands, require_root

pytestmark = pytest.mark.timeout(3600)

NODE1_MAC, NODE2_MAC = "52:54:00:5f:01:01", "52:54:00:5f:02:01"  # inventory/example
NODE1_ADDRESS, VIP = "10.77.0.11", "10.77.0.100"
EXAMPLE_PASSWORD = "stook-Example-password-9"  # the example vault's hash is of this password
INSTALL_SECONDS = 1500.0  # TCG: iPXE + live boot ~90-180 s, image download + install ~120 s
JOIN_SECONDS = 900.0  # TCG: iPXE + live boot to the join check
SUPERVISOR = Path(__file__).resolve().parents[1] / "support" / "supervisor.py"
SSH_ARGS = "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
FAILED = tuple(f"installer exited with status {rc}" for rc in range(1, 6))


@dataclass(frozen=True)
class Fleet:
    ns: Namespace
    folder: Path
    key: Path
    node1: Ssh
    lan_port: int  # node1's QEMU hub listens here: the provisioning network for more VMs
    admin_keys: list[str]


def artifacts(folder: Path) -> Path:
    """build-iso.sh --pxe's layout (vmlinuz, initrd.img, filesystem.squashfs) of the e2e image."""
    image = os_image()
    folder.mkdir()
    (folder / "filesystem.squashfs").symlink_to(image)
    (folder / "vmlinuz").symlink_to(image.parent / f"vmlinuz-{VERSION}")
    (folder / "initrd.img").symlink_to(image.parent / f"initrd.img-{VERSION}")
    return folder


def node1_vm(disks: NodeDisks, folder: Path, lan_port: int) -> NodeVm:
    """node1: its NIC on a QEMU hub whose uplinks are the namespace's tap ``pxe0`` and a socket
    more VMs connect to (one L2 segment without a bridge); it boots iPXE (the NIC's ROM) when
    its disk cannot boot."""
    network = (
        "-netdev", "tap,id=tap,ifname=pxe0,script=no,downscript=no",
        "-netdev", "hubport,id=hub-tap,hubid=0,netdev=tap",
        "-netdev", f"socket,id=lan,listen=127.0.0.1:{lan_port}",
        "-netdev", "hubport,id=hub-lan,hubid=0,netdev=lan",
        "-netdev", "hubport,id=nic,hubid=0",
        "-device", f"virtio-net-pci,netdev=nic,mac={NODE1_MAC},bootindex=1",
    )  # fmt: skip
    return NodeVm(disks, folder, ssh_port=0, memory_mib=2048, network=network)


def node2_vm(disks: NodeDisks, folder: Path, lan_port: int) -> NodeVm:
    """node2: its NIC on node1's hub (PXE); a second NIC on the user network (no boot ROM)."""
    network = (
        "-netdev", f"socket,id=lan,connect=127.0.0.1:{lan_port}",
        "-device", f"virtio-net-pci,netdev=lan,mac={NODE2_MAC},bootindex=1",
        "-netdev", "user,id=user",
        "-device", "virtio-net-pci,netdev=user,mac=52:54:00:5f:02:99,romfile=",
    )  # fmt: skip
    return NodeVm(disks, folder, ssh_port=0, memory_mib=2048, network=network)


def nginx_log(ns: Namespace) -> str:
    log = ns.folder / "run" / "nginx-access.log"
    return f"nginx access log:\n{log.read_text()[-3000:]}" if log.exists() else "(no nginx log)"


def install(qemu: subprocess.Popen[bytes], log: Path, ns: Namespace) -> None:
    try:
        wait_for(qemu, log, "Install complete", INSTALL_SECONDS, unless=FAILED)
        qemu.wait(timeout=180)  # after_install: reboot, and QEMU runs with -no-reboot
    except (BootTimeoutError, subprocess.TimeoutExpired) as error:
        pytest.fail(f"the PXE install failed: {error}\n{nginx_log(ns)}")


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """The PXE server from the example inventory, and node1 installed from it and running."""
    require_root()
    require_commands(QEMU, "qemu-img", "ssh", "ssh-keygen", "ip", "dnsmasq", "nginx")
    folder = tmp_path_factory.mktemp("fleet")
    key = folder / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    admin_keys = [key.with_suffix(".pub").read_text().strip()]
    served = artifacts(folder / "pxe-artifacts")
    with namespace(f"stook-f-{uuid.uuid4().hex[:6]}", link="tap") as ns:
        netns.pushns(ns.name)  # see the module docstring
        try:
            started = time.monotonic()
            result = ansible_playbook(
                ns, "pxe-server.yml", pxe_vars(ns.folder, served, stook_admin_keys=admin_keys)
            )
            assert result.returncode == 0, shown(result)
            print(f"F1: pxe-server.yml {time.monotonic() - started:.0f} s {recap(result.stdout)}")

            lan_port = free_port()
            vm = node1_vm(NodeDisks.blank(folder / "node1"), folder, lan_port)
            install_log, boot_log = folder / "node1-install.log", folder / "node1-boot.log"
            started = time.monotonic()
            with running(ns.argv(*vm.argv(install_log)), install_log) as qemu:
                install(qemu, install_log, ns)
            print(f"F1: PXE boot + unattended install {time.monotonic() - started:.0f} s")
            assert f"{NODE1_ADDRESS} " in nginx_log(ns), "node1 fetched nothing from its address"

            ssh = Ssh(port=22, key=key, host=NODE1_ADDRESS, prefix=tuple(ns.argv()))
            started = time.monotonic()
            with running(ns.argv(*vm.argv(boot_log)), boot_log) as qemu:
                boot_healthy(ssh, qemu, boot_log, "F1 node1")
                passwordless_sudo(ssh, EXAMPLE_PASSWORD)
                print(f"F1: node1 booted {time.monotonic() - started:.0f} s")
                yield Fleet(ns, folder, key, ssh, lan_port, admin_keys)
        finally:
            netns.popns()


def test_f1_a_blank_node_pxe_installed_from_the_inventory_passes_verify(fleet: Fleet) -> None:
    started = time.monotonic()
    verify = ansible_playbook(fleet.ns, "verify.yml", {
        "ansible_ssh_private_key_file": str(fleet.key),
        "stook_version": VERSION,
        "stook_verify_ssh_args": SSH_ARGS,
    }, limit="node1")  # fmt: skip
    assert verify.returncode == 0, shown(verify)
    assert recap(verify.stdout)["node1"]["failed"] == 0
    print(f"F1: verify.yml {time.monotonic() - started:.0f} s")


def put(ssh: Ssh, path: str, data: bytes) -> None:
    """Write *data* to *path* on the node (root's), over the SSH command line."""
    encoded = base64.b64encode(data).decode()
    ssh.check(f"echo {encoded} | base64 -d | sudo -n tee {path} > /dev/null")


def serve_cluster_stand_ins(fleet: Fleet, pki: Path) -> None:
    """On node1: the VIP, and RKE2's supervisor stand-in on it with a cluster-signed certificate."""
    sign(pki, "supervisor", "/CN=rke2-supervisor", f"subjectAltName=IP:{VIP},IP:{NODE1_ADDRESS}")
    ssh = fleet.node1
    ssh.check("sudo -n mkdir -p /run/stook-f2")
    put(ssh, "/run/stook-f2/supervisor.py", SUPERVISOR.read_bytes())
    for name in ("ca.crt", "supervisor.crt", "supervisor.key"):
        put(ssh, f"/run/stook-f2/{name}", (pki / name).read_bytes())
    ssh.check(f"sudo -n ip addr add {VIP}/24 dev mgmt-br")
    ssh.check(
        "sudo -n setsid python3 /run/stook-f2/supervisor.py "
        f"--listen {VIP}:9345 --ca /run/stook-f2/ca.crt --cert /run/stook-f2/supervisor.crt "
        "--key /run/stook-f2/supervisor.key > /dev/null 2>&1 < /dev/null &"
    )
    deadline = time.monotonic() + 60
    while fleet.ns.run("curl", "-sk", "--max-time", "5", f"https://{VIP}:9345/ping").stdout != (
        "pong"
    ):
        assert time.monotonic() < deadline, "the supervisor stand-in on node1 does not answer"
        time.sleep(2)


def join_inventory(fleet: Fleet, api_url: str, api_token: str) -> Path:
    """The example inventory, with the join check's API (the test API server) and its token."""
    inventory = fleet.folder / "inventory"
    shutil.copytree(EXAMPLE, inventory)
    main = inventory / "group_vars" / "stook_nodes" / "main.yml"
    variables: dict[str, Any] = yaml.safe_load(main.read_text())
    variables["stook_cluster"]["api_token"] = api_token
    variables["stook_cluster"]["join_wait"] = 300
    main.write_text(yaml.safe_dump(variables))
    node2 = inventory / "host_vars" / "node2.yml"
    host: dict[str, Any] = yaml.safe_load(node2.read_text())
    host["stook_node"]["install"] = {"join_check": {"api_url": api_url}}
    node2.write_text(yaml.safe_dump(host))
    return inventory


def node_reader_token(admin: k8s.ApiClient) -> str:
    """A ServiceAccount token that may get nodes (docs/fleet.md: the join check's api_token)."""
    core, rbac = k8s.CoreV1Api(admin), k8s.RbacAuthorizationV1Api(admin)
    core.create_namespaced_service_account("default", {"metadata": {"name": "join-check"}})
    rule = {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]}
    rbac.create_cluster_role({"metadata": {"name": "join-check"}, "rules": [rule]})
    rbac.create_cluster_role_binding({
        "metadata": {"name": "join-check"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                    "name": "join-check"},
        "subjects": [{"kind": "ServiceAccount", "name": "join-check", "namespace": "default"}],
    })  # fmt: skip
    request = core.create_namespaced_service_account_token(
        "join-check", "default", {"spec": {"expirationSeconds": 3600}}
    )
    return str(request.status.token)


def untouched(disk: Path) -> bool:
    """No byte of the qcow2 disk was ever written."""
    result = subprocess.run(
        ["qemu-img", "map", "--output=json", str(disk)], capture_output=True, text=True,
        check=True, timeout=60,
    )  # fmt: skip
    return not any(extent["data"] for extent in json.loads(result.stdout))


def test_f2_a_joining_node_checks_the_first_node_and_refuses_a_taken_hostname(
    fleet: Fleet,
) -> None:
    with running_cluster(fleet.folder / "apiserver") as cluster:
        assert cluster.workdir is not None
        pki = cluster.workdir / "pki"
        admin = k8s_config.new_client_from_config(config_file=str(cluster.kubeconfig))
        api_token = node_reader_token(admin)
        k8s.CoreV1Api(admin).create_node({"metadata": {"name": "node2"}})  # the name is taken
        serve_cluster_stand_ins(fleet, pki)

        ca_hash = hashlib.sha256((pki / "ca.crt").read_bytes()).hexdigest()
        inventory = join_inventory(fleet, f"https://10.0.2.2:{cluster.port}", api_token)
        variables = pxe_vars(
            fleet.ns.folder, fleet.folder / "pxe-artifacts", stook_admin_keys=fleet.admin_keys,
            vault_stook_token=f"K10{ca_hash}::server:f2-{uuid.uuid4().hex}",
        )  # fmt: skip
        started = time.monotonic()
        result = ansible_playbook(fleet.ns, "pxe-server.yml", variables, inventory)
        assert result.returncode == 0, shown(result)
        assert recap(result.stdout)["pxe1"]["changed"] > 0, "the new inventory changed nothing"
        print(f"F2: pxe-server.yml (changed inventory) {time.monotonic() - started:.0f} s")

        disks = NodeDisks.blank(fleet.folder / "node2")
        vm = node2_vm(disks, fleet.folder, fleet.lan_port)
        log = fleet.folder / "node2-join.log"
        started = time.monotonic()
        with running(fleet.ns.argv(*vm.argv(log)), log) as qemu:
            try:
                text = wait_for(
                    qemu, log, "is already in the cluster", JOIN_SECONDS,
                    unless=("Install complete", "installer exited with status 1"),
                )  # fmt: skip
            except BootTimeoutError as error:
                pytest.fail(f"node2's join check: {error}\n{nginx_log(fleet.ns)}")
            wait_for(qemu, log, "installer exited with status 5", 120)
        print(f"F2: node2 PXE boot to the refused join {time.monotonic() - started:.0f} s")
        assert "the server's CA is the one the token names" in text, serial_tail(log)
        assert f"https://{VIP}:9345/ping" in text, serial_tail(log)
        assert "a node named node2 is already in the cluster" in text
        assert untouched(disks.os) and untouched(disks.data), "node2's disks were written"

"""The playbooks' PXE server for tests: a network namespace, ansible-playbook run inside it.

- ``Namespace``: a network namespace with a link the PXE server serves on (a veth pair for the
  integration tier, a tap device QEMU attaches to for e2e); everything started in it (dnsmasq,
  nginx, QEMU) sees only that network. Removing it stops the daemons the role started there.
- ``ansible_playbook``: the .venv's ansible-playbook (the one that can import stook_core) with
  playbooks/ansible.cfg, the example inventory's vault password file, and extra variables,
  inside the namespace; ``recap`` reads the PLAY RECAP (a second run must report changed=0).
- ``pxe_vars``: the role's variables for an unprivileged tree under a test folder (no apt, no
  systemd: pxe_service_manager=process).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOKS = ROOT / "playbooks"
EXAMPLE = PLAYBOOKS / "inventory" / "example"
VAULT_PASSWORD = EXAMPLE / "vault-password"
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
SERVER = "10.77.0.1"
PREFIX = 24
PLAYBOOK_SECONDS = 600
RECAP = re.compile(r"^(\S+)\s+:\s+((?:\w+=\d+\s*)+)$", re.MULTILINE)


def ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"ip {' '.join(args)}: {result.stderr}"


@dataclass(frozen=True)
class Namespace:
    name: str
    folder: Path  # the role's tree (pxe_vars) lives here

    def argv(self, *command: str) -> list[str]:
        return ["ip", "netns", "exec", self.name, *command]

    def run(self, *command: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(*command), capture_output=True, text=True, timeout=timeout, check=False
        )

    def stop_daemons(self) -> None:
        ctl = self.folder / "etc" / "ctl"
        if ctl.exists():
            for daemon in ("dnsmasq", "nginx"):
                subprocess.run([str(ctl), "stop", daemon], capture_output=True, check=False)


@contextmanager
def namespace(name: str, link: str = "veth") -> Iterator[Namespace]:
    """A namespace whose interface ``pxe0`` has the server's address. *link* ``veth``: its peer
    ``node0`` is in the namespace too (10.77.0.11, a stand-in node); ``tap``: a tap device
    named ``pxe0`` for QEMU's ``-netdev tap,ifname=pxe0`` run inside the namespace. Its folder
    (the role's tree) is /tmp/<name>, which dnsmasq's and nginx's users can reach (pytest's
    tmp dirs are root's only); removed at the end."""
    folder = Path(tempfile.gettempdir()) / name
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    ip("netns", "add", name)
    ns = Namespace(name, folder)
    try:
        ip("-n", name, "link", "set", "lo", "up")
        if link == "veth":
            ip("-n", name, "link", "add", "pxe0", "type", "veth", "peer", "name", "node0")
            ip("-n", name, "addr", "add", f"10.77.0.11/{PREFIX}", "dev", "node0")
            ip("-n", name, "link", "set", "node0", "up")
        else:
            ip("-n", name, "tuntap", "add", "pxe0", "mode", "tap")
        ip("-n", name, "addr", "add", f"{SERVER}/{PREFIX}", "dev", "pxe0")
        ip("-n", name, "link", "set", "pxe0", "up")
        yield ns
    finally:
        ns.stop_daemons()
        subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)
        shutil.rmtree(folder, ignore_errors=True)


def pxe_vars(folder: Path, artifacts: Path, **more: Any) -> dict[str, Any]:
    """The role's variables for a PXE server under *folder* serving on ``pxe0``."""
    return {
        "ansible_connection": "local",
        "ansible_python_interpreter": sys.executable,
        "pxe_become": False,
        "pxe_install_packages": False,
        "pxe_service_manager": "process",
        "pxe_interface": "pxe0",
        "pxe_server_address": SERVER,
        "pxe_root": str(folder / "srv"),
        "pxe_etc": str(folder / "etc"),
        "pxe_run": str(folder / "run"),
        "stook_pxe_artifacts": str(artifacts),
        **more,
    }


def ansible_playbook(
    ns: Namespace | None,
    playbook: str,
    extra_vars: dict[str, Any],
    inventory: Path = EXAMPLE,
    *,
    limit: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """``ansible-playbook`` of playbooks/<playbook> (inside *ns* when given); not checked."""
    argv = [
        str(ANSIBLE_PLAYBOOK), "-i", str(inventory), str(PLAYBOOKS / playbook),
        "--vault-password-file", str(VAULT_PASSWORD), "-e", json.dumps(extra_vars),
    ]  # fmt: skip
    if limit is not None:
        argv += ["--limit", limit]
    env = {
        "ANSIBLE_CONFIG": str(PLAYBOOKS / "ansible.cfg"),
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCAL_TEMP": str(ns.folder / "ansible-tmp") if ns else "/tmp",
        "PATH": f"{ANSIBLE_PLAYBOOK.parent}:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": str(Path.home()),
    }
    command = ns.argv(*argv) if ns is not None else argv
    return subprocess.run(
        command, capture_output=True, text=True, timeout=PLAYBOOK_SECONDS, env=env, check=False
    )


def recap(output: str) -> dict[str, dict[str, int]]:
    """PLAY RECAP: host -> {ok, changed, failed, ...}."""
    found: dict[str, dict[str, int]] = {}
    for host, counts in RECAP.findall(output):
        found[host] = {k: int(v) for k, v in (pair.split("=") for pair in counts.split())}
    return found


def shown(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}"

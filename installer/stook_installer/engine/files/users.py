"""The admin user ``stook``: password hash, SSH keys, sudo; password SSH logins off.

/etc sits on an overlay whose lower layer is the read-only OS image, so the installer writes
complete /etc/passwd, /etc/shadow and /etc/group into the upper layer: the image's own files
(read from the image by ``image.read_accounts``) plus the admin user.
"""

from __future__ import annotations

from dataclasses import dataclass

from stook_core.config.model import InstallSpec
from stook_installer.engine.nodefile import NodeFile

ADMIN, ADMIN_UID, ADMIN_HOME = "stook", 1000, "/home/stook"
ADMIN_GROUPS = ("sudo", "adm", "systemd-journal")


@dataclass(frozen=True)
class Accounts:
    """The OS image's account files (a minimal root-only set when the image has none)."""

    passwd: str = "root:x:0:0:root:/root:/bin/bash\n"
    shadow: str = "root:*:19000:0:99999:7:::\n"
    group: str = "root:x:0:\nsudo:x:27:\nadm:x:4:\nsystemd-journal:x:999:\n"


def _without(text: str, name: str) -> list[str]:
    return [line for line in text.splitlines() if line and line.split(":", 1)[0] != name]


def _groups(text: str) -> str:
    lines = []
    for line in _without(text, ADMIN):
        name, password, gid, members = [*line.split(":"), "", "", ""][:4]
        if name in ADMIN_GROUPS:
            listed = [m for m in members.split(",") if m and m != ADMIN]
            members = ",".join([*listed, ADMIN])
        lines.append(f"{name}:{password}:{gid}:{members}")
    lines.append(f"{ADMIN}:x:{ADMIN_UID}:")
    return "\n".join(lines) + "\n"


def user_files(spec: InstallSpec, base: Accounts) -> list[NodeFile]:
    password = spec.password.get_secret_value() if spec.password else None
    passwd = _without(base.passwd, ADMIN)
    passwd.append(f"{ADMIN}:x:{ADMIN_UID}:{ADMIN_UID}:Stook admin:{ADMIN_HOME}:/bin/bash")
    shadow = _without(base.shadow, ADMIN)
    # "!" locks password login (keys still work) when no password was given.
    shadow.append(f"{ADMIN}:{password or '!'}:19000:0:99999:7:::")
    sudo = f"{ADMIN} ALL=(ALL:ALL) {'ALL' if password else 'NOPASSWD: ALL'}\n"
    keys = "".join(f"{key}\n" for key in spec.ssh_authorized_keys)
    sshd = (
        "# Written by the Stook installer: SSH keys only.\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "PermitRootLogin prohibit-password\n"
    )
    return [
        NodeFile("/etc/passwd", "\n".join(passwd) + "\n"),
        NodeFile("/etc/shadow", "\n".join(shadow) + "\n", mode=0o600, secrets=(password or "",)),
        NodeFile("/etc/group", _groups(base.group)),
        NodeFile("/etc/sudoers.d/50-stook", sudo, mode=0o440),
        NodeFile(ADMIN_HOME, mode=0o750, directory=True, owner=ADMIN_UID),
        NodeFile(f"{ADMIN_HOME}/.ssh", mode=0o700, directory=True, owner=ADMIN_UID),
        NodeFile(f"{ADMIN_HOME}/.ssh/authorized_keys", keys, mode=0o600, owner=ADMIN_UID),
        NodeFile("/etc/ssh/sshd_config.d/50-stook.conf", sshd),
    ]

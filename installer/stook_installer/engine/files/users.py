"""The admin user ``stook``: password hash, SSH keys, sudo; password SSH logins off.

/etc sits on an overlay whose lower layer is the read-only OS image, so the installer writes
complete /etc/passwd, /etc/shadow, /etc/group and /etc/gshadow into the upper layer: the image's
own files (read from the image by ``image.read_accounts``) plus the admin user. Modes and owners
are Debian's: passwd and group 0644 root:root, shadow and gshadow 0640 root:shadow (the shadow
group's id is looked up in the image's /etc/group: unix_chkpwd and friends read through it).
"""

from __future__ import annotations

from dataclasses import dataclass

from stook_core.config.model import InstallSpec
from stook_installer.engine.nodefile import NodeFile

ADMIN, ADMIN_UID, ADMIN_HOME = "stook", 1000, "/home/stook"
ADMIN_GROUPS = ("sudo", "adm", "systemd-journal")
SHADOW_GROUP = "shadow"
SHADOW_MODE = 0o640


@dataclass(frozen=True)
class Accounts:
    """The OS image's account files (a minimal set when the image lacks one). An empty
    *gshadow* is derived from *group* (every group without a password, as Debian's)."""

    passwd: str = "root:x:0:0:root:/root:/bin/bash\n"
    shadow: str = "root:*:19000:0:99999:7:::\n"
    group: str = "root:x:0:\nsudo:x:27:\nadm:x:4:\nshadow:x:42:\nsystemd-journal:x:999:\n"
    gshadow: str = ""


def _without(text: str, name: str) -> list[str]:
    return [line for line in text.splitlines() if line and line.split(":", 1)[0] != name]


def _fields(line: str, count: int) -> list[str]:
    return [*line.split(":"), *[""] * count][:count]


def _with_admin(lines: list[str], members_at: int) -> list[str]:
    """Add the admin user to the member list (field *members_at*) of each ADMIN_GROUPS entry."""
    out = []
    for line in lines:
        fields = _fields(line, members_at + 1)
        if fields[0] in ADMIN_GROUPS:
            listed = [m for m in fields[members_at].split(",") if m and m != ADMIN]
            fields[members_at] = ",".join([*listed, ADMIN])
        out.append(":".join(fields))
    return out


def _groups(text: str) -> str:
    lines = _with_admin(_without(text, ADMIN), members_at=3)
    return "\n".join([*lines, f"{ADMIN}:x:{ADMIN_UID}:"]) + "\n"


def _gshadow(base: Accounts) -> str:
    """name:password:admins:members; "!" (no group password) for the admin group."""
    source = base.gshadow or "".join(
        f"{_fields(line, 4)[0]}:*::{_fields(line, 4)[3]}\n" for line in base.group.splitlines()
    )
    lines = _with_admin(_without(source, ADMIN), members_at=3)
    return "\n".join([*lines, f"{ADMIN}:!::"]) + "\n"


def group_id(group_text: str, name: str) -> int | None:
    """The gid of group *name* in an /etc/group text; None when it is not there."""
    for line in group_text.splitlines():
        fields = _fields(line, 3)
        if fields[0] == name and fields[2].isdigit():
            return int(fields[2])
    return None


def user_files(spec: InstallSpec, base: Accounts) -> list[NodeFile]:
    password = spec.password.get_secret_value() if spec.password else None
    passwd = _without(base.passwd, ADMIN)
    passwd.append(f"{ADMIN}:x:{ADMIN_UID}:{ADMIN_UID}:Stook admin:{ADMIN_HOME}:/bin/bash")
    shadow = _without(base.shadow, ADMIN)
    # "!" locks password login (keys still work) when no password was given.
    shadow.append(f"{ADMIN}:{password or '!'}:19000:0:99999:7:::")
    # An image without a shadow group: root only (0640 root:root), still closed to others.
    shadow_gid = group_id(base.group, SHADOW_GROUP) or 0
    sudo = f"{ADMIN} ALL=(ALL:ALL) {'ALL' if password else 'NOPASSWD: ALL'}\n"
    keys = "".join(f"{key}\n" for key in spec.ssh_authorized_keys)
    sshd = (
        "# Written by the Stook installer: SSH keys only.\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "PermitRootLogin prohibit-password\n"
    )
    secret = (password or "",)
    return [
        NodeFile("/etc/passwd", "\n".join(passwd) + "\n"),
        NodeFile("/etc/shadow", "\n".join(shadow) + "\n", SHADOW_MODE, secret, group=shadow_gid),
        NodeFile("/etc/group", _groups(base.group)),
        NodeFile("/etc/gshadow", _gshadow(base), SHADOW_MODE, group=shadow_gid),
        NodeFile("/etc/sudoers.d/50-stook", sudo, mode=0o440),
        NodeFile(ADMIN_HOME, mode=0o750, directory=True, owner=ADMIN_UID),
        NodeFile(f"{ADMIN_HOME}/.ssh", mode=0o700, directory=True, owner=ADMIN_UID),
        NodeFile(f"{ADMIN_HOME}/.ssh/authorized_keys", keys, mode=0o600, owner=ADMIN_UID),
        NodeFile("/etc/ssh/sshd_config.d/50-stook.conf", sshd),
    ]

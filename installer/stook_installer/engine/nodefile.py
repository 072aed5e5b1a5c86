"""A file (or symlink) the installer writes into the installed node's persistent state.

Contents may hold secrets (the token, the password hash); ``secrets`` lists them so that
``shown()`` — what --dry-run prints and what events mention — never contains them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath

from stook_core.problems import REDACTED


@dataclass(frozen=True)
class NodeFile:
    path: str
    content: str = field(default="", repr=False)
    mode: int = 0o644
    secrets: tuple[str, ...] = field(default=(), repr=False)
    link_to: str | None = None
    directory: bool = False
    owner: int = 0
    group: int | None = None  # gid; None = the owner's

    @property
    def gid(self) -> int:
        return self.owner if self.group is None else self.group

    def __post_init__(self) -> None:
        if not PurePosixPath(self.path).is_absolute() or ".." in PurePosixPath(self.path).parts:
            raise ValueError(f"node file path must be absolute without '..': {self.path}")

    @property
    def data(self) -> bytes:
        return self.content.encode("utf-8")

    def shown(self) -> str:
        """The content with every secret replaced by the redaction placeholder."""
        text = self.content
        for secret in sorted(self.secrets, key=len, reverse=True):
            if secret:
                text = text.replace(secret, REDACTED)
        return text

    def header(self) -> str:
        if self.link_to is not None:
            return f"symlink {self.path} -> {self.link_to}"
        owner = f", owner {self.owner}" if self.owner else ""
        if self.gid != self.owner:
            owner += f", group {self.gid}"
        if self.directory:
            return f"mkdir {self.path} (mode {self.mode:04o}{owner})"
        secret = ", secrets redacted" if self.secrets else ""
        return f"write {self.path} (mode {self.mode:04o}{owner}, {len(self.data)} bytes{secret})"


def enable_unit(unit: str, target: str) -> NodeFile:
    """The symlink ``systemctl enable`` would make for a unit in /etc/systemd/system."""
    return NodeFile(
        f"/etc/systemd/system/{target}.wants/{unit}", link_to=f"/etc/systemd/system/{unit}"
    )

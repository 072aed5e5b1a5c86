"""Mode (create a cluster or join one) and role (the flow asks it only when joining)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.widgets import RadioSet

from stook_installer.tui.page import Page
from stook_installer.tui.widgets import chosen, radio_set

MODES = (
    ("create", "Create a new cluster (this is the first node)"),
    ("join", "Join an existing cluster"),
)
ROLES = (
    ("default", "default: control plane when the cluster needs one, else worker"),
    ("management", "management: always runs the control plane"),
    ("worker", "worker: runs workloads only"),
    ("witness", "witness: etcd only, for a quorum (no workloads)"),
)


class ModePage(Page):
    heading = "Installation mode"
    help_text = "Move with the arrow keys, choose with Enter or Space, then Ctrl+N or Next."
    owns = ("install.mode",)

    def paths(self) -> tuple[str, ...]:
        # Creating skips the role page, so a role that needs join (a seed's) is reported here.
        return (*self.owns, "install.role") if self.wizard.mode == "create" else self.owns

    async def before_next(self) -> bool:
        """Forget the answers only the other mode uses (create has a VIP, join a server URL)."""
        self.wizard.set(
            "install.server_url" if self.wizard.mode == "create" else "install.vip", None
        )
        return True

    def form(self) -> ComposeResult:
        yield radio_set(MODES, self.wizard.mode, "mode")

    def store(self) -> None:
        self.wizard.set("install.mode", chosen(self.query_one("#mode", RadioSet)))


class RolePage(Page):
    heading = "Node role"
    help_text = "The role of this node in the cluster it joins."
    owns: ClassVar[tuple[str, ...]] = ("install.role",)

    def form(self) -> ComposeResult:
        yield radio_set(ROLES, str(self.wizard.get("install.role", "default")), "role")

    def store(self) -> None:
        self.wizard.set("install.role", chosen(self.query_one("#role", RadioSet)))

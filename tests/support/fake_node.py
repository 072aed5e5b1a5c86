"""A node's boot view as files under tmp_path (the test double of the stook-os unit tests): a
directory standing in for the ESP, a fake /proc/cmdline, a fake /etc/os-release and the lock
file stook-os's writers share."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from stook_core.boot import cli, slots, store

FAKE_CMDLINE_A = "root=PARTLABEL=STOOK_A rootfstype=squashfs ro stook.slot=A panic=10"
FAKE_CMDLINE_B = "root=PARTLABEL=STOOK_B rootfstype=squashfs ro stook.slot=B panic=10"


class FakeNode:
    """An ESP directory, a fake /proc/cmdline and a fake /etc/os-release under tmp_path."""

    def __init__(self, tmp_path: Path, env: slots.BootEnv, cmdline: str, version: str) -> None:
        self.esp = tmp_path / "esp"
        self.store = store.EnvStore(self.esp)
        self.store.create(env.to_grubenv())
        self.cmdline = tmp_path / "fake_proc_cmdline"
        self.cmdline.write_text(cmdline + "\n")
        self.os_release = tmp_path / "fake_os_release"
        self.os_release.write_text(f'NAME="Stook OS"\nVERSION="{version}"\n')
        self.lock = tmp_path / "stook-os.lock"
        self.status_file = tmp_path / "run" / "boot-status.json"

    def run(self, *args: str) -> int:
        return cli.main([*self.options(), *args])

    def options(self) -> list[str]:
        """stook-os's path options pointing here."""
        return [
            "--esp", str(self.esp), "--cmdline", str(self.cmdline), "--lock", str(self.lock),
            "--os-release", str(self.os_release), "--status-file", str(self.status_file),
        ]  # fmt: skip

    def env(self) -> slots.BootEnv:
        return slots.BootEnv.from_grubenv(self.store.load().env)


def booted_a(env: slots.BootEnv | None = None) -> slots.BootEnv:
    """Installed with 1.0 in A, booted A, marked good."""
    env = env or slots.mark_good(slots.grub_pick(slots.initial_state("1.0")).env, "A")
    return replace(env, booted="A")

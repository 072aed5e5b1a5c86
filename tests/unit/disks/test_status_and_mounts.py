"""Status patches and mount-unit names: small pure helpers of the disk controller."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from stook_agent.disks.mounts import MountPlan, unit_name
from stook_agent.disks.status import merge_patch
from support.tiers import require_commands


def test_merge_patch_nulls_removed_keys_and_skips_unchanged() -> None:
    old = {"state": "Active", "deviceStatus": {"devPath": "/dev/sdb", "fileSystem": {"x": 1}}}
    new = {"state": "Active", "deviceStatus": {"devPath": "/dev/sdc"}}
    assert merge_patch(old, new) == {"deviceStatus": {"devPath": "/dev/sdc", "fileSystem": None}}
    assert merge_patch(new, new) is None


@pytest.mark.parametrize(
    "path", ["/var/lib/stook/disks/node-1-0123abcd", "/var/lib/a.b/c_d:e", "/srv/x y"]
)
def test_unit_names_match_systemd_escape(path: str) -> None:
    require_commands("systemd-escape")  # the expected values come from systemd itself
    expected = subprocess.run(
        ["systemd-escape", "--path", "--suffix=mount", path], capture_output=True, text=True
    ).stdout.strip()
    assert unit_name(path) == expected


def test_mount_unit_is_written_under_the_host_root(tmp_path: Path) -> None:
    plan = MountPlan(tmp_path, "/var/lib/stook/disks")
    plan.persist("n-1", "1234-abcd")
    unit = plan.unit_path("n-1")
    assert unit.is_relative_to(tmp_path / "etc/systemd/system")
    text = unit.read_text()
    assert "What=/dev/disk/by-uuid/1234-abcd\n" in text and "Options=defaults,nofail\n" in text
    assert plan.wants_link("n-1").resolve() == unit.resolve()
    plan.forget("n-1")
    assert not unit.exists() and not plan.wants_link("n-1").is_symlink()

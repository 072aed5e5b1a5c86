"""The e2e tier's upgrade images (tests/support/os_image.py) on a small real squashfs: a
derived image carries its own VERSION and leaves out what a broken build lacks, and a build
prunes only the cached builds its own checkout made (the cache is shared by every checkout)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from support.os_image import OWNER, ROOT, Variant, derive, image_sha256, prune_own, sha256_file
from support.tiers import require_commands

OS_RELEASE = (
    'PRETTY_NAME="Stook OS 0.1.0 (Debian 12)"\nNAME="Stook OS"\nVERSION="0.1.0"\n'
    'VERSION_ID="0.1.0"\n'
)


def cat(image: Path, name: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["unsquashfs", "-cat", str(image), name], capture_output=True, text=True, check=False
    )


def test_a_derived_image_has_its_version_and_lacks_what_the_broken_build_left_out(
    tmp_path: Path,
) -> None:
    require_commands("mksquashfs", "unsquashfs")
    tree = tmp_path / "tree"
    (tree / "usr" / "lib").mkdir(parents=True)
    (tree / "usr" / "sbin").mkdir()
    (tree / "usr" / "lib" / "os-release").write_text(OS_RELEASE)
    (tree / "usr" / "sbin" / "sshd").write_text("#!/bin/sh\n")
    base = tmp_path / "cache" / "stook-os-0.1.0.squashfs"
    base.parent.mkdir()
    subprocess.run(["mksquashfs", str(tree), str(base), "-quiet", "-no-progress"], check=True)

    image = derive(base, Variant("0.3.0-broken", left_out=("usr/sbin/sshd",)))

    assert image == base.parent / "stook-os-0.3.0-broken.squashfs"
    release = cat(image, "usr/lib/os-release").stdout
    assert 'VERSION="0.3.0-broken"' in release and 'VERSION_ID="0.3.0-broken"' in release
    assert 'PRETTY_NAME="Stook OS 0.3.0-broken (Debian 12)"' in release
    assert 'NAME="Stook OS"' in release
    assert cat(image, "usr/sbin/sshd").returncode != 0
    assert image_sha256(image) == sha256_file(image)
    assert sorted(p.name for p in base.parent.iterdir()) == [
        base.name,
        image.name,
        f"{image.name}.sha256",
    ]  # no work folder left behind
    assert derive(base, Variant("0.3.0-broken")) == image  # cached: made once


def test_a_build_prunes_only_the_older_builds_of_its_own_checkout(tmp_path: Path) -> None:
    keep, mine, theirs, unmarked = (tmp_path / name for name in ("new", "old", "other", "legacy"))
    for folder in (keep, mine, theirs, unmarked):
        folder.mkdir()
        (folder / "stook-os.squashfs").write_bytes(b"x")
    (keep / OWNER).write_text(f"{ROOT}\n")
    (mine / OWNER).write_text(f"{ROOT}\n")
    (theirs / OWNER).write_text("/work/wt/someone-else\n")
    in_progress = tmp_path / "new.partial.12345"  # another process's build, still running
    in_progress.mkdir()

    prune_own(keep)

    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "legacy",
        "new",
        "new.partial.12345",
        "other",
    ]

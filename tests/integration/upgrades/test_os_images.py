"""The e2e tier's upgrade images (tests/support/os_image.py) on a small real squashfs: a
derived image carries its own VERSION and leaves out what a broken build lacks, and a build
prunes only the cached builds its own checkout made (the cache is shared by every checkout)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from support.os_image import (
    OWNER,
    ROOT,
    Variant,
    derive,
    derive_all,
    image_sha256,
    prune_own,
    sha256_file,
)
from support.tiers import require_commands

OS_RELEASE = (
    'PRETTY_NAME="Stook OS 0.1.0 (Debian 12)"\nNAME="Stook OS"\nVERSION="0.1.0"\n'
    'VERSION_ID="0.1.0"\n'
)


def cat(image: Path, name: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["unsquashfs", "-cat", str(image), name], capture_output=True, text=True, check=False
    )


def v1(folder: Path) -> Path:
    """A small v1 image: os-release and an sshd."""
    require_commands("mksquashfs", "unsquashfs")
    tree = folder / "tree"
    (tree / "usr" / "lib").mkdir(parents=True)
    (tree / "usr" / "sbin").mkdir()
    (tree / "usr" / "lib" / "os-release").write_text(OS_RELEASE)
    (tree / "usr" / "sbin" / "sshd").write_text("#!/bin/sh\n")
    base = folder / "cache" / "stook-os-0.1.0.squashfs"
    base.parent.mkdir()
    subprocess.run(["mksquashfs", str(tree), str(base), "-quiet", "-no-progress"], check=True)
    return base


def test_a_derived_image_has_its_version_and_lacks_what_the_broken_build_left_out(
    tmp_path: Path,
) -> None:
    base = v1(tmp_path)

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


def test_the_upgrade_images_made_from_one_unpacked_v1_each_keep_only_their_own_edits(
    tmp_path: Path,
) -> None:
    base = v1(tmp_path)
    made: list[str] = []

    good, broken = derive_all(
        base, (Variant("0.2.0"), Variant("0.3.0-broken", left_out=("usr/sbin/sshd",))), made.append
    )

    assert 'VERSION="0.2.0"' in cat(good, "usr/lib/os-release").stdout
    assert cat(good, "usr/sbin/sshd").stdout == "#!/bin/sh\n"  # v3's edit is v3's only
    assert 'VERSION="0.3.0-broken"' in cat(broken, "usr/lib/os-release").stdout
    assert cat(broken, "usr/sbin/sshd").returncode != 0
    assert 'VERSION="0.1.0"' in cat(base, "usr/lib/os-release").stdout
    assert [line.split()[0] for line in made] == [str(good), str(broken)]  # progress, per image
    superblock = subprocess.run(
        ["unsquashfs", "-s", str(good)], capture_output=True, text=True, check=True
    ).stdout
    assert "Compression gzip" in superblock and "compression-level 6" in superblock, superblock
    assert derive_all(base, (Variant("0.2.0"),), made.append) == [good]
    assert len(made) == 2  # made once


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

"""The real node OS images for e2e tests.

- ``os_image()``: v1, ``STOOK_OS_IMAGE`` (a squashfs built by iso-build/build-rootfs.sh), else
  built once with that script and cached under ``~/.cache/stook/e2e/<hash of iso-build/ and
  the Python sources>/`` (STOOK_CACHE moves it).
- ``derived_image(V2)``, ``derived_image(V3)``: the upgrade targets, made from v1 by re-running
  the build's last stages (os-release with another VERSION, then the squashfs) on v1's unpacked
  tree, so a fresh machine pays one more ``mksquashfs`` each (~20 s at gzip level 6), not
  another Debian rootfs; ``derive_all`` unpacks v1 once for both (scripts/setup.d/os-image.sh
  makes all three before pytest). V3 is a broken build: its kernel and userspace boot, but it
  ships without the OpenSSH server, so the required boot check stook-health-sshd.service fails
  and the real ``stook-boot-failed`` path runs (GRUB falls back). Cached next to v1.

The cache is shared by every checkout on the machine: a build prunes only the older builds that
this checkout made (each build folder names its maker in ``.owner``), never another's.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from support.tiers import require_commands, require_tier

ROOT = Path(__file__).resolve().parents[2]
VERSION = "0.1.0-e2e"
SOURCES = ("iso-build", "core", "installer", "node-agent", "pyproject.toml")
BUILD_SECONDS = 1800  # cold: Debian rootfs (mmdebstrap) + wheels; warm: about 2 min
DERIVE_SECONDS = 900  # unsquashfs + mksquashfs of the ~270 MB image: 25 s idle, more under load
GZIP_LEVEL = "6"  # as build-rootfs.sh packs it (docs/decisions.md 57)
OWNER = ".owner"


@dataclass(frozen=True)
class Variant:
    """An image derived from v1: another VERSION and, for a broken build, files left out."""

    version: str
    left_out: tuple[str, ...] = ()  # paths in the tree (relative) the build "forgot"


V2 = Variant("0.2.0-e2e")
V3 = Variant("0.3.0-e2e", left_out=("usr/sbin/sshd",))  # boot check stook-health-sshd fails
V3_FAILED_CHECK = "stook-health-sshd.service"


def source_hash() -> str:
    digest = hashlib.sha256()
    for top in SOURCES:
        base = ROOT / top
        files = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file())
        for path in files:
            if "__pycache__" in path.parts or path.suffix == ".pyc":
                continue
            digest.update(str(path.relative_to(ROOT)).encode() + b"\0")
            digest.update(path.read_bytes())
            digest.update(b"\1" if os.access(path, os.X_OK) else b"\0")
    return digest.hexdigest()[:16]


def cache_root() -> Path:
    return Path(os.environ.get("STOOK_CACHE", Path.home() / ".cache" / "stook")) / "e2e"


def os_image(*, stream: bool = False) -> Path:
    """The squashfs to install (building it when needed; root and mmdebstrap required).
    *stream* shows the build's progress instead of keeping it for a failure message."""
    given = os.environ.get("STOOK_OS_IMAGE")
    if given:
        image = Path(given)
        require_tier(image.is_file(), f"STOOK_OS_IMAGE={given}", "point it at a built squashfs")
        return image
    require_tier(
        shutil.which("mmdebstrap") is not None and shutil.which("mksquashfs") is not None,
        "mmdebstrap and mksquashfs (to build the OS image)",
        "apt-get install -y mmdebstrap squashfs-tools, or set STOOK_OS_IMAGE",
    )
    out = cache_root() / source_hash()
    image = out / f"stook-os-{VERSION}.squashfs"
    if image.is_file():
        return image
    partial = out.with_name(f"{out.name}.partial.{os.getpid()}")  # two builds never share one
    shutil.rmtree(partial, ignore_errors=True)
    try:
        result = subprocess.run(
            [str(ROOT / "iso-build" / "build-rootfs.sh"), "--version", VERSION,
             "--out", str(partial)],
            capture_output=not stream, text=True, timeout=BUILD_SECONDS, check=False,
        )  # fmt: skip
        assert result.returncode == 0, (
            f"iso-build/build-rootfs.sh failed ({result.returncode}):\n"
            f"{(result.stdout or '')[-3000:]}\n{(result.stderr or '')[-5000:]}"
        )
        (partial / OWNER).write_text(f"{ROOT}\n")
        try:
            partial.rename(out)
        except OSError:  # another process of this checkout finished the same build first
            if not image.is_file():
                raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    prune_own(keep=out)
    return image


def prune_own(keep: Path) -> None:
    """Each source change makes a new ~300 MB build: remove this checkout's older ones (and
    only those: other checkouts' builds, in use or not, are theirs)."""
    for old in keep.parent.iterdir():
        if old == keep or not old.is_dir() or ".partial" in old.name:
            continue
        try:
            owner = (old / OWNER).read_text().strip()
        except OSError:
            continue  # not made by this code (or by an older version of it): not ours
        if owner == str(ROOT):
            shutil.rmtree(old, ignore_errors=True)


def derived_image(variant: Variant) -> Path:
    """v1 with *variant*'s VERSION (and files left out), built once next to v1."""
    return derive(os_image(), variant)


def derive(base: Path, variant: Variant) -> Path:
    """*base* with *variant*'s VERSION (and files left out), next to it (kept once made)."""
    return derive_all(base, (variant,))[0]


def derive_all(
    base: Path, variants: Sequence[Variant], say: Callable[[str], None] | None = None
) -> list[Path]:
    """Each of *variants* made from *base* (those not made yet), next to it, from one unpacked
    tree: each variant edits a hard-linked copy of it (``cp -al``, no data copied)."""
    images = [base.parent / f"stook-os-{variant.version}.squashfs" for variant in variants]
    todo = [(v, image) for v, image in zip(variants, images, strict=True) if not image.is_file()]
    if not todo:
        return images
    require_commands("unsquashfs", "mksquashfs")
    work = base.parent / f".derive.{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    try:
        unpacked = work / "rootfs"
        run(["unsquashfs", "-no-progress", "-quiet", "-d", str(unpacked), str(base)])
        for variant, image in todo:
            started = time.monotonic()
            tree = work / variant.version
            run(["cp", "-al", str(unpacked), str(tree)])
            set_version(tree, variant.version)
            for name in variant.left_out:
                (tree / name).unlink()
            pack(tree, work / image.name)
            digest = sha256_file(work / image.name)
            (work / f"{image.name}.sha256").write_text(f"{digest}  {image.name}\n")
            (work / f"{image.name}.sha256").replace(f"{image}.sha256")
            (work / image.name).replace(image)
            shutil.rmtree(tree)
            if say is not None:
                say(f"{image} ({time.monotonic() - started:.0f} s)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return images


def pack(tree: Path, image: Path) -> None:
    """As build-rootfs.sh packs it: gzip (GRUB reads the kernel from inside the image)."""
    run(["mksquashfs", str(tree), str(image), "-noappend", "-comp", "gzip", "-Xcompression-level",
         GZIP_LEVEL, "-quiet", "-no-progress", "-processors", "2"])  # fmt: skip


def set_version(tree: Path, version: str) -> None:
    """Rewrite the os-release VERSION fields (what the boot environment records). The file is
    replaced, not written in place: the tree may share it, hard-linked, with another tree."""
    release = tree / "usr" / "lib" / "os-release"
    lines = []
    for line in release.read_text().splitlines():
        key = line.partition("=")[0]
        if key in ("VERSION", "VERSION_ID"):
            line = f'{key}="{version}"'
        elif key == "PRETTY_NAME":
            line = f'PRETTY_NAME="Stook OS {version} (Debian 12)"'
        lines.append(line)
    fresh = release.with_name(f"{release.name}.new")
    fresh.write_text("\n".join(lines) + "\n")
    fresh.chmod(release.stat().st_mode & 0o7777)
    fresh.replace(release)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def image_sha256(image: Path) -> str:
    """The SHA-256 recorded next to *image* (computed when there is no record)."""
    with contextlib.suppress(OSError, IndexError):
        return Path(f"{image}.sha256").read_text().split()[0]
    return sha256_file(image)


def run(argv: list[str]) -> None:
    result = subprocess.run(
        argv, capture_output=True, text=True, timeout=DERIVE_SECONDS, check=False
    )
    assert result.returncode == 0, (
        f"{' '.join(argv)} failed ({result.returncode}): {result.stderr[-3000:]}"
    )


if __name__ == "__main__":  # scripts/setup.d/os-image.sh: build before pytest, with progress
    v1 = os_image(stream=True)
    print(v1)
    # The upgrade targets of tests/e2e/test_upgrades.py.
    for image in derive_all(v1, (V2, V3), say=lambda line: print(f"derived {line}", flush=True)):
        print(image)

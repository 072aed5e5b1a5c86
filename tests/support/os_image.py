"""The real node OS image for e2e tests: ``STOOK_OS_IMAGE`` (a squashfs built by
iso-build/build-rootfs.sh), else built once with that script and cached under
``~/.cache/stook/e2e/<hash of iso-build/ and the Python sources>/`` (STOOK_CACHE moves it)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from support.tiers import require_tier

ROOT = Path(__file__).resolve().parents[2]
VERSION = "0.1.0-e2e"
SOURCES = ("iso-build", "core", "installer", "node-agent", "pyproject.toml")
BUILD_SECONDS = 1800  # cold: Debian rootfs (mmdebstrap) + wheels; warm: about 2 min


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
    cache = Path(os.environ.get("STOOK_CACHE", Path.home() / ".cache" / "stook"))
    out = cache / "e2e" / source_hash()
    image = out / f"stook-os-{VERSION}.squashfs"
    if image.is_file():
        return image
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    result = subprocess.run(
        [str(ROOT / "iso-build" / "build-rootfs.sh"), "--version", VERSION, "--out", str(partial)],
        capture_output=not stream, text=True, timeout=BUILD_SECONDS, check=False,
    )  # fmt: skip
    assert result.returncode == 0, (
        f"iso-build/build-rootfs.sh failed ({result.returncode}):\n"
        f"{(result.stdout or '')[-3000:]}\n{(result.stderr or '')[-5000:]}"
    )
    # Keep only this build: each source change makes a new ~300 MB image.
    for old in out.parent.iterdir():
        if old != partial:
            shutil.rmtree(old, ignore_errors=True)
    partial.rename(out)
    return image


if __name__ == "__main__":  # scripts/setup.d/os-image.sh: build before pytest, with progress
    print(os_image(stream=True))

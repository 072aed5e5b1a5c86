"""OS image and ISO: build times (cold and warm), sizes, install time and boot-to-SSH time.

    sudo .venv/bin/python bench/os_bench.py [--cold] [--skip-install] [--out build/bench]

- warm build: the Debian rootfs is cached (as after any change to Stook's Python code), the OS
  image is rebuilt (its stamp removed), then the ISO and PXE artifacts;
- cold build (--cold): the same with an empty cache (STOOK_CACHE pointed at a fresh directory,
  so the real cache is left alone): mmdebstrap downloads and installs the Debian packages;
- sizes of the OS image, kernel, initrd, ISO and PXE set;
- install and boot: scripts/main.sh --prebuilt (unattended install into QEMU TCG from the live
  kernel with the ISO as CD-ROM, then the installed disk booted until SSH answers); the VM is
  stopped afterwards.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VERSION = "0.0.0-bench"


def build(out: Path, env: dict[str, str]) -> float:
    (out / f".rootfs-key-{VERSION}").unlink(missing_ok=True)  # rebuild the OS image
    started = time.monotonic()
    subprocess.run(
        [str(ROOT / "iso-build/build-iso.sh"), "--version", VERSION, "--out", str(out), "--pxe"],
        env=env, check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return time.monotonic() - started


def mib(path: Path) -> str:
    size = sum(p.stat().st_size for p in path.rglob("*")) if path.is_dir() else path.stat().st_size
    return f"{size / (1 << 20):.0f} MiB"


def install_and_boot(out: Path) -> tuple[str, str]:
    """(install seconds, boot-to-SSH seconds) as scripts/main.sh reports them."""
    result = subprocess.run(
        [str(ROOT / "scripts/main.sh"), "--prebuilt", str(out), "--version", VERSION],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    pid_file = ROOT / "build/main/qemu.pid"
    if pid_file.exists():
        os.kill(int(pid_file.read_text()), signal.SIGTERM)
    if result.returncode != 0:
        sys.exit(f"scripts/main.sh failed ({result.returncode}):\n{result.stderr[-3000:]}")
    install = re.search(r"install complete in (\d+) s", result.stderr)
    ssh = re.search(r"SSH answered (\d+) s after power-on", result.stderr)
    return (install.group(1) if install else "?", ssh.group(1) if ssh else "?")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build/bench")
    parser.add_argument("--cold", action="store_true", help="also a build with an empty cache")
    parser.add_argument("--skip-install", action="store_true", help="build and sizes only")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("os_bench: run as root (the image build uses mmdebstrap and chroot)")
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[str, str]] = []
    if args.cold:
        cache = Path(tempfile.mkdtemp(prefix="stook-cold-cache-"))
        try:
            seconds = build(out, {**os.environ, "STOOK_CACHE": str(cache)})
            rows.append(("build, cold (empty cache)", f"{seconds:.0f} s"))
        finally:
            shutil.rmtree(cache, ignore_errors=True)
    rows.append(
        ("build, warm (rootfs cached, image rebuilt)", f"{build(out, dict(os.environ)):.0f} s")
    )
    for name, path in (
        ("OS image (squashfs)", out / f"stook-os-{VERSION}.squashfs"),
        ("kernel", out / f"vmlinuz-{VERSION}"),
        ("initrd", out / f"initrd.img-{VERSION}"),
        ("ISO", out / f"stook-{VERSION}.iso"),
        ("PXE set", out / "pxe"),
    ):
        rows.append((f"size: {name}", mib(path)))
    if not args.skip_install:
        install, ssh = install_and_boot(out)
        rows += [("install, unattended, TCG", f"{install} s"), ("boot to SSH, TCG", f"{ssh} s")]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Bench: a real install onto loop devices, time per step, and the image-write step against a
plain ``dd`` of the same image to the same partition (root).

    sudo .venv/bin/python bench/install_loop.py [--image-mib 512] [--runs 5] [--loop-direct-io]

The image is random data (incompressible, like a real squashfs) of --image-mib MiB. Each run is
an install and a ``dd bs=4M conv=fsync``, both from a cold page cache, in alternating order.
Reported: the median time per step; for the copy of the image inside the install (from the
write-image step's start to the end of its copy, fsync included) and for the whole write-image
step (copy + direct read-back) the median of the per-run ratios to dd and the ratio of the
medians; and the engine's copy alone against dd. On a shared machine the figures move a lot
from run to run: use several runs and read the medians.

A loop device writes into its backing file's page cache, so both sides really race the host's
writeback; --loop-direct-io (``losetup --direct-io=on``) makes the loop devices pass writes
straight to the backing file's disk, which behaves more like the real disk of an install.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from stook_core.config.validate import load_document
from stook_core.osimage import copy_image
from stook_installer.engine import install
from stook_installer.engine.events import Event
from support.install_engine import document, loop_disks, loop_machine

GiB = 1 << 30


def step_times(events: list[Event]) -> dict[str, float]:
    started: dict[str, float] = {}
    took: dict[str, float] = {}
    for event in events:
        if event.phase == "start":
            started[event.step] = event.time
        elif event.phase == "finish":
            took[event.step] = event.time - started[event.step]
    return took


def copy_seconds(events: list[Event]) -> float:
    """The copy part of write-image: from its start to the progress event of the copy action."""
    start = next(e.time for e in events if e.step == "write-image" and e.phase == "start")
    done = next(e.time for e in events if e.step == "write-image" and e.message.startswith("copy "))
    return done - start


def drop_caches() -> None:
    """Start each timed write from a cold page cache, so neither side reads the image from RAM."""
    os.sync()
    Path("/proc/sys/vm/drop_caches").write_text("3\n")


def dd_seconds(image: Path, device: str) -> float:
    begin = time.monotonic()
    subprocess.run(
        ["dd", f"if={image}", f"of={device}", "bs=4M", "conv=fsync", "status=none"], check=True
    )
    return time.monotonic() - begin


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--image-mib", type=int, default=512)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--loop-direct-io", action="store_true", help="losetup --direct-io=on")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir="/var/tmp") as folder:
        work = Path(folder)
        image = work / "os.img"
        with image.open("wb") as stream:
            for _ in range(args.image_mib):
                stream.write(os.urandom(1 << 20))
        with loop_disks(work, [50 * GiB, 60 * GiB]) as (os_disk, data_disk):
            if args.loop_direct_io:
                for device in (os_disk, data_disk):
                    subprocess.run(["losetup", "--direct-io=on", device], check=True)
            config = load_document(
                document(install_disk={"path": os_disk}, data_disk={"path": data_disk})
            )
            runs: list[dict[str, float]] = []
            copies: list[float] = []
            dds: list[float] = []
            for run in range(args.runs + 1):  # run 0 warms up (allocates the sparse files)
                events: list[Event] = []
                machine = loop_machine([os_disk, data_disk])
                # Alternate which goes first, each from a cold cache, so order cannot favour one.
                dd_first = run % 2 == 1
                if dd_first:
                    drop_caches()
                    dd = dd_seconds(image, f"{os_disk}p3")
                drop_caches()
                begin = time.monotonic()
                install(config, machine, image, events.append, dry_run=False)
                if run == 0:
                    continue
                took = step_times(events)
                took["TOTAL"] = time.monotonic() - begin
                runs.append(took)
                if not dd_first:
                    drop_caches()
                    dd = dd_seconds(image, f"{os_disk}p3")
                copy = copy_seconds(events)
                copies.append(copy)
                dds.append(dd)
                step = took["write-image"]
                print(
                    f"run {run}: copy {copy:.2f}s, write-image step {step:.2f}s, dd {dd:.2f}s, "
                    f"copy/dd {copy / dd:.2f}, step/dd {step / dd:.2f}",
                    flush=True,
                )
            # The same copy outside an install: no writeback of the freshly made filesystems
            # competing with it, so this isolates the engine's copy code from the system's state.
            alone: list[float] = []
            for _ in range(args.runs):
                drop_caches()
                begin = time.monotonic()
                copy_image(image, f"{os_disk}p3", lambda fraction, message: None)
                copied = time.monotonic() - begin
                drop_caches()
                alone.append(copied / dd_seconds(image, f"{os_disk}p3"))
    print(f"\nimage {args.image_mib} MiB, {args.runs} runs, median seconds per step:")
    for name in runs[0]:
        print(f"  {name:22s} {statistics.median(r[name] for r in runs):7.2f}")
    steps = [r["write-image"] for r in runs]
    for label, values in (("image copy inside the install", copies), ("write-image step", steps)):
        ratios = [value / dd for value, dd in zip(values, dds, strict=True)]
        print(
            f"{label} / dd: median ratio {statistics.median(ratios):.2f}, ratio of medians "
            f"{statistics.median(values) / statistics.median(dds):.2f}"
        )
    print(f"copy_image alone / dd (both cold cache): median ratio {statistics.median(alone):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Cluster OS upgrade, per node: drain, download, write, reboot, health, and the total for two
nodes, from e2e scenario U1 (tests/e2e/test_upgrades.py: two installed QEMU nodes, v1 -> v2).

    sudo .venv/bin/python bench/upgrade_bench.py                 # runs U1 (holds the e2e lock)
    .venv/bin/python bench/upgrade_bench.py --timeline FILE      # figures of an earlier run

Without ``--upgrade NAME`` the figures are those of the newest Upgrade in the timeline (the one
whose first step was seen last): U1 starts its upgrade in the web console, which names it
``to-<version>-<6 random hex digits>``, so no fixed name would match.

U1 records, on the host's clock, when each node's step (the Upgrade's status, written by the
rollout controller) and each phase of its agent (its NodeUpgrade) was first seen (polled every
0.5 s, so each figure is +-0.5 s). The split:

- drain:    Draining -> Upgrading (cordon, evictions through the Eviction API, pods gone)
- hand-over: Upgrading -> the agent's Downloading (the agent sees the request)
- download: the agent's Downloading -> Writing (HTTP, SHA-256 verified, os-release read)
- write:    Writing -> Rebooting (stook-os write-slot with its read-back, set-next)
- reboot:   Rebooting -> the agent's Verifying (shutdown, GRUB, kernel, systemd, agent up)
- health:   Verifying -> Succeeded (boot checks, mark-good, the health gate, uncordon)

U1 also SIGKILLs the controller once while node 1 reboots (a new one starts at once): node 1's
reboot and health figures include that hand-over (about a second).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = "/tmp/stook-e2e.lock"
SPLIT = (
    ("drain", ("controller", "Draining"), ("controller", "Upgrading")),
    ("hand-over", ("controller", "Upgrading"), ("agent", "Downloading")),
    ("download", ("agent", "Downloading"), ("agent", "Writing")),
    ("write", ("agent", "Writing"), ("agent", "Rebooting")),
    ("reboot", ("agent", "Rebooting"), ("agent", "Verifying")),
    ("health", ("agent", "Verifying"), ("controller", "Succeeded")),
    ("total", ("controller", "Draining"), ("controller", "Succeeded")),
)


def when(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def run_u1(timeline: Path) -> None:
    env = os.environ | {"STOOK_UPGRADE_TIMELINE": str(timeline)}
    command = ["flock", LOCK, str(ROOT / ".venv/bin/python"), "-m", "pytest", "-q", "-x", "-s",
               "tests/e2e/test_upgrades.py", "-k", "u1"]  # fmt: skip
    print(f"running U1 (waits for {LOCK} while another VM workload holds it)", file=sys.stderr)
    subprocess.run(command, cwd=ROOT, env=env, check=True)


def newest(seen: dict[str, dict[str, dict[str, str]]]) -> str | None:
    """The Upgrade whose first recorded step is the latest (one that never reached a node
    has no record and no figures)."""
    first = {
        name: min(when(stamp) for steps in record.values() for stamp in steps.values())
        for name, record in seen.items()
        if any(record.values())
    }
    return max(first, key=lambda name: first[name]) if first else None


def figures(seen: dict[str, dict[str, dict[str, str]]], upgrade: str) -> list[str]:
    record = seen[upgrade]
    nodes = sorted({key.split("/")[0] for key in record})
    lines = [f"| node | {' | '.join(name for name, _, _ in SPLIT)} |",
             f"|---|{'---|' * len(SPLIT)}"]  # fmt: skip
    starts, ends = [], []
    for node in nodes:
        cells = []
        for _name, (start_kind, start), (end_kind, end) in SPLIT:
            a = record.get(f"{node}/{start_kind}", {}).get(start)
            b = record.get(f"{node}/{end_kind}", {}).get(end)
            cells.append(f"{(when(b) - when(a)).total_seconds():.1f} s" if a and b else "-")
        controller = record.get(f"{node}/controller", {})
        if "Draining" in controller and "Succeeded" in controller:
            starts.append(when(controller["Draining"]))
            ends.append(when(controller["Succeeded"]))
        lines.append(f"| {node} | {' | '.join(cells)} |")
    if starts and len(ends) == len(nodes):
        total = (max(ends) - min(starts)).total_seconds()
        lines.append(f"\n{len(nodes)} nodes, first cordon to last health gate: {total:.1f} s")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeline", type=Path, help="a timeline.json of an earlier U1 run")
    parser.add_argument("--upgrade", help="the Upgrade's name (default: the newest)")
    args = parser.parse_args()
    timeline = args.timeline
    if timeline is None:
        timeline = Path(tempfile.mkdtemp(prefix="upgrade-bench-")) / "timeline.json"
        run_u1(timeline)
    seen = json.loads(timeline.read_text())
    upgrade = args.upgrade or newest(seen)
    if upgrade is None:
        print(f"no upgrade reached a node in {timeline}", file=sys.stderr)
        return 1
    if upgrade not in seen:
        print(f"no upgrade {upgrade} in {timeline} (has: {', '.join(seen)})", file=sys.stderr)
        return 1
    print(f"upgrade {upgrade}")
    print("\n".join(figures(seen, upgrade)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

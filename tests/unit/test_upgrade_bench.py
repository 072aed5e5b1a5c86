"""bench/upgrade_bench.py picks the Upgrade to report as the console names them (not fixed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "upgrade_bench.py"


def node(minute: int) -> dict[str, dict[str, str]]:
    """One node's record: drained in 4 s, health-gated 2 min later."""
    at, done = f"2026-12-02T10:{minute:02d}", f"2026-12-02T10:{minute + 2:02d}"
    return {
        "controller": {
            "Draining": f"{at}:00Z",
            "Upgrading": f"{at}:04Z",
            "Succeeded": f"{done}:00Z",
        },
        "agent": {"Downloading": f"{at}:05Z"},
    }


def timeline(tmp_path: Path) -> Path:
    seen = {  # the console's names: to-<version>-<6 hex>; a draft that never reached a node
        "to-e2e-0-3-0-e2e-4d5e6f": {f"stook-u1/{k}": v for k, v in node(20).items()},
        "to-e2e-0-2-0-e2e-1a2b3c": {f"stook-u1/{k}": v for k, v in node(10).items()},
        "to-e2e-0-4-0-e2e-000000": {},
    }
    path = tmp_path / "timeline.json"
    path.write_text(json.dumps(seen))
    return path


def bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(BENCH), *args], capture_output=True, text=True, timeout=60
    )


def test_without_a_name_it_reports_the_newest_upgrade(tmp_path: Path) -> None:
    done = bench("--timeline", str(timeline(tmp_path)))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "upgrade to-e2e-0-3-0-e2e-4d5e6f"
    row = next(line for line in lines if line.startswith("| stook-u1 |"))
    assert row.split(" | ")[1:3] == ["4.0 s", "1.0 s"]  # drain, hand-over
    assert row.rstrip(" |").endswith("120.0 s")  # total


def test_a_named_upgrade_is_reported_and_an_unknown_one_named(tmp_path: Path) -> None:
    path = str(timeline(tmp_path))
    done = bench("--timeline", path, "--upgrade", "to-e2e-0-2-0-e2e-1a2b3c")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "upgrade to-e2e-0-2-0-e2e-1a2b3c"
    missing = bench("--timeline", path, "--upgrade", "to-nothing")
    assert missing.returncode == 1
    assert "no upgrade to-nothing" in missing.stderr and "to-e2e-0-3-0-e2e-4d5e6f" in missing.stderr


def test_a_timeline_where_no_upgrade_reached_a_node_says_so(tmp_path: Path) -> None:
    path = tmp_path / "timeline.json"
    path.write_text(json.dumps({"to-v-000000": {}}))
    done = bench("--timeline", str(path))
    assert done.returncode == 1 and "no upgrade reached a node" in done.stderr

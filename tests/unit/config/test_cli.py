"""``stook-installer validate | show | schema``, run as the operator runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from support.configs import TOKEN, create_document

ROOT = Path(__file__).resolve().parents[3]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stook_installer.cli", *args],
        capture_output=True,
        text=True,
        check=False,
    )


def write(tmp_path: Path, document: dict[str, object], name: str = "c.yaml") -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(document))
    return str(path)


def test_validate_prints_all_three_mistakes_and_exits_2(tmp_path: Path) -> None:
    document = create_document()
    install = document["install"]
    install["hostname"] = "node.example.com"
    install["management_interface"]["vlan_id"] = 5000
    install["management_interface"]["gateway"] = "192.168.2.1"
    result = run("validate", write(tmp_path, document))
    assert result.returncode == 2
    lines = [line.strip() for line in result.stderr.splitlines()]
    assert lines[0].endswith("3 problem(s)")
    assert "install.management_interface.vlan_id: 5000 is outside 1-4094" in lines
    assert any(line.startswith('install.hostname: "node.example.com"') for line in lines)
    assert any(line.startswith("install.management_interface.gateway:") for line in lines)


def test_validate_accepts_a_good_file(tmp_path: Path) -> None:
    result = run("validate", write(tmp_path, create_document()))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith(": valid")


def test_show_prints_the_canonical_document_without_secrets(tmp_path: Path) -> None:
    result = run("show", write(tmp_path, create_document()))
    assert result.returncode == 0, result.stderr
    shown = yaml.safe_load(result.stdout)
    assert shown["install"]["token"] == "<redacted>"
    assert TOKEN not in result.stdout


def test_schema_matches_the_exported_copy_in_docs() -> None:
    result = run("schema")
    exported = ROOT / "docs" / "install-config.schema.json"
    assert result.returncode == 0
    assert json.loads(result.stdout) == json.loads(exported.read_text()), (
        "docs/install-config.schema.json is stale: run "
        "`stook-installer schema > docs/install-config.schema.json`"
    )


def test_bundled_examples_validate() -> None:
    examples = sorted((ROOT / "installer" / "stook_installer" / "examples").glob("*.yaml"))
    assert examples, "no example configs shipped"
    for example in examples:
        result = run("validate", str(example))
        assert result.returncode == 0, result.stderr

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from stook_installer import cli, install_cli
from stook_installer.engine.consent import Consent
from stook_installer.engine.plan import Plan, build_plan
from stook_installer.engine.runner import execute
from support.install_engine import EXAMPLES, PROFILES, TOKEN, document

MACHINE = str(PROFILES / "os-and-data.json")


@pytest.fixture
def no_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: Any, **_: Any) -> None:
        raise AssertionError(f"a command ran: {args}")

    monkeypatch.setattr(subprocess, "run", forbidden)


def write(tmp_path: Path, data: dict[str, Any]) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def test_readme_dry_run_prints_the_plan(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--dry-run", "--machine", MACHINE, "--config", str(EXAMPLES / "create.yaml"),
            "--automatic"]  # fmt: skip
    assert install_cli.main(argv) == install_cli.EXIT_OK
    out = capsys.readouterr().out
    assert "These disks will be erased" in out and "/dev/sda" in out and "sgdisk" in out
    assert TOKEN not in out


def test_bad_config_exits_with_every_error_and_runs_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_commands: None
) -> None:
    config = write(tmp_path, document(hostname="Bad_Name", vip="300.1.1.1"))
    assert install_cli.main(["--config", config, "--automatic", "--machine", MACHINE]) == 2
    err = capsys.readouterr().err
    assert "install.hostname" in err and "install.vip" in err and "Nothing was touched" in err


def test_no_consent_refuses_and_says_how_to_consent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_commands: None
) -> None:
    config = write(tmp_path, document(confirm_erase=None))
    assert install_cli.main(["--config", config, "--automatic", "--machine", MACHINE]) == 3
    err = capsys.readouterr().err
    assert "confirm_erase: true" in err and "stook.install.confirm_erase=true" in err


def test_kernel_command_line_alone_can_drive_an_unattended_dry_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write(tmp_path, document(automatic=None, confirm_erase=None))
    cmdline = tmp_path / "cmdline"
    cmdline.write_text("quiet stook.install.automatic=true stook.install.confirm_erase=true\n")
    events = tmp_path / "events.jsonl"
    argv = ["--config", config, "--cmdline", str(cmdline), "--machine", MACHINE, "--dry-run",
            "--events", str(events)]  # fmt: skip
    assert install_cli.main(argv) == 0
    lines = [json.loads(line) for line in events.read_text().splitlines()]
    assert lines[0]["phase"] == "start" and lines[-1]["phase"] == "finish"
    assert TOKEN not in events.read_text()
    assert "a real run would refuse" not in capsys.readouterr().out


def test_without_automatic_the_tui_is_started(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen: dict[str, Any] = {}

    def fake_tui(args: Any, seed: Any) -> int:
        seen["seed"] = seed
        return 0

    monkeypatch.setattr(install_cli, "run_tui", fake_tui)
    config = write(tmp_path, document(automatic=None))
    assert install_cli.main(["--config", config, "--machine", MACHINE]) == 0
    assert seen["seed"]["install"]["hostname"] == "node1"


def test_help_lists_the_subcommands_and_the_install_options(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    for word in ("validate FILE", "show FILE", "schema", "--automatic", "--dry-run", "--config"):
        assert word in out


def test_unattended_runs_the_one_plan_it_printed_with_consent_to_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A spy on the real build_plan and execute: one plan is built, printed and executed."""
    built: list[Plan] = []
    executed: list[tuple[Plan, Consent | None]] = []

    def build(*args: Any, **kwargs: Any) -> Plan:
        built.append(build_plan(*args, **kwargs))
        return built[-1]

    def run(plan: Plan, consent: Consent | None, sink: Any, *, dry_run: bool) -> None:
        executed.append((plan, consent))
        execute(plan, consent, sink, dry_run=dry_run)

    monkeypatch.setattr(install_cli, "build_plan", build)
    monkeypatch.setattr(install_cli, "execute", run)
    argv = ["--dry-run", "--machine", MACHINE, "--config", str(EXAMPLES / "create.yaml"),
            "--automatic"]  # fmt: skip
    assert install_cli.main(argv) == install_cli.EXIT_OK
    assert len(built) == 1
    [(plan, consent)] = executed
    assert plan is built[0] and consent == Consent.to(plan)
    assert "\n".join(plan.describe()) in capsys.readouterr().out

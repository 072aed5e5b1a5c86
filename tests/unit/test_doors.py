"""Every door (stook-installer and its subcommands, stook-os, stook-agent) ends in a report and an
exit code: bad input never shows a traceback, and neither does a bug (it names its log file)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from stook_agent import cli as agent_cli
from stook_core import __version__ as core_version
from stook_core.boot import cli as os_cli
from stook_core.config.sources import Sources
from stook_core.door import EXIT_BUG
from stook_installer import __version__ as installer_version
from stook_installer import cli, install_cli
from support.fake_node import FAKE_CMDLINE_A, FakeNode, booted_a
from support.install_engine import EXAMPLES, PROFILES, TOKEN, document

MACHINE = str(PROFILES / "os-and-data.json")


def write(tmp_path: Path, name: str, data: bytes | str) -> str:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return str(path)


def test_version_flags_print_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    for main, name, version in (
        (cli.main, "stook-installer", installer_version),
        (os_cli.main, "stook-os", core_version),
    ):
        with pytest.raises(SystemExit) as exited:
            main(["--version"])
        assert exited.value.code == 0
        assert capsys.readouterr().out.strip() == f"{name} {version}"


def test_validate_reports_every_file_whatever_the_one_before_did(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = [
        write(tmp_path, "latin1.yaml", b"apiVersion: \xe9\n"),
        str(tmp_path / "missing.yaml"),
        write(tmp_path, "nested.yaml", "[" * 3000),
        write(tmp_path, "dup.yaml", "apiVersion: a\napiVersion: b\n"),
        str(EXAMPLES / "create.yaml"),
    ]
    assert cli.main(["validate", *files]) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    for path, problem in zip(
        files[:4],
        ["is not UTF-8 text", "cannot be read", "nests deeper", "apiVersion: is given twice"],
        strict=True,
    ):
        assert f"{path}: 1 problem(s)" in captured.err and problem in captured.err
    assert f"{files[4]}: valid" in captured.out


@pytest.fixture
def a_bug(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Test double: Sources.load fails with an unexpected error for files named bug*.yaml."""
    real = Sources.load

    def load(self: Sources) -> Any:
        if self.file is not None and self.file.name.startswith("bug"):
            raise RuntimeError(f"an unexpected failure quoting {TOKEN}")
        return real(self)

    monkeypatch.setattr(Sources, "load", load)
    logs = tmp_path / "logs"
    logs.mkdir()
    monkeypatch.setenv("TMPDIR", str(logs))
    monkeypatch.setattr("tempfile.tempdir", None)
    monkeypatch.delenv("STOOK_DEBUG", raising=False)
    return logs


def test_a_bug_in_one_file_is_reported_and_the_next_file_still_checked(
    a_bug: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bug = write(tmp_path, "bug.yaml", "x: 1\n")
    assert cli.main(["validate", bug, str(EXAMPLES / "create.yaml")]) == EXIT_BUG
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and TOKEN not in captured.err
    assert f"stook-installer validate {bug}: internal error: RuntimeError in load" in captured.err
    (log,) = a_bug.iterdir()
    assert str(log) in captured.err
    assert "Traceback" in log.read_text() and log.stat().st_mode & 0o077 == 0
    assert "create.yaml: valid" in captured.out


def test_debug_prints_the_traceback_of_a_bug(
    a_bug: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bug = write(tmp_path, "bug.yaml", "x: 1\n")
    assert cli.main(["--debug", "validate", bug]) == EXIT_BUG
    assert "Traceback" in capsys.readouterr().err


def test_a_bug_anywhere_in_a_door_ends_as_a_report(
    a_bug: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bug = write(tmp_path, "bug.yaml", "x: 1\n")
    assert cli.main(["show", bug]) == EXIT_BUG
    err = capsys.readouterr().err
    assert "stook-installer: internal error: RuntimeError" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "(file): cannot be read: No such file or directory"),
        (b"{not json", "(file): is not JSON: Expecting property name"),
        (b"\xff\xfe", "(file): is not UTF-8 text"),
        (b"[1, 2]", "is invalid"),
        (b'{"disks": "many"}', "disks: is invalid"),
        (b"[" * 100_000, "nests too deeply"),
    ],
)
def test_a_missing_or_broken_machine_profile_is_a_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes | None, expected: str
) -> None:
    profile = tmp_path / "machine.json"
    if content is not None:
        profile.write_bytes(content)
    argv = ["--config", str(EXAMPLES / "create.yaml"), "--automatic", "--dry-run"]
    assert cli.main([*argv, "--machine", str(profile)]) == 2
    err = capsys.readouterr().err
    assert f"machine profile {profile}: " in err and expected in err
    assert "Traceback" not in err and "Nothing was touched" in err


def test_kernel_quotes_and_backslashes_drive_an_unattended_dry_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write(tmp_path, "c.yaml", yaml.safe_dump(document(automatic=None)))
    cmdline = write(
        tmp_path,
        "cmdline",
        b"BOOT_IMAGE=/vmlinuz it's \\ \xff quiet stook.install.automatic "
        b'stook.install.password=pa\\ss"w o"rd\' stook.install.confirm_erase\n',
    )
    argv = ["--config", config, "--cmdline", cmdline, "--machine", MACHINE, "--dry-run"]
    assert cli.main(argv) == 0, capsys.readouterr().err


@pytest.mark.parametrize(
    ("cmdline", "expected"),
    [
        (b"stook.install", "stook.install: names no field"),
        (b"stook.install.hostname=a stook.install.hostname=b", "is given 2 times"),
    ],
)
def test_a_bad_kernel_key_is_a_report_in_every_mode(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cmdline: bytes, expected: str
) -> None:
    config = write(tmp_path, "c.yaml", yaml.safe_dump(document()))
    path = write(tmp_path, "cmdline", cmdline)
    argv = ["--config", config, "--cmdline", path, "--machine", MACHINE, "--automatic"]
    assert cli.main([*argv, "--dry-run"]) == 2
    assert expected in capsys.readouterr().err


def test_an_unreadable_cmdline_file_is_a_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--cmdline", str(tmp_path / "none"), "--automatic", "--machine", MACHINE]
    assert cli.main(argv) == 2
    assert "none: 1 problem(s)" in capsys.readouterr().err


def test_an_install_section_that_is_not_a_mapping_is_a_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    text = "apiVersion: stook.io/v1beta1\nkind: InstallConfig\ninstall: 5\n"
    config = write(tmp_path, "c.yaml", text)
    assert cli.main(["--config", config, "--automatic", "--machine", MACHINE, "--dry-run"]) == 2
    assert "install: 5 is not a mapping" in capsys.readouterr().err
    seeds: list[object] = []  # test double of the TUI: records what it would be seeded with
    monkeypatch.setattr(install_cli, "run_tui", lambda _args, seed: seeds.append(seed) or 0)
    assert cli.main(["--config", config, "--machine", MACHINE]) == 0
    assert seeds == [yaml.safe_load(text)]


@pytest.mark.parametrize("level", ["loud", "", "10"])
def test_a_bad_log_level_is_a_usage_error(
    level: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(SystemExit) as exited:
        agent_cli.main(["--node-name", "n1", "--log-level", level])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "is not a log level: use one of DEBUG, INFO, WARNING, ERROR, CRITICAL" in err
    monkeypatch.setenv("STOOK_LOG_LEVEL", level)
    with pytest.raises(SystemExit) as exited:
        agent_cli.main(["--node-name", "n1"])
    assert exited.value.code == 2


def test_stook_os_reads_a_kernel_command_line_with_quotes_and_backslashes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    node = FakeNode(tmp_path, booted_a(), FAKE_CMDLINE_A + ' it\'s a\\b "x y"', "1.0")
    node.cmdline.write_bytes(node.cmdline.read_bytes() + b" \xff\n")
    assert node.run("status") == 0
    assert "booted slot:  A" in capsys.readouterr().out


def test_an_events_file_that_cannot_be_written_is_a_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--config", str(EXAMPLES / "create.yaml"), "--machine", MACHINE, "--dry-run",
            "--events", str(tmp_path / "no" / "such" / "dir.jsonl")]  # fmt: skip
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "--events: cannot be written: No such file or directory" in err
    assert "internal error" not in err


@pytest.mark.parametrize(
    ("flag", "value", "expected"),
    [
        ("--disk-exclude", "([", "is not a regular expression"),
        ("--disk-allow", "*", "is not a regular expression"),
        ("--heartbeat", "0", "is not a number of seconds above 0"),
        ("--resync-period", "nan", "is not a number of seconds above 0"),
        ("--rescan-period", "-5", "is not a number of seconds above 0"),
        ("--workers", "0", "is not a whole number in 1..1024"),
        ("--metrics-port", "70000", "is not a whole number in 0..65535"),
    ],
)
def test_bad_agent_settings_are_usage_errors(
    flag: str, value: str, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        agent_cli.main(["--node-name", "n1", f"{flag}={value}"])
    assert exited.value.code == 2
    assert expected in capsys.readouterr().err


def test_a_reader_that_leaves_early_gets_no_traceback() -> None:
    """`stook-installer validate ... | head`: a closed pipe ends the command quietly (141)."""
    files = [str(EXAMPLES / "create.yaml")] * 1500  # more output than a pipe buffers
    process = subprocess.Popen(
        [sys.executable, "-m", "stook_installer.cli", "validate", *files],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None and process.stderr is not None
    process.stdout.read(10)
    process.stdout.close()
    assert process.wait(timeout=120) == 141
    assert process.stderr.read() == b""


def test_a_file_name_that_is_not_utf8_still_prints(tmp_path: Path) -> None:
    name = tmp_path / os.fsdecode(b"bad-\xff.yaml")
    name.write_bytes((EXAMPLES / "create.yaml").read_bytes())
    result = subprocess.run(
        [sys.executable, "-m", "stook_installer.cli", "validate", name],
        capture_output=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0 and result.stderr == b""
    assert result.stdout.endswith(b"bad-\\udcff.yaml: valid\n")


def test_a_machine_profile_that_is_a_device_is_refused_unread(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["--config", str(EXAMPLES / "create.yaml"), "--automatic", "--dry-run"]
    assert cli.main([*argv, "--machine", "/dev/zero"]) == 2
    assert "is not a regular file" in capsys.readouterr().err

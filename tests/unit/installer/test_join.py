"""The join preflight's target and plan lines (the checks themselves run against real servers in
tests/integration/installer/test_join_preflight.py)."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from stook_installer import cli, install_cli
from stook_installer.engine.join import JoinTarget, join_checks, token_ca_hash
from support.install_engine import EXAMPLES, PROFILES, make_config

HASH = "0123456789abcdef" * 4


def test_the_target_defaults_to_the_servers_host_on_the_api_port() -> None:
    spec = make_config("join").install
    target = JoinTarget.of(spec)
    assert (target.server_url, target.api_url) == (
        "https://10.0.100.10:9345",
        "https://10.0.100.10:6443",
    )
    assert (target.hostname, target.wait, target.api_token) == ("node2", 0.0, None)
    ipv6 = make_config("join", server_url="https://[fd00::5]:9345").install
    assert JoinTarget.of(ipv6).api_url == "https://[fd00::5]:6443"


def test_join_check_sets_the_api_url_token_and_wait() -> None:
    spec = make_config(
        "join", join_check={"api_url": "10.0.100.9", "api_token": "reader-XYZ", "wait": 900}
    ).install
    target = JoinTarget.of(spec)
    assert (target.api_url, target.wait) == ("https://10.0.100.9:6443", 900.0)
    assert target.api_token is not None and target.api_token.get_secret_value() == "reader-XYZ"
    assert "reader-XYZ" not in repr(target) and "change-me" not in repr(target)


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        (f"K10{HASH}::server:secret", HASH),
        (f"K10{HASH}::node:secret", HASH),
        ("plain-shared-secret", None),
        (f"K10{HASH[:-1]}::server:secret", None),  # 63 digits: not the full form
        (f"K10{HASH.upper()}::server:secret", None),  # RKE2 writes lowercase hex
    ],
)
def test_the_ca_hash_of_rke2_full_tokens(token: str, expected: str | None) -> None:
    assert token_ca_hash(token) == expected


def test_a_dry_run_lists_the_join_checks_and_makes_none(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_network(*args: Any, **_: Any) -> None:
        raise AssertionError(f"a connection was made: {args}")

    monkeypatch.setattr(socket, "create_connection", no_network)
    argv = ["--dry-run", "--machine", str(PROFILES / "os-and-data.json"),
            "--config", str(EXAMPLES / "join.yaml"), "--automatic"]  # fmt: skip
    assert install_cli.main(argv) == install_cli.EXIT_OK
    out = capsys.readouterr().out
    assert "Join check (made before any disk is touched; not in a dry run):" in out
    assert "GET https://10.0.100.10:9345/cacerts" in out and "trusted as first seen" in out
    assert "the node name is not looked up" in out
    assert "change-me" not in out


def test_a_create_config_has_no_join_checks() -> None:
    assert join_checks(make_config("create").install) == []


def test_join_check_of_a_create_config_is_refused_without_a_request(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_network(*args: Any, **_: Any) -> None:
        raise AssertionError(f"a connection was made: {args}")

    monkeypatch.setattr(socket, "create_connection", no_network)
    assert cli.main(["join-check", str(EXAMPLES / "create.yaml")]) == cli.EXIT_INVALID
    assert "install.mode is create: nothing to join" in capsys.readouterr().err
    assert cli.main(["join-check", str(EXAMPLES / "missing.yaml")]) == cli.EXIT_INVALID

"""Which required boot check failed, from the failed boot's journal (``journalctl -o json`` of
the health units, as a stook-health check and the OnFailure= handler stook-os health-failed
write it): the check's name reaches the NodeUpgrade after a fallback."""

from __future__ import annotations

import json

from stook_agent.upgrades.osactions import FailedChecks, parse_journal


def line(unit: str, message: str | list[int]) -> str:
    return json.dumps({"_SYSTEMD_UNIT": unit, "MESSAGE": message})


def test_the_handler_names_the_check_and_the_check_says_why() -> None:
    journal = "\n".join([
        line("stook-health-state.service", "state: /dev/vda4 mounted, /etc overlay"),
        line("stook-health-sshd.service", "stook-health: ssh.service is not active"),
        json.dumps({"UNIT": "stook-health-sshd.service", "MESSAGE": "Failed with result 1"}),
        line("stook-boot-failed@stook-health-sshd.service.service",
             "a required boot check failed (stook-health-sshd.service): reboot: slot B is on "
             "trial with no attempts left: GRUB falls back to slot A"),
        "not json",
    ])  # fmt: skip
    failed = parse_journal(journal)
    assert failed == FailedChecks(
        ("stook-health-sshd.service",), ("stook-health: ssh.service is not active",)
    )
    assert failed.check == "stook-health-sshd.service"
    assert failed.describe() == "stook-health-sshd.service failed: ssh.service is not active"


def test_without_the_handlers_line_the_unit_that_complained_is_named() -> None:
    raw = list(b"stook-health: no IPv4 address on mgmt-br after 150 s \xff")
    failed = parse_journal(line("stook-health-network.service", raw))
    assert failed.check == "stook-health-network.service"
    assert failed.describe().startswith(
        "stook-health-network.service failed: no IPv4 address on mgmt-br after 150 s"
    )


def test_a_handler_that_could_not_name_the_check_leaves_it_to_the_unit_that_complained() -> None:
    journal = "\n".join([
        line("stook-health-sshd.service", "stook-health: ssh.service is not active"),
        line("stook-boot-failed.service", "a required boot check failed (unknown): reboot: x"),
    ])  # fmt: skip
    assert parse_journal(journal).check == "stook-health-sshd.service"


def test_mark_good_failing_because_a_check_failed_is_not_named_as_the_check() -> None:
    """As the e2e U2 journal had it: stook-boot-ok's handler spoke first."""
    journal = "\n".join([
        line("stook-boot-failed@stook-boot-ok.service.service",
             "a required boot check failed (stook-boot-ok.service): reboot: x"),
        line("stook-health-sshd.service", "stook-health: ssh.service is not active"),
        line("stook-boot-failed@stook-health-sshd.service.service",
             "a required boot check failed (stook-health-sshd.service): reboot: x"),
    ])  # fmt: skip
    failed = parse_journal(journal)
    assert failed.check == "stook-health-sshd.service"
    assert failed.describe() == "stook-health-sshd.service failed: ssh.service is not active"


def test_mark_good_is_named_when_it_failed_on_its_own() -> None:
    journal = line(
        "stook-boot-failed@stook-boot-ok.service.service",
        "a required boot check failed (stook-boot-ok.service): reboot: x",
    )
    assert parse_journal(journal).check == "stook-boot-ok.service"


def test_a_clean_journal_names_nothing() -> None:
    failed = parse_journal(line("stook-health-sshd.service", "sshd: active"))
    assert failed == FailedChecks() and failed.check is None and failed.describe() == ""

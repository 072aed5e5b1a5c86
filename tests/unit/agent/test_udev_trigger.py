"""The udev trigger uses pyudev's current API (its old (action, device) callback form warns)."""

from __future__ import annotations

import warnings

from stook_agent.cli import parse_args
from stook_agent.disks.triggers import UdevTrigger


def test_the_udev_trigger_starts_and_stops_without_a_deprecation_warning() -> None:
    trigger = UdevTrigger()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        trigger.start(lambda why: None)  # a netlink socket: no udev daemon needed
        trigger.stop()


def test_health_and_metrics_listen_on_loopback_unless_opened() -> None:
    assert parse_args([]).metrics_host == "127.0.0.1"
    assert parse_args(["--metrics-address", "0.0.0.0"]).metrics_host == "0.0.0.0"

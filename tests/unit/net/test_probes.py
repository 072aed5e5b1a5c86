"""The trial's probe loop (stook_core.net.probes.wait_until_all_pass) with a fake clock and a
fake probe runner (the real probes run in tests/integration/net/test_links.py)."""

from __future__ import annotations

from stook_core.net.probes import Probe, wait_until_all_pass
from support.fake_clock import FakeClock

GATEWAY, API = Probe("gateway", "10.0.2.2"), Probe("apiserver", "10.0.2.2", 6443)


def test_a_probe_that_passes_before_the_change_took_effect_does_not_judge_it() -> None:
    clock = FakeClock()

    def old_network_for_a_moment(probe: Probe) -> bool:  # networkd reconfigures after 1 s
        return clock.now < 1

    failed = wait_until_all_pass(
        [GATEWAY], 15, old_network_for_a_moment, clock=clock, sleep=clock.sleep, settle=5
    )
    assert failed == [GATEWAY]
    assert clock.now >= 15


def test_every_probe_must_pass_in_one_round_after_the_settle_time() -> None:
    clock = FakeClock()
    runs: list[tuple[float, Probe]] = []

    def flapping(probe: Probe) -> bool:  # the gateway answers every other second only
        runs.append((clock.now, probe))
        return probe == API or int(clock.now) % 2 == 0

    failed = wait_until_all_pass(
        [GATEWAY, API], 15, flapping, clock=clock, sleep=clock.sleep, settle=5
    )
    assert failed == []
    assert min(t for t, _ in runs) == 5
    assert clock.now == 6  # at 5 the gateway failed; at 6 both passed

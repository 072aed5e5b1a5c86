"""Management-network trials (stook_core.net.checkpoint) with FakeHost, the test double of
systemd, mount and ip at the Host boundary: its timer is a list entry and "systemctl start"
runs the trial's own rollback, as the transient unit would. The real systemd, mount and
networkd are exercised in the e2e tier (tests/e2e/test_networks.py)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from stook_core.net.checkpoint import Paths, Trial, TrialError, changed_netdevs
from stook_core.net.networkd import HEADER
from stook_core.net.probes import Probe

GATEWAY, API = Probe("gateway", "10.0.2.2"), Probe("apiserver", "10.0.2.2", 6443)
DNS = Probe("dns", "10.0.2.3")
BOND = HEADER + "[NetDev]\nName=mgmt-bo\nKind=bond\n\n[Bond]\nMode=active-backup\n"
BOND_LACP = BOND.replace("active-backup", "802.3ad")
BRIDGE_NET = HEADER + "[Match]\nName=mgmt-br\n\n[Network]\nDHCP=ipv4\n"
BRIDGE_VLAN = HEADER + "[Match]\nName=mgmt-br\n\n[Network]\nVLAN=mgmt-br.30\n"
VLAN = HEADER + "[NetDev]\nName=mgmt-br.30\nKind=vlan\n\n[VLAN]\nId=30\n"
BEFORE = {"10-mgmt-bo.netdev": BOND, "30-mgmt-br.network": BRIDGE_NET}
AFTER = {"10-mgmt-bo.netdev": BOND, "10-mgmt-br.30.netdev": VLAN, "30-mgmt-br.network": BRIDGE_VLAN}


class FakeHost:
    def __init__(self) -> None:
        self.calls: list[str] = []
        self.trial: Trial | None = None
        self.bound = False

    def arm_timer(self, unit: str, seconds: float, argv: list[str]) -> None:
        self.calls.append(f"arm {unit} {seconds:.0f} {' '.join(argv)}")

    def disarm_timer(self, unit: str) -> None:
        self.calls.append(f"disarm {unit}")

    def run_unit(self, unit: str) -> None:
        self.calls.append(f"start {unit}")
        assert self.trial is not None
        self.trial.rollback(unit.removeprefix("stook-net-rollback-"))

    def bind(self, source: Path, target: Path) -> None:
        self.calls.append(f"bind {source.name}")
        self.bound = True

    def unbind(self, target: Path) -> None:
        self.calls.append("unbind")
        self.bound = False

    def is_bound(self, target: Path) -> bool:
        return self.bound

    def delete_link(self, name: str) -> None:
        self.calls.append(f"delete {name}")

    def reload_networkd(self) -> None:
        self.calls.append("reload")

    def link_exists(self, name: str) -> bool:
        return True


def trial(tmp_path: Path, passes: set[Probe] | None = None) -> tuple[Trial, FakeHost, Path]:
    networkd = tmp_path / "etc-network"
    networkd.mkdir()
    for name, text in BEFORE.items():
        (networkd / name).write_text(text)
    (networkd / "50-operator.network").write_text("[Match]\nName=eno9\n")
    host = FakeHost()
    alive = {GATEWAY, API, DNS} if passes is None else passes
    paths = Paths(run=tmp_path / "run" / "mgmt", state=tmp_path / "state", networkd=networkd)
    host.trial = Trial(host, paths, ("stook-net", "rollback"), runner=lambda p: p in alive)
    return host.trial, host, networkd


def files(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(folder.iterdir())}


def test_begin_arms_the_timer_first_and_leaves_the_persistent_files_alone(tmp_path: Path) -> None:
    change, host, networkd = trial(tmp_path)
    before = files(networkd)
    checkpoint = change.begin("c1", AFTER, [GATEWAY], 60)
    assert host.calls == [
        "arm stook-net-rollback-c1 60 stook-net rollback c1",
        "bind trial",
        "reload",
    ]
    assert files(networkd) == before
    staged = files(change.paths.trial)
    assert staged == {**AFTER, "50-operator.network": "[Match]\nName=eno9\n"}
    assert change.pending() == checkpoint
    assert checkpoint.phase == "applied"
    with pytest.raises(TrialError, match="another management-network change is in its trial"):
        change.begin("c2", AFTER, [], 60)


def test_commit_disarms_and_writes_the_files_for_good(tmp_path: Path) -> None:
    change, host, networkd = trial(tmp_path)
    change.begin("c1", AFTER, [GATEWAY], 60)
    result = change.commit("c1")
    assert (result.outcome, result.by, result.failed_probes) == ("Committed", "agent", [])
    assert host.calls[-2:] == ["disarm stook-net-rollback-c1", "unbind"]
    assert files(networkd) == {**AFTER, "50-operator.network": "[Match]\nName=eno9\n"}
    assert change.pending() is None
    assert change.result("c1") == result
    # The timer's unit, should it still start, finds nothing to do.
    assert change.rollback("c1") == result


def test_the_timer_rolls_back_by_itself_and_names_the_probes_failing_then(tmp_path: Path) -> None:
    change, host, networkd = trial(tmp_path, passes={GATEWAY})
    change.begin("c1", {**AFTER, "10-mgmt-bo.netdev": BOND_LACP}, [GATEWAY, API], 60)
    host.calls.clear()
    result = change.rollback("c1")  # what the transient unit runs when the timer elapses
    assert result is not None
    assert (result.outcome, result.by) == ("RolledBack", "timer")
    assert result.failed_probes == ["apiserver 10.0.2.2:6443"]
    assert "not committed within 60 s" in result.reason
    # The bond's .netdev changed: networkd only makes netdevs, so the trial's bond goes first.
    assert host.calls == ["unbind", "delete mgmt-bo", "delete mgmt-br.30", "reload"]
    assert files(networkd)["10-mgmt-bo.netdev"] == BOND
    # The agent, back later, commits nothing: the rollback came first.
    assert change.commit("c1") == result


def test_run_commits_when_every_probe_chosen_before_passes_after(tmp_path: Path) -> None:
    change, host, _ = trial(tmp_path, passes={GATEWAY, API})  # DNS fails before: not used
    result = change.run("c1", AFTER, [GATEWAY, API, DNS], rollback_after=60, probe_timeout=0)
    assert result.outcome == "Committed"
    checkpoint_probes = [c for c in host.calls if c.startswith("arm")]
    assert checkpoint_probes == ["arm stook-net-rollback-c1 60 stook-net rollback c1"]


def test_run_rolls_back_through_the_unit_naming_the_failed_probes(tmp_path: Path) -> None:
    alive = {GATEWAY, API}
    change, host, networkd = trial(tmp_path, passes=alive)
    before = files(networkd)

    def cut_off(probe: Probe) -> bool:  # the change cuts the node off once applied
        pending = change.pending()
        return probe in alive and (pending is None or pending.phase == "arming")

    change.runner = cut_off
    result = change.run("c1", AFTER, [GATEWAY, API], rollback_after=60, probe_timeout=0)
    assert (result.outcome, result.by) == ("RolledBack", "agent")
    assert result.failed_probes == ["gateway 10.0.2.2", "apiserver 10.0.2.2:6443"]
    assert "start stook-net-rollback-c1" in host.calls
    assert files(networkd) == before


def test_changed_netdevs_are_those_whose_file_changed_or_went() -> None:
    assert changed_netdevs(BEFORE, AFTER) == []
    assert changed_netdevs(AFTER, BEFORE) == ["mgmt-br.30"]
    assert changed_netdevs(BEFORE, {**BEFORE, "10-mgmt-bo.netdev": BOND_LACP}) == ["mgmt-bo"]
    # An MTU is applied in place by the .network files: the bond stays.
    mtu = BOND.replace("Kind=bond\n", "Kind=bond\nMTUBytes=1400\n")
    assert changed_netdevs(BEFORE, {**BEFORE, "10-mgmt-bo.netdev": mtu}) == []
    assert (
        changed_netdevs(BEFORE, {**BEFORE, "10-mgmt-bo.netdev": mtu.replace("1400", "9000")}) == []
    )


def test_rolling_back_an_mtu_trial_to_the_default_makes_the_links_anew() -> None:
    """The files before the trial set no MTU, and networkd leaves an MTU it is not told to
    set: without making the bond and the VLAN anew the trial's MTU would outlive its
    rollback until the next boot."""
    with_mtu = {name: text.replace("Kind=", "MTUBytes=1400\nKind=") for name, text in AFTER.items()}
    assert changed_netdevs(with_mtu, AFTER) == ["mgmt-bo", "mgmt-br.30"]
    assert changed_netdevs(AFTER, with_mtu) == []  # the trial itself sets it in place


def test_run_refuses_a_change_no_probe_could_judge(tmp_path: Path) -> None:
    change, host, networkd = trial(tmp_path, passes=set())  # nothing answers, even before
    before = files(networkd)
    with pytest.raises(TrialError, match=r"no probe passes before the change \(tried: gateway"):
        change.run("c1", AFTER, [GATEWAY, API], rollback_after=60, probe_timeout=0)
    assert host.calls == []
    assert files(networkd) == before
    assert change.pending() is None


def test_the_trial_copy_is_readable_by_networkd_under_the_agents_umask(tmp_path: Path) -> None:
    """networkd runs as systemd-network: a trial folder or file only root can read makes it
    drop the management network (what the e2e node did under the agent's UMask=0077)."""
    t, _, networkd = trial(tmp_path)
    networkd.chmod(0o755)
    (networkd / "50-operator.network").chmod(0o644)
    old = os.umask(0o077)
    try:
        t.begin("c1", AFTER, [GATEWAY], 60)
    finally:
        os.umask(old)
    staged = tmp_path / "run" / "mgmt" / "trial"
    assert stat.S_IMODE(staged.stat().st_mode) == 0o755
    for path in staged.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path.name

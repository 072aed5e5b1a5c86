"""Leader election of the cluster side against a real kube-apiserver, with real processes.

Each candidate is a separate ``Manager`` process (``serve`` below) whose only cluster runnable
is ``LedgerWriterTestDouble``: while its manager leads, it appends "<identity>" lines to a
ConfigMap with optimistic concurrency. Two leaders at once would interleave their lines; a
leader that kept acting after losing the Lease would write after its successor. The ledger is
the record of who acted when; the tests kill (SIGKILL), pause (SIGSTOP) and stop (SIGTERM)
leaders and read it.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client as k8s

from integration.agent.kubehelpers import REPO, wait_until
from stook_agent.kube import api_client
from stook_agent.runtime.client import Object, ResourceClient
from stook_agent.runtime.errors import is_status
from stook_agent.runtime.kinds import LEASE, NAMESPACE
from stook_agent.runtime.leader import LeaseSettings
from stook_agent.runtime.manager import Manager, ManagerSettings
from stook_agent.runtime.resource import Resource
from support.apiserver import KubeCluster

CONFIG_MAP = Resource("", "v1", "configmaps", "ConfigMap", namespaced=True)
LEASE_NAMESPACE = "stook-system"
TIMINGS = {"lease_duration": 3.0, "renew_deadline": 2.0, "retry_period": 0.5}


class LedgerWriterTestDouble:
    """A cluster controller stand-in: while leading, append our identity to the ledger."""

    name = "ledger-writer"
    needs_leader = True

    def __init__(self, manager: Manager, ledger: str, identity: str) -> None:
        self.manager = manager
        self.maps = manager.client(CONFIG_MAP, cluster=True)
        self.key = f"{LEASE_NAMESPACE}/{ledger}"
        self.identity = identity
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, drain_timeout: float) -> None:
        self._stop.set()

    def healthy(self) -> bool:
        return True

    def ready(self) -> bool:
        return True

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            if not self.manager.is_leader():  # as every cluster controller checks before a write
                continue
            try:
                ledger = self.maps.get(self.key)
                ledger["data"]["log"] += f"{self.identity}\n"
                self.maps.replace(self.key, ledger)  # carries resourceVersion: 409 if raced
            except Exception as error:
                if not is_status(error, 409):
                    print(f"ledger write failed: {error}", flush=True)


def serve(kubeconfig: str, identity: str, lease: str) -> None:
    """One candidate process (run by the tests through ``python -c``)."""
    import logging

    logging.basicConfig(level="INFO", format="%(asctime)s %(name)s: %(message)s")
    settings = LeaseSettings(identity=identity, namespace=LEASE_NAMESPACE, name=lease, **TIMINGS)
    manager = Manager(
        api_client(kubeconfig),
        ManagerSettings(metrics_port=0, drain_timeout=2.0, lease=settings),
        cluster_api=api_client(kubeconfig),
    )
    manager.add(LedgerWriterTestDouble(manager, lease, identity))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda _s, _f: stop.set())
    sys.exit(manager.run(stop))


class Candidates:
    def __init__(self, kubeconfig: Path, lease: str, workdir: Path) -> None:
        self.kubeconfig = kubeconfig
        self.lease = lease
        self.workdir = workdir
        self.processes: dict[str, subprocess.Popen[str]] = {}

    def start(self, identity: str) -> None:
        code = (
            "import sys; from integration.agent.test_leader_election import serve; "
            "serve(*sys.argv[1:])"
        )
        log = (self.workdir / f"{identity}.log").open("w")
        env = os.environ | {"PYTHONPATH": str(REPO / "tests")}
        self.processes[identity] = subprocess.Popen(
            [sys.executable, "-c", code, str(self.kubeconfig), identity, self.lease],
            stdout=log, stderr=subprocess.STDOUT, text=True, env=env,
        )  # fmt: skip

    def log(self, identity: str) -> str:
        return (self.workdir / f"{identity}.log").read_text(errors="replace")

    def logs(self) -> str:
        return "\n".join(f"--- {i}\n{self.log(i)[-1500:]}" for i in self.processes)

    def close(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGCONT)
                process.kill()
                process.wait()


@pytest.fixture
def candidates(cluster: KubeCluster, api: k8s.ApiClient, tmp_path: Path) -> Iterator[Candidates]:
    admin = api_client(str(cluster.kubeconfig))
    try:
        ResourceClient(admin, NAMESPACE).create(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": LEASE_NAMESPACE}}
        )
    except Exception as error:
        if not is_status(error, 409):
            raise
    lease = f"test-{uuid.uuid4().hex[:8]}"
    ResourceClient(admin, CONFIG_MAP).create({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": lease, "namespace": LEASE_NAMESPACE}, "data": {"log": ""},
    })  # fmt: skip
    running = Candidates(cluster.kubeconfig, lease, tmp_path)
    yield running
    running.close()


def ledger(candidates: Candidates) -> list[str]:
    admin = ResourceClient(api_client(str(candidates.kubeconfig)), CONFIG_MAP)
    text: str = admin.get(f"{LEASE_NAMESPACE}/{candidates.lease}")["data"]["log"]
    return text.split()


def lease(candidates: Candidates) -> Object:
    admin = ResourceClient(api_client(str(candidates.kubeconfig)), LEASE)
    return admin.get(f"{LEASE_NAMESPACE}/{candidates.lease}")


def terms(entries: list[str]) -> list[str]:
    """Who acted, in order, one name per uninterrupted run: ['a', 'b'] for a a a b b."""
    runs = [who for who, _ in itertools.groupby(entries)]
    assert len(runs) == len(set(runs)), f"two processes acted in turns: {runs}"
    return runs


def acting(candidates: Candidates, after: int = 0) -> str | None:
    """The identity of the process writing the ledger now (after *after* entries)."""
    entries = ledger(candidates)[after:]
    return entries[-1] if len(entries) >= 3 else None


def test_three_candidates_one_acts_and_another_takes_over_when_it_is_killed(
    candidates: Candidates,
) -> None:
    for identity in ("c0", "c1", "c2"):
        candidates.start(identity)
    first = wait_until(lambda: acting(candidates), "a leader to act", explain=candidates.logs)
    record = lease(candidates)["spec"]
    assert record["holderIdentity"] == first
    assert record["leaseDurationSeconds"] == 3

    candidates.processes[first].kill()  # SIGKILL: no release, the Lease must expire
    seen = len(ledger(candidates))
    second = wait_until(
        lambda: (who := acting(candidates, seen)) != first and who,
        "another candidate to act within the lease duration",
        timeout=TIMINGS["lease_duration"] + TIMINGS["retry_period"] + 5,  # the spec's bound
        explain=candidates.logs,
    )
    record = lease(candidates)["spec"]
    assert record["holderIdentity"] == second
    assert record["leaseTransitions"] == 1

    # A clean stop releases the Lease: the third takes over without waiting for it to expire.
    candidates.processes[second].send_signal(signal.SIGTERM)
    assert candidates.processes[second].wait(timeout=30) == 0
    seen = len(ledger(candidates))
    third = wait_until(
        lambda: (who := acting(candidates, seen)) not in (first, second) and who,
        "the third candidate to act after the release",
        timeout=TIMINGS["lease_duration"],
        explain=candidates.logs,
    )
    assert "released Lease" in candidates.log(second)
    assert terms(ledger(candidates)) == [first, second, third]


def test_a_paused_leader_loses_the_lease_stops_acting_and_exits(candidates: Candidates) -> None:
    for identity in ("p0", "p1"):
        candidates.start(identity)
    first = wait_until(lambda: acting(candidates), "a leader to act", explain=candidates.logs)
    other = "p1" if first == "p0" else "p0"

    paused = candidates.processes[first]
    paused.send_signal(signal.SIGSTOP)  # frozen mid-term: its renewals stop, its clock runs on
    seen = len(ledger(candidates))
    wait_until(
        lambda: acting(candidates, seen) == other,
        "the other candidate to take over",
        timeout=TIMINGS["lease_duration"] + TIMINGS["retry_period"] + 5,
        explain=candidates.logs,
    )
    paused.send_signal(signal.SIGCONT)
    assert paused.wait(timeout=30) == 1, "the former leader must exit (LOST_LEADERSHIP)"
    log = candidates.log(first)
    assert "lost Lease" in log, log[-2000:]
    wait_until(lambda: len(ledger(candidates)) > seen + 10, "the new leader to keep acting")
    assert terms(ledger(candidates)) == [first, other]

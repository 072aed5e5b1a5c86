"""start/stop/restart by the run-strategy table, and status from KubeVirt's and CDI's objects."""

from __future__ import annotations

from typing import Any

import pytest

from stook_agent.api.virtualserver import VirtualServer
from stook_agent.vms.actions import TABLE, Plan, RefusedError, plan
from stook_agent.vms.status import Observed, derive

SEED_TABLE = """
Always           -               Halted          Always
RerunOnFailure   RerunOnFailure  RerunOnFailure  RerunOnFailure
Manual           Manual          Manual          Manual
Halted           Always          -               -
"""


def test_the_table_is_the_seeds() -> None:
    rows = [line.split() for line in SEED_TABLE.strip().splitlines()]
    for strategy, *cells in rows:
        expected = [None if cell == "-" else cell for cell in cells]
        assert [TABLE[strategy][a] for a in ("start", "stop", "restart")] == expected  # type: ignore[index]


def test_changes_of_run_strategy() -> None:
    assert plan("stop", "Always", "uid-1", False, False).run_strategy == "Halted"
    assert plan("start", "Halted", None, False, False).run_strategy == "Always"


def test_state_change_requests_as_virt_api_queues_them() -> None:
    assert plan("restart", "Always", "u", False, False) == Plan(
        requests=({"action": "Stop", "uid": "u"}, {"action": "Start"}), message="restart requested"
    )
    assert plan("stop", "Manual", "u", False, False).requests == ({"action": "Stop", "uid": "u"},)
    assert plan("start", "RerunOnFailure", None, False, False).requests == ({"action": "Start"},)
    # A finished VMI is not running: Manual starts it again.
    assert plan("start", "Manual", "u", True, False).requests == ({"action": "Start"},)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("start", "Always", "u", False, False), r"start is not possible with runStrategy Always"),
        (("stop", "Halted", None, False, False), r"'-' there: it is kept stopped"),
        (("restart", "Halted", None, False, False), r"restart is not possible"),
        (("start", "Manual", "u", False, False), r"already running"),
        (("stop", "Manual", None, False, False), r"not running"),
        (("restart", "RerunOnFailure", None, False, False), r"not running"),
        (("restart", "Manual", "u", False, True), r"still being carried out"),
        (("reboot", "Manual", "u", False, False), r"unknown action 'reboot'"),
    ],
)
def test_refusals_say_why(args: tuple[Any, ...], message: str) -> None:
    with pytest.raises(RefusedError, match=message):
        plan(*args)


SERVER = {
    "apiVersion": "stook.io/v1alpha1",
    "kind": "VirtualServer",
    "metadata": {"name": "vm1", "namespace": "ns", "uid": "u1", "generation": 4},
    "spec": {
        "resources": {"memory": "1Gi"},
        "storage": {"root": {"size": "1Gi", "source": {"http": {"url": "http://x/d.img"}}}},
    },
}
NOW = "2026-12-01T21:00:00Z"


def conditions(status: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}


def test_status_while_importing_and_once_running() -> None:
    vs = VirtualServer.parse(SERVER)
    dv = {"metadata": {"name": "vm1-x-root"},
          "status": {"phase": "ImportInProgress", "progress": "12.5%"}}  # fmt: skip
    status = derive(vs, Observed(data_volume=dv), NOW)
    assert status["printableStatus"] == "Provisioning" and status["importProgress"] == "12.5%"
    assert conditions(status) == {
        "DataImported": ("False", "ImportInProgress"),
        "Ready": ("False", "NotRunning"),
        "Paused": ("False", "NotPaused"),
        "Failure": ("False", "NoFailure"),
    }
    assert status["observedGeneration"] == 4

    ready = {"type": "Ready", "status": "True", "reason": "", "message": ""}
    vm = {"metadata": {"name": "vm1-x"}, "status": {"printableStatus": "Running",
                                                     "conditions": [ready]}}  # fmt: skip
    vmi = {"status": {"nodeName": "n2", "interfaces": [
        {"name": "net1", "ipAddress": "192.168.1.5"},
        {"name": "default", "ipAddress": "10.0.0.5", "ipAddresses": ["10.0.0.5", "fd::5"]},
    ]}}  # fmt: skip
    done = {"metadata": {"name": "vm1-x-root"}, "status": {"phase": "Succeeded"}}
    status = derive(vs, Observed(vm=vm, vmi=vmi, data_volume=done), NOW)
    assert status["printableStatus"] == "Running" and status["nodeName"] == "n2"
    assert status["ips"] == ["10.0.0.5", "fd::5", "192.168.1.5"]
    assert conditions(status)["Ready"] == ("True", "Ready")
    assert conditions(status)["DataImported"] == ("True", "Succeeded")


def test_a_collected_datavolume_is_judged_by_its_claim() -> None:
    vs = VirtualServer.parse(SERVER)
    bound = {"metadata": {"name": "vm1-x-root"}, "status": {"phase": "Bound"}}
    assert conditions(derive(vs, Observed(root_claim=bound), NOW))["DataImported"] == (
        "True", "ClaimBound",
    )  # fmt: skip
    pending = {"metadata": {"name": "vm1-x-root"}, "status": {"phase": "Pending"}}
    assert conditions(derive(vs, Observed(root_claim=pending), NOW))["DataImported"][0] == "False"


def test_failures() -> None:
    vs = VirtualServer.parse(SERVER)
    failed = {"metadata": {"name": "d"}, "status": {"phase": "Failed"}}
    status = derive(vs, Observed(data_volume=failed), NOW)
    assert conditions(status)["Failure"] == ("True", "ImportFailed")
    assert status["printableStatus"] == "DataVolumeError"
    status = derive(vs, Observed(render_error="spec.x: bad"), NOW)
    assert conditions(status)["Failure"] == ("True", "InvalidSpec")

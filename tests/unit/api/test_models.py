"""The typed models read what the API server returns and write the wire form back."""

from __future__ import annotations

import pytest

from stook_agent.api import BlockDevice, NodeStatus
from stook_agent.api.blockdevice import BlockDeviceSpec
from stook_agent.api.meta import Condition, InvalidObjectError, ObjectMeta, set_condition

SERVER_OBJECT = {
    "apiVersion": "stook.io/v1alpha1",
    "kind": "BlockDevice",
    "metadata": {
        "name": "n1-0123456789abcdef",
        "labels": {"stook.io/node": "n1"},
        "generation": 3,
        "resourceVersion": "42",
        "managedFields": [{"manager": "someone"}],
    },
    "spec": {"nodeName": "n1", "provision": "longhorn", "provisioner": {"passthrough": {}}},
    "status": {
        "state": "Active",
        "futureField": "from a newer agent",
        "deviceStatus": {"capacity": 1 << 30, "capacityGiB": 1.0, "details": {"ptUUID": "ab"}},
        "conditions": [{"type": "Ready", "status": "True", "reason": "Provisioned",
                        "message": "ok", "lastTransitionTime": "2026-01-02T03:04:05Z"}],
    },
}  # fmt: skip


def test_a_server_object_parses_with_defaults_and_ignores_unknown_fields() -> None:
    device = BlockDevice.parse(SERVER_OBJECT)
    assert device.metadata.generation == 3
    assert device.spec.provision == "longhorn" and device.spec.force_format is False
    assert device.spec.provisioner.passthrough.storage_class_name is None
    assert device.status.device_status is not None
    assert device.status.device_status.details is not None
    assert device.status.device_status.details.pt_uuid == "ab"
    assert device.status.to_dict()["deviceStatus"]["details"] == {"ptUUID": "ab"}
    assert "futureField" not in device.status.to_dict()


def test_an_object_that_does_not_fit_names_the_field_and_the_rule() -> None:
    bad = {**SERVER_OBJECT, "spec": {"nodeName": "n1", "provision": "raid0"}}
    with pytest.raises(
        InvalidObjectError,
        match=r"BlockDevice n1-0123456789abcdef .*spec\.provision: Input should be 'none', "
        r"'longhorn' or 'passthrough'",
    ):
        BlockDevice.parse(bad)


def test_a_create_body_leaves_defaults_to_the_api_server() -> None:
    body = BlockDevice(
        metadata=ObjectMeta(name="n1-x", labels={"stook.io/node": "n1"}),
        spec=BlockDeviceSpec(node_name="n1", dev_path="/dev/sdb"),
    ).body()
    assert body == {
        "apiVersion": "stook.io/v1alpha1",
        "kind": "BlockDevice",
        "metadata": {"name": "n1-x", "labels": {"stook.io/node": "n1"}},
        "spec": {"nodeName": "n1", "devPath": "/dev/sdb"},
    }
    assert NodeStatus.KIND.validations  # NodeStatus is named after its node (a CEL rule)


def test_set_condition_keeps_the_transition_time_unless_the_status_flips() -> None:
    first = set_condition([], "Ready", "True", "Ok", "fine", 1, now="2026-01-01T00:00:00Z")
    again = set_condition(first, "Ready", "True", "Ok", "still", 2, now="2026-01-02T00:00:00Z")
    flipped = set_condition(again, "Ready", "False", "Bad", "no", 3, now="2026-01-03T00:00:00Z")
    assert [c.last_transition_time for c in (*first, *again, *flipped)] == [
        "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", "2026-01-03T00:00:00Z",
    ]  # fmt: skip
    assert isinstance(flipped[0], Condition) and flipped[0].observed_generation == 3

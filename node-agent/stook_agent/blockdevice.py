"""BlockDevice reconciler placeholder until the disk controller (a separate issue) lands.

It acknowledges each of this node's BlockDevices in status (observedGeneration and a Ready
condition saying the disk controller is not there yet), so operators and the bench can see that
the agent received the object. It never touches a disk.
"""

from __future__ import annotations

from stook_agent.runtime.client import Object, ResourceClient, object_key
from stook_agent.runtime.conditions import find_condition, set_condition
from stook_agent.runtime.controller import Reconciler, Result

REASON = "DiskControllerPending"
MESSAGE = "seen by the node agent; the disk controller is not implemented yet"


class BlockDeviceAcknowledger(Reconciler):
    def __init__(self, client: ResourceClient) -> None:
        self.client = client

    def reconcile(self, obj: Object) -> Result:
        generation = int(obj["metadata"].get("generation", 1))
        ready = find_condition(obj, "Ready")
        if ready and ready.get("observedGeneration") == generation and ready["reason"] == REASON:
            return Result()
        status = obj.get("status") or {}
        conditions = set_condition(
            status.get("conditions"), "Ready", "Unknown", REASON, MESSAGE, generation
        )
        self.client.patch_status(object_key(obj), {"conditions": conditions})
        return Result()

"""The VirtualServer cluster controller: renders each VirtualServer, applies the objects with
server-side apply, carries out start/stop/restart requests and maps KubeVirt's state back.

Watches VirtualServers; informers on the VMs, VMIs and DataVolumes it made (selected by the
``vms.stook.io/virtualserver`` label) queue their VirtualServer again when they change, and
serve as the caches status is read from. Everything it makes is owned by the VirtualServer
(the DataVolume from a template by the VM, as KubeVirt does), so deleting it deletes them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from stook_agent.api.blockdevice import BlockDevice
from stook_agent.api.meta import InvalidObjectError
from stook_agent.api.virtualserver import ACTION_ANNOTATION, VirtualServer
from stook_agent.resources import BLOCK_DEVICE
from stook_agent.runtime.client import Object, ResourceClient, is_status, object_key
from stook_agent.runtime.controller import Controller, ControllerOptions, Reconciler, Result
from stook_agent.runtime.events import EventRecorder, EventType
from stook_agent.runtime.informer import Informer
from stook_agent.runtime.kinds import PERSISTENT_VOLUME
from stook_agent.runtime.metrics import Metrics
from stook_agent.runtime.resource import Resource
from stook_agent.vms import actions
from stook_agent.vms.kubevirt import (
    DATA_VOLUME,
    FIELD_MANAGER,
    PERSISTENT_VOLUME_CLAIM,
    SERVER_LABEL,
    SERVICE,
    VIRTUAL_MACHINE,
    VIRTUAL_MACHINE_INSTANCE,
    VIRTUAL_SERVER,
    root_claim,
    vm_name,
)
from stook_agent.vms.render import PassthroughVolume, Rendered, RenderError, render
from stook_agent.vms.status import Observed, derive

log = logging.getLogger(__name__)
FINAL_PHASES = ("Succeeded", "Failed")
KUBEVIRT_GRACE = 10.0  # s without KubeVirt's/CDI's lists before a VirtualServer says so
WATCHED = (("vm", VIRTUAL_MACHINE), ("vmi", VIRTUAL_MACHINE_INSTANCE), ("dv", DATA_VOLUME))


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Clients:
    """One client per resource the controller touches (all through the cluster credential)."""

    servers: ResourceClient
    vms: ResourceClient
    vmis: ResourceClient
    data_volumes: ResourceClient
    services: ResourceClient
    claims: ResourceClient
    volumes: ResourceClient
    devices: ResourceClient

    @classmethod
    def using(cls, client: Callable[[Resource], ResourceClient]) -> Clients:
        return cls(
            client(VIRTUAL_SERVER), client(VIRTUAL_MACHINE), client(VIRTUAL_MACHINE_INSTANCE),
            client(DATA_VOLUME), client(SERVICE), client(PERSISTENT_VOLUME_CLAIM),
            client(PERSISTENT_VOLUME), client(BLOCK_DEVICE),
        )  # fmt: skip


def _get(client: ResourceClient, key: str) -> Object | None:
    try:
        return client.get(key)
    except Exception as error:
        if is_status(error, 404):
            return None
        raise


class VirtualServerReconciler(Reconciler):
    def __init__(
        self,
        clients: Clients,
        caches: dict[str, Informer],
        recorder: EventRecorder | None,
        poll: float = 30.0,
        leading: Callable[[], bool] | None = None,
    ) -> None:
        self.clients = clients
        self.leading = leading
        self.servers = clients.servers
        self.caches = caches
        self.recorder = recorder
        self.poll = poll
        self._waiting_since = 0.0

    def _event(self, obj: Object, type_: EventType, reason: str, message: str) -> None:
        if self.recorder is not None:
            self.recorder.record(obj, type_, reason, message)

    def _cached(self, kind: str, namespace: str, name: str) -> Object | None:
        return self.caches[kind].get(f"{namespace}/{name}")

    # -- reconcile -------------------------------------------------------------------------

    def reconcile(self, obj: Object) -> Result:
        key = object_key(obj)
        if self.leading is not None and not self.leading():
            return Result()  # the Lease is gone: the next leader acts (we are being stopped)
        unsynced = [kind for kind, cache in self.caches.items() if not cache.synced.is_set()]
        if unsynced:  # status and actions read these caches
            return self._wait_for_kubevirt(obj, key, unsynced)
        try:
            vs = VirtualServer.parse(obj)
        except InvalidObjectError as error:
            self._fail(obj, key, str(error))
            return Result()
        namespace = vs.metadata.namespace or ""
        assert vs.metadata.uid is not None
        vm = vm_name(vs.metadata.name, vs.metadata.uid)
        action = vs.metadata.annotations.get(ACTION_ANNOTATION)
        if action is not None:
            return self._act(obj, key, vs, vm, action)
        try:
            rendered = render(vs, self._passthrough(vs))
        except RenderError as error:
            self._fail(obj, key, str(error), vs)
            return Result(requeue_after=self.poll)
        self._apply(vs, rendered)
        status = derive(vs, self._observe(vs, namespace, vm, rendered))
        if vs.status.last_action is not None:
            status["lastAction"] = vs.status.last_action.to_dict()
        self.servers.patch_status(key, status)
        settled = all(
            c.get("status") == "True"
            for c in status["conditions"]
            if c["type"] in ("DataImported", "Ready")
        )
        return Result() if settled else Result(requeue_after=self.poll)

    def _wait_for_kubevirt(self, obj: Object, key: str, unsynced: list[str]) -> Result:
        """Wait for the caches; after a while, say why on the object (KubeVirt or CDI missing)."""
        now = time.monotonic()
        self._waiting_since = self._waiting_since or now
        if now - self._waiting_since > KUBEVIRT_GRACE:
            kinds = ", ".join(resource.plural for kind, resource in WATCHED if kind in unsynced)
            self._set_failure(obj, key, "KubeVirtUnavailable", f"cannot list {kinds}: are "
                              "KubeVirt and CDI installed (their CRDs), and may stook-controller "
                              "read them?")  # fmt: skip
            return Result(requeue_after=KUBEVIRT_GRACE)
        return Result(requeue_after=0.5)

    def _set_failure(self, obj: Object, key: str, reason: str, message: str) -> None:
        failure = {"type": "Failure", "status": "True", "reason": reason,
                   "message": message[:32768], "lastTransitionTime": _now()}  # fmt: skip
        current = [c for c in (obj.get("status") or {}).get("conditions") or []
                   if c.get("type") != "Failure"]  # fmt: skip
        self.servers.patch_status(key, {"conditions": [*current, failure]})

    def _fail(self, obj: Object, key: str, message: str, vs: VirtualServer | None = None) -> None:
        log.warning("VirtualServer %s: %s", key, message)
        self._event(obj, "Warning", "InvalidSpec", message)
        if vs is None:
            self._set_failure(obj, key, "InvalidSpec", message)
        else:
            self.servers.patch_status(key, derive(vs, Observed(render_error=message)))

    def _passthrough(self, vs: VirtualServer) -> dict[str, PassthroughVolume]:
        """The passthrough PersistentVolume of each blockDevice disk that has one."""
        found: dict[str, PassthroughVolume] = {}
        for disk in vs.spec.storage.additional_disks:
            if disk.block_device is None:
                continue
            name = disk.block_device.name
            device = _get(self.clients.devices, name)
            pv_spec = (_get(self.clients.volumes, name) or {}).get("spec") or {}
            try:
                provisioned = device is not None and (
                    BlockDevice.parse(device).status.provisioned_as == "passthrough"
                )
            except InvalidObjectError:
                provisioned = False
            if provisioned and pv_spec.get("volumeMode") == "Block":
                capacity = pv_spec["capacity"]["storage"]
                storage_class = pv_spec.get("storageClassName", "")
                found[disk.name] = PassthroughVolume(name, storage_class, capacity)
        return found

    def _apply(self, vs: VirtualServer, rendered: Rendered) -> None:
        for claim in rendered.claims:
            self.clients.claims.apply(claim, FIELD_MANAGER)
        if rendered.data_volume is not None:
            self.clients.data_volumes.apply(rendered.data_volume, FIELD_MANAGER)
        self.clients.vms.apply(rendered.vm, FIELD_MANAGER)
        if rendered.service is not None:
            self.clients.services.apply(rendered.service, FIELD_MANAGER)
            return
        key = f"{vs.metadata.namespace}/{vs.metadata.name}"
        existing = _get(self.clients.services, key)  # no ports (any more): ours goes
        owners = ((existing or {}).get("metadata") or {}).get("ownerReferences") or []
        if any(owner.get("uid") == vs.metadata.uid for owner in owners):
            self.clients.services.delete(key)

    def _observe(self, vs: VirtualServer, namespace: str, vm: str, rendered: Rendered) -> Observed:
        root = vs.spec.storage.root
        needs_import = not (root.ephemeral and root.source.http is None)
        claim = root_claim(vm)
        data_volume = self._cached("dv", namespace, claim)
        root_pvc = None
        if needs_import and data_volume is None:  # collected after the import, or not yet made
            root_pvc = _get(self.clients.claims, f"{namespace}/{claim}")
        return Observed(
            vm=self._cached("vm", namespace, vm) or rendered.vm,
            vmi=self._cached("vmi", namespace, vm),
            data_volume=data_volume,
            root_claim=root_pvc,
            needs_import=needs_import,
        )

    # -- actions ---------------------------------------------------------------------------

    def _act(self, obj: Object, key: str, vs: VirtualServer, vm: str, action: str) -> Result:
        namespace = vs.metadata.namespace or ""
        # Read live, not from the caches: an action is rare, and deciding it on a cache that
        # has not yet seen the VM or its instance would refuse or queue the wrong thing.
        vm_obj = _get(self.clients.vms, f"{namespace}/{vm}")
        vmi = _get(self.clients.vmis, f"{namespace}/{vm}")
        vmi_status = (vmi or {}).get("status") or {}
        pending = bool(((vm_obj or {}).get("status") or {}).get("stateChangeRequests"))
        try:
            plan = actions.plan(
                action.strip().lower(),
                vs.spec.run_strategy,
                (vmi or {}).get("metadata", {}).get("uid"),
                vmi_status.get("phase") in FINAL_PHASES,
                pending,
            )
        except actions.RefusedError as refused:
            self._done(obj, key, action, False, str(refused))
            return Result()
        if plan.requests and vm_obj is None:
            self._done(obj, key, action, False, f"{action}: the VM {vm} does not exist yet")
            return Result()
        # Claim the request first (a conditional write): a stale cache fails here, before
        # anything is done, and a restart is never carried out twice.
        self._claim(obj, key, plan.run_strategy)
        if plan.requests:
            try:
                self.clients.vms.patch_status(
                    f"{namespace}/{vm}", {"stateChangeRequests": list(plan.requests)}
                )
            except Exception as error:
                message = f"{action}: queueing it on the VM failed ({error})"
                self._record(obj, key, action, False, message)
                return Result()
        self._record(obj, key, action, True, plan.message)
        return Result()

    def _claim(self, obj: Object, key: str, run_strategy: str | None = None) -> None:
        """Take the request off the object, with any new run strategy, in one write that fails
        if the object changed since it was read."""
        patch: Object = {
            "metadata": {
                "annotations": {ACTION_ANNOTATION: None},
                "resourceVersion": obj["metadata"]["resourceVersion"],
            }
        }
        if run_strategy is not None:
            patch["spec"] = {"runStrategy": run_strategy}
        self.servers.patch(key, patch)

    def _done(self, obj: Object, key: str, action: str, accepted: bool, message: str) -> None:
        self._claim(obj, key)
        self._record(obj, key, action, accepted, message)

    def _record(self, obj: Object, key: str, action: str, accepted: bool, message: str) -> None:
        """The outcome: status.lastAction and an event."""
        outcome = {"action": action[:64], "accepted": accepted, "message": message, "time": _now()}
        self.servers.patch_status(key, {"lastAction": outcome})
        if action in actions.ACTIONS:
            reason = f"{action.capitalize()}{'Accepted' if accepted else 'Refused'}"
        else:
            reason = "ActionRefused"
        self._event(obj, "Normal" if accepted else "Warning", reason, message)


class VirtualServerController:
    """A cluster controller (a Runnable that needs the lease): the VirtualServer controller
    and its informers on VMs, VMIs and DataVolumes, started and stopped together."""

    name = "virtualservers"
    needs_leader = True

    def __init__(
        self,
        clients: Clients,
        metrics: Metrics,
        recorder: EventRecorder | None = None,
        options: ControllerOptions | None = None,
        poll: float = 30.0,
        leading: Callable[[], bool] | None = None,
    ) -> None:
        """*leading*: whether this process still holds the Lease (checked before each reconcile)."""
        self.caches: dict[str, Informer] = {}
        self.reconciler = VirtualServerReconciler(clients, self.caches, recorder, poll, leading)
        self.controller = Controller(
            self.name, clients.servers, self.reconciler, metrics, recorder, options
        )
        by_kind = {"vm": clients.vms, "vmi": clients.vmis, "dv": clients.data_volumes}
        for kind, _ in WATCHED:
            self.caches[kind] = Informer(
                f"{self.name}-{kind}", by_kind[kind], self._requeue_owner, metrics,
                label_selector=SERVER_LABEL,
            )  # fmt: skip
        self._threads: list[threading.Thread] = []
        self._stopped = False

    def _requeue_owner(self, key: str, old: Object | None, new: Object | None) -> None:
        meta = (new or old or {}).get("metadata") or {}
        owner = (meta.get("labels") or {}).get(SERVER_LABEL)
        if owner and meta.get("namespace"):
            self.controller.queue.add(f"{meta['namespace']}/{owner}")

    def start(self) -> None:
        for kind, informer in self.caches.items():
            thread = threading.Thread(target=informer.run, name=f"vms-{kind}", daemon=True)
            thread.start()
            self._threads.append(thread)
        self.controller.start()

    def stop(self, drain_timeout: float = 10.0) -> None:
        self._stopped = True
        self.controller.stop(drain_timeout)
        for informer in self.caches.values():
            informer.stop()
        for thread in self._threads:
            thread.join(timeout=max(0.1, drain_timeout))

    def ready(self) -> bool:
        """Ready once VirtualServers are listed: a cluster without KubeVirt must not make the
        whole agent unready (its VirtualServers say what is missing instead)."""
        return self.controller.ready()

    def synced(self) -> bool:
        return self.ready() and all(i.synced.is_set() for i in self.caches.values())

    def healthy(self) -> bool:
        threads = self._stopped or all(t.is_alive() for t in self._threads)
        return self.controller.healthy() and threads

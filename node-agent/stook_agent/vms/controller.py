"""The VirtualServer cluster controller: renders each VirtualServer, applies the objects with
server-side apply, carries out start/stop/restart requests and maps KubeVirt's state back.

Watches VirtualServers; informers on the VMs, VMIs and DataVolumes it made (selected by the
``vms.stook.io/virtualserver`` label) queue their VirtualServer again when they change, and
serve as the caches status is read from. Everything it makes is owned by the VirtualServer
(the DataVolume from a template by the VM, as KubeVirt does), so deleting it deletes them.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime
from typing import Any, cast

from kubernetes import client as k8s

from stook_agent.api.blockdevice import BlockDevice
from stook_agent.api.meta import InvalidObjectError
from stook_agent.api.virtualserver import ACTION_ANNOTATION, VirtualServer
from stook_agent.resources import BLOCK_DEVICE
from stook_agent.runtime.client import Object, ResourceClient, is_status, object_key
from stook_agent.runtime.controller import Controller, ControllerOptions, Reconciler, Result
from stook_agent.runtime.events import EventRecorder
from stook_agent.runtime.informer import Informer
from stook_agent.runtime.metrics import Metrics
from stook_agent.vms import actions
from stook_agent.vms.kubevirt import (
    DATA_VOLUME,
    FIELD_MANAGER,
    SERVER_LABEL,
    VIRTUAL_MACHINE,
    VIRTUAL_MACHINE_INSTANCE,
    VIRTUAL_SERVER,
    root_claim,
    vm_name,
)
from stook_agent.vms.render import PassthroughVolume, Rendered, RenderError, render
from stook_agent.vms.status import Observed, derive

log = logging.getLogger(__name__)
APPLY = "application/apply-patch+yaml"
TIMEOUT = 30
FINAL_PHASES = ("Succeeded", "Failed")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Applier:
    """Server-side apply (as field manager stook-vms) of custom and core objects."""

    def __init__(self, api: k8s.ApiClient) -> None:
        self.objects = k8s.CustomObjectsApi(api)
        self.core = k8s.CoreV1Api(api)

    def custom(self, resource: Any, body: Object) -> None:
        meta = body["metadata"]
        self.objects.patch_namespaced_custom_object(
            resource.group, resource.version, meta["namespace"], resource.plural, meta["name"],
            body, field_manager=FIELD_MANAGER, force=True, _content_type=APPLY,
            _request_timeout=TIMEOUT,
        )  # fmt: skip

    def service(self, body: Object) -> None:
        self._core(self.core.patch_namespaced_service, body)

    def claim(self, body: Object) -> None:
        self._core(self.core.patch_namespaced_persistent_volume_claim, body)

    @staticmethod
    def _core(patch: Any, body: Object) -> None:
        meta = body["metadata"]
        patch(meta["name"], meta["namespace"], body, field_manager=FIELD_MANAGER, force=True,
              _content_type=APPLY, _request_timeout=TIMEOUT)  # fmt: skip


def _read(call: Any, *args: str) -> Object | None:
    """A core object as plain JSON (the wire form), or None when it is not there."""
    try:
        reply = call(*args, _preload_content=False, _request_timeout=TIMEOUT)
    except Exception as error:
        if is_status(error, 404):
            return None
        raise
    return cast(Object, json.loads(reply.data))


def _owned_by(obj: Any, uid: str | None) -> bool:
    return any(ref.uid == uid for ref in (obj.metadata.owner_references or []))


class VirtualServerReconciler(Reconciler):
    def __init__(
        self,
        api: k8s.ApiClient,
        servers: ResourceClient,
        caches: dict[str, Informer],
        recorder: EventRecorder | None,
        poll: float = 30.0,
    ) -> None:
        self.api = api
        self.servers = servers
        self.vms = ResourceClient(api, VIRTUAL_MACHINE)
        self.devices = ResourceClient(api, BLOCK_DEVICE)
        self.core = k8s.CoreV1Api(api)
        self.apply = Applier(api)
        self.caches = caches
        self.recorder = recorder
        self.poll = poll

    def _event(self, obj: Object, type_: Any, reason: str, message: str) -> None:
        if self.recorder is not None:
            self.recorder.record(obj, type_, reason, message)

    def _cached(self, kind: str, namespace: str, name: str) -> Object | None:
        return self.caches[kind].get(f"{namespace}/{name}")

    # -- reconcile -------------------------------------------------------------------------

    def reconcile(self, obj: Object) -> Result:
        key = object_key(obj)
        if not all(cache.synced.is_set() for cache in self.caches.values()):
            return Result(requeue_after=0.5)  # status and actions read these caches
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
        seen = self._observe(vs, namespace, vm, rendered)
        status = derive(vs, seen)
        if vs.status.last_action is not None:
            status["lastAction"] = vs.status.last_action.to_dict()
        self.servers.patch_status(key, status)
        settled = all(
            c.get("status") == "True"
            for c in status["conditions"]
            if c["type"] in ("DataImported", "Ready")
        )
        return Result() if settled else Result(requeue_after=self.poll)

    def _fail(self, obj: Object, key: str, message: str, vs: VirtualServer | None = None) -> None:
        log.warning("VirtualServer %s: %s", key, message)
        self._event(obj, "Warning", "InvalidSpec", message)
        if vs is None:
            status = {
                "conditions": [
                    {
                        "type": "Failure",
                        "status": "True",
                        "reason": "InvalidSpec",
                        "message": message[:32768],
                        "lastTransitionTime": _now(),
                    }
                ]
            }
        else:  # fmt: skip
            status = derive(vs, Observed(render_error=message))
        self.servers.patch_status(key, status)

    def _passthrough(self, vs: VirtualServer) -> dict[str, PassthroughVolume]:
        """The passthrough PersistentVolume of each blockDevice disk that has one."""
        found: dict[str, PassthroughVolume] = {}
        for disk in vs.spec.storage.additional_disks:
            if disk.block_device is None:
                continue
            name = disk.block_device.name
            try:
                device = BlockDevice.parse(self.devices.get(name))
            except Exception as error:
                if is_status(error, 404) or isinstance(error, InvalidObjectError):
                    continue
                raise
            pv = _read(self.core.read_persistent_volume, name)
            pv_spec = (pv or {}).get("spec") or {}
            published = pv_spec.get("volumeMode") == "Block"
            if device.status.provisioned_as != "passthrough" or not published:
                continue
            found[disk.name] = PassthroughVolume(
                name, pv_spec.get("storageClassName", ""), pv_spec["capacity"]["storage"]
            )
        return found

    def _apply(self, vs: VirtualServer, rendered: Rendered) -> None:
        for claim in rendered.claims:
            self.apply.claim(claim)
        if rendered.data_volume is not None:
            self.apply.custom(DATA_VOLUME, rendered.data_volume)
        self.apply.custom(VIRTUAL_MACHINE, rendered.vm)
        namespace, name = vs.metadata.namespace or "", vs.metadata.name
        if rendered.service is not None:
            self.apply.service(rendered.service)
            return
        try:  # no ports (any more): the Service goes, if it is ours
            existing = self.core.read_namespaced_service(name, namespace, _request_timeout=TIMEOUT)
        except Exception as error:
            if is_status(error, 404):
                return
            raise
        if _owned_by(existing, vs.metadata.uid):
            self.core.delete_namespaced_service(name, namespace, _request_timeout=TIMEOUT)

    def _observe(self, vs: VirtualServer, namespace: str, vm: str, rendered: Rendered) -> Observed:
        root = vs.spec.storage.root
        needs_import = not (root.ephemeral and root.source.http is None)
        claim = root_claim(vm)
        data_volume = self._cached("dv", namespace, claim)
        root_pvc = None
        if needs_import and data_volume is None:
            root_pvc = _read(self.core.read_namespaced_persistent_volume_claim, claim, namespace)
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
        vm_obj = self._cached("vm", namespace, vm)
        vmi = self._cached("vmi", namespace, vm)
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
                self.vms.patch_status(
                    f"{namespace}/{vm}", {"stateChangeRequests": list(plan.requests)}
                )
            except Exception as error:
                why = f"{type(error).__name__}: {getattr(error, 'reason', error)}"
                message = f"{action}: queueing it on the VM failed ({why})"
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
    """The controller and its secondary informers, started and stopped together."""

    def __init__(
        self,
        api: k8s.ApiClient,
        metrics: Metrics,
        recorder: EventRecorder | None = None,
        options: ControllerOptions | None = None,
        poll: float = 30.0,
    ) -> None:
        servers = ResourceClient(api, VIRTUAL_SERVER)
        self.caches: dict[str, Informer] = {}
        self.reconciler = VirtualServerReconciler(api, servers, self.caches, recorder, poll)
        self.controller = Controller(
            "virtualservers", servers, self.reconciler, metrics, recorder, options
        )
        for name, resource in (("vm", VIRTUAL_MACHINE), ("vmi", VIRTUAL_MACHINE_INSTANCE),
                               ("dv", DATA_VOLUME)):  # fmt: skip
            self.caches[name] = Informer(
                f"virtualservers-{name}",
                ResourceClient(api, resource),
                self._requeue_owner,
                metrics,
                label_selector=SERVER_LABEL,
            )
        self._threads: list[Any] = []

    def _requeue_owner(self, key: str, old: Object | None, new: Object | None) -> None:
        obj = new or old or {}
        meta = obj.get("metadata") or {}
        owner = (meta.get("labels") or {}).get(SERVER_LABEL)
        if owner and meta.get("namespace"):
            self.controller.queue.add(f"{meta['namespace']}/{owner}")

    def start(self) -> None:
        for name, informer in self.caches.items():
            thread = threading.Thread(target=informer.run, name=f"vms-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        self.controller.start()

    def stop(self, drain_timeout: float = 10.0) -> None:
        self.controller.stop(drain_timeout)
        for informer in self.caches.values():
            informer.stop()

    def ready(self) -> bool:
        return self.controller.ready() and all(i.synced.is_set() for i in self.caches.values())

    def healthy(self) -> bool:
        return self.controller.healthy()

"""The network cluster controller's reconcilers for ClusterNetworks, VMNetworks and
UplinkConfigs: NADs kept, VLAN IDs and MTU published, nodes labelled where a network is up,
conflicts named in conditions (docs/networks.md). Leader only, through the cluster credential."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from stook_agent.api.meta import InvalidObjectError
from stook_agent.api.network import (
    MANAGEMENT,
    ClusterNetwork,
    UplinkConfig,
    VMNetwork,
    network_label,
)
from stook_agent.networks import cluster_state as state
from stook_agent.networks.cluster_view import View
from stook_agent.networks.resources import FIELD_MANAGER, VM_NETWORK_LABEL
from stook_agent.runtime.client import Object, ResourceClient, is_status, object_key
from stook_agent.runtime.conditions import ConditionStatus, set_condition
from stook_agent.runtime.controller import Reconciler, Result
from stook_agent.runtime.events import EventRecorder

log = logging.getLogger(__name__)
Leading = Callable[[], bool]
SYNC_WAIT = 0.5  # s between looks while the caches fill


Verdict = tuple[ConditionStatus, str, str]  # status, reason, message


def conditioned(obj: Object, **verdicts: Verdict) -> list[dict[str, Any]]:
    """*obj*'s conditions with each type in *verdicts* set (a time moves only on a flip)."""
    generation = int(obj["metadata"].get("generation") or 1)
    conditions = (obj.get("status") or {}).get("conditions")
    for type_, (status, reason, message) in verdicts.items():
        conditions = set_condition(conditions, type_, status, reason, message, generation)
    return list(conditions or [])


def write_status(client: ResourceClient, obj: Object, status: dict[str, Any]) -> bool:
    """Merge-patch *status* unless the object already says exactly that (no write, no event
    storm at scale); True if written. A None removes the field."""
    current = obj.get("status") or {}
    if all(current.get(key) == value for key, value in status.items()):
        return False
    client.patch_status(object_key(obj), status)
    return True


class _Base(Reconciler):
    def __init__(
        self,
        client: ResourceClient,
        view: View,
        recorder: EventRecorder | None,
        leading: Leading | None = None,
    ) -> None:
        self.client = client
        self.view = view
        self.recorder = recorder
        self.leading = leading

    needs_nads = True

    def _not_now(self) -> Result | None:
        """Nothing (Result()) once the Lease is gone: the next leader acts (this controller is
        being stopped); a look again soon while a cache is still filling: deciding on a partial
        view would delete NADs and node labels that should stay."""
        if self.leading is not None and not self.leading():
            return Result()
        if not self.view.synced(nads=self.needs_nads):
            return Result(requeue_after=SYNC_WAIT)
        return None

    def _invalid(self, obj: Object, error: InvalidObjectError) -> Result:
        verdict: Verdict = ("False", "InvalidSpec", str(error))
        write_status(self.client, obj, {"conditions": conditioned(obj, Ready=verdict)})
        return Result()


class VMNetworkReconciler(_Base):
    """A VMNetwork's NAD (bridge CNI on <cn>-br with its VLAN and MTU), or why there is none."""

    def __init__(
        self,
        client: ResourceClient,
        nads: ResourceClient,
        view: View,
        recorder: EventRecorder | None,
        leading: Leading | None = None,
    ) -> None:
        super().__init__(client, view, recorder, leading)
        self.nads = nads

    def reconcile(self, obj: Object) -> Result:
        if (later := self._not_now()) is not None:
            return later
        try:
            vmn = VMNetwork.parse(obj)
        except InvalidObjectError as error:
            return self._invalid(obj, error)
        key = object_key(obj)
        network = self.view.network(vmn.spec.cluster_network)
        if network is not None:
            reports = self.view.reports() if network.metadata.name == MANAGEMENT else []
            network = state.derived(network, self.view.all_configs(), reports)
        problem = state.vm_network_problem(vmn, network) or state.foreign_nad(
            self.view.nads.get(key), key
        )
        users = vmn.status.used_by  # until KubeVirt's VMs are listed (or without KubeVirt)
        if self.view.vms.synced.is_set():
            namespace, name = vmn.metadata.namespace or "", vmn.metadata.name
            users = state.used_by(self.view.all_vms(), namespace, name)
        status: dict[str, Any] = {"usedBy": users, "observedGeneration": vmn.metadata.generation}
        if problem is not None or network is None:
            assert problem is not None
            self._delete_nad(key)  # never leave a NAD that should not be (e.g. on the mgmt VLAN)
            status |= {
                "phase": "Invalid" if problem.reason in state.INVALID else "Pending",
                "networkAttachmentDefinition": None,
                "mtu": None,
                "conditions": conditioned(obj, Ready=("False", problem.reason, problem.message)),
            }  # fmt: skip
        else:
            wanted = state.nad_body(vmn, network)
            if state.nad_differs(self.view.nads.get(key), wanted):
                self.nads.apply(wanted, FIELD_MANAGER)
            message = f"NAD {key}: bridge {wanted['spec']['config']}"
            status |= {
                "phase": "Ready",
                "networkAttachmentDefinition": vmn.metadata.name,
                "mtu": state.nad_mtu(vmn, network),
                "conditions": conditioned(obj, Ready=("True", "NadReady", message)),
            }
        if write_status(self.client, obj, status) and self.recorder is not None:
            reason = "NadReady" if problem is None else problem.reason
            message = "NetworkAttachmentDefinition kept" if problem is None else problem.message
            self.recorder.record(obj, "Normal" if problem is None else "Warning", reason, message)
        self.view.enqueue("networks", [vmn.spec.cluster_network])
        return Result()

    def absent(self, key: str) -> Result:
        self.view.enqueue_all("networks")  # its network no longer trunks its VLAN
        return Result()

    def finalize(self, obj: Object) -> Result:
        key = object_key(obj)
        self._delete_nad(key)
        network = ((obj.get("spec") or {}).get("clusterNetwork")) or ""
        self.view.enqueue("networks", [network])
        return Result()

    def _delete_nad(self, key: str) -> None:
        """Delete the NAD named like the VMNetwork if it is ours (labelled by us)."""
        current = self.view.nads.get(key)
        if current is None:
            return
        labels = (current.get("metadata") or {}).get("labels") or {}
        if VM_NETWORK_LABEL not in labels:
            return  # someone else's NAD of the same name: not ours to delete
        try:
            self.nads.delete(key)
        except Exception as error:
            if not is_status(error, 404):
                raise


class ClusterNetworkReconciler(_Base):
    """A ClusterNetwork's status (VLAN IDs, MTU, configs, VM networks, nodes where it is up)
    and the node label ``network.stook.io/<cn>``; mgmt is made if missing, with the nodes'
    management VLANs reserved."""

    def __init__(
        self,
        client: ResourceClient,
        nodes: ResourceClient,
        view: View,
        recorder: EventRecorder | None,
        leading: Leading | None = None,
    ) -> None:
        super().__init__(client, view, recorder, leading)
        self.nodes = nodes

    def absent(self, key: str) -> Result:
        if (later := self._not_now()) is not None:
            return later
        if key == MANAGEMENT:
            self.client.create({
                "apiVersion": ClusterNetwork.KIND.api_version,
                "kind": ClusterNetwork.KIND.kind,
                "metadata": {"name": MANAGEMENT},
                "spec": {"description": "the management network (the installer's): mgmt-br"},
            })  # fmt: skip
            return Result()
        self._label(key, set())  # a deleted network is up nowhere
        return Result()

    def reconcile(self, obj: Object) -> Result:
        if (later := self._not_now()) is not None:
            return later
        try:
            network = ClusterNetwork.parse(obj)
        except InvalidObjectError as error:
            return self._invalid(obj, error)
        name = network.metadata.name
        reports = self.view.node_reports()
        configs = [c for c in self.view.all_configs() if c.spec.cluster_network == name]
        vm_networks = [v for v in self.view.all_vm_networks() if v.spec.cluster_network == name]
        trunked = [  # being deleted, or its name taken by a NAD Stook does not keep: no VLAN
            v for v in vm_networks
            if v.metadata.deletion_timestamp is None
            and state.foreign_nad(self.view.nads.get(state.key_of(v)), state.key_of(v)) is None
        ]  # fmt: skip
        network = state.derived(network, configs, reports.values())
        reserved, mtu = network.status.reserved_vlan_ids, network.status.mtu
        if name == MANAGEMENT:
            ready = sorted(n for n, r in reports.items() if r.status.management.nics)
        else:
            ready = state.ready_nodes(name, reports.values())
        vlans = state.vlan_ids(network, trunked)
        verdict: Verdict
        if name == MANAGEMENT:
            verdict = ("True", "Installer", "the installer's network")
        elif not configs:
            verdict = ("False", "NoUplink", f"no UplinkConfig names {name}")
        else:
            verdict = self._readiness(name, configs, set(ready), reports)
        before = obj.get("status") or {}
        status = {
            "vlanIds": vlans,
            "reservedVlanIds": reserved,
            "mtu": mtu,
            "uplinkConfigs": sorted(c.metadata.name for c in configs),
            "vmNetworks": sorted(state.key_of(v) for v in vm_networks),
            "readyNodes": ready,
            "observedGeneration": network.metadata.generation,
            "conditions": conditioned(obj, Ready=verdict),
        }
        write_status(self.client, obj, status)
        if any(before.get(k) != status[k] for k in ("reservedVlanIds", "mtu")):  # their NADs
            self.view.enqueue("vm_networks", [state.key_of(v) for v in vm_networks])
        if name != MANAGEMENT:
            self._label(name, set(ready))
        return Result()

    def _readiness(
        self, name: str, configs: list[UplinkConfig], ready: set[str], reports: dict[str, Any]
    ) -> Verdict:
        labels = self.view.node_labels()
        wanted = {n for c in configs for n in state.matched_nodes(c, labels)}
        if not wanted:
            return "False", "NoNodes", "no node matches the network's UplinkConfigs"
        down = [f"{n}: {state.node_problem(name, reports.get(n))}" for n in sorted(wanted - ready)]
        if down:
            return "False", "NodesNotReady", state.listing(down)
        return "True", "Ready", f"up on {len(wanted)} node(s)"

    def _label(self, network: str, ready: set[str]) -> None:
        """``network.stook.io/<cn>=true`` exactly on the nodes where it is up."""
        label = network_label(network)
        for name, labels in self.view.node_labels().items():
            has = labels.get(label) == "true"
            if has != (name in ready):
                value = "true" if name in ready else None
                try:
                    self.nodes.patch(name, {"metadata": {"labels": {label: value}}})
                except Exception as error:
                    if not is_status(error, 404):
                        raise


class UplinkConfigReconciler(_Base):
    """An UplinkConfig's nodes and readiness, and Accepted=False naming a NIC that another
    network holds on a node (the management network's above all) or an overlapping config."""

    needs_nads = False

    def absent(self, key: str) -> Result:
        self.view.enqueue_all("networks")  # its network lists it no more (and may be down)
        return Result()

    def reconcile(self, obj: Object) -> Result:
        if (later := self._not_now()) is not None:
            return later
        try:
            config = UplinkConfig.parse(obj)
        except InvalidObjectError as error:
            return self._invalid(obj, error)
        network = config.spec.cluster_network
        labels = self.view.node_labels()
        matched = state.matched_nodes(config, labels)
        reports = self.view.node_reports()
        conflicts = state.nic_conflicts(config, matched, self.view.nic_inventories())
        overlaps = state.overlaps(config, matched, self.view.all_configs(), labels)
        accepted: Verdict
        if conflicts:
            accepted = ("False", "NicInUse", "refused on these nodes, their NICs are left "
                        "alone: " + state.listing(conflicts))  # fmt: skip
        elif overlaps:
            accepted = ("False", "Overlap", state.listing(overlaps) + ": two UplinkConfigs of "
                        f"one network must not select the same node; {network} is left as it "
                        "is on those nodes")  # fmt: skip
        elif self.view.network(network) is None:
            accepted = ("False", "ClusterNetworkNotFound", f"ClusterNetwork {network} does not "
                        "exist")  # fmt: skip
        else:
            accepted = ("True", "Accepted", f"selects {len(matched)} node(s)")
        ready, down = [], []
        for node in matched:
            entry = reports[node].network(network) if node in reports else None
            if entry is not None and entry.ready and entry.uplink_config == config.metadata.name:
                ready.append(node)
            else:
                down.append(f"{node}: {state.node_problem(network, reports.get(node))}")
        readiness: Verdict = ("True", "Ready", f"up on {len(ready)} node(s)")
        if down or not matched:
            why = state.listing(down) if down else "no node matches the selector"
            readiness = ("False", "NodesNotReady", why)
        conditions = conditioned(obj, Accepted=accepted, Ready=readiness)
        status = {
            "matchedNodes": matched,
            "readyNodes": len(ready),
            "observedGeneration": config.metadata.generation,
            "conditions": conditions,
        }
        if write_status(self.client, obj, status) and accepted[0] == "False" and self.recorder:
            self.recorder.record(obj, "Warning", accepted[1], accepted[2])
        self.view.enqueue("networks", [network])
        return Result()

"""A VirtualServer's status from what KubeVirt and CDI report (pure).

Sources: the VirtualMachine (printableStatus, conditions Ready/Failure/Paused), its
VirtualMachineInstance (node, interfaces with their IPs, phase) and the root disk's DataVolume
(phase, progress). A completed DataVolume may be garbage-collected by CDI: then its claim
(same name) stands for it, and a bound claim means the import is done.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, get_args

from stook_agent.api.meta import Condition, ConditionStatus, set_condition
from stook_agent.api.virtualserver import POD_NETWORK, PrintableStatus, VirtualServer

Object = dict[str, Any]
PRINTABLE: tuple[str, ...] = get_args(PrintableStatus)
DV_FAILED = ("Failed",)
DV_DONE = ("Succeeded",)


@dataclass(frozen=True)
class Observed:
    """What the controller read for one VirtualServer (None: not there)."""

    vm: Object | None = None
    vmi: Object | None = None
    data_volume: Object | None = None
    root_claim: Object | None = None
    needs_import: bool = True
    """False when the root disk is not imported (a containerDisk or an ephemeral claim)."""
    render_error: str | None = None


def _condition(obj: Object | None, type_: str) -> Object | None:
    for condition in ((obj or {}).get("status") or {}).get("conditions") or []:
        if condition.get("type") == type_:
            return dict(condition)
    return None


def _status(value: Any) -> ConditionStatus:
    return value if value in ("True", "False") else "Unknown"


def _reason(value: Any, default: str) -> str:
    text = "".join(ch for ch in str(value or "") if ch.isalnum() or ch in "_,:")
    return text if text[:1].isalpha() else default


def _data_imported(seen: Observed) -> tuple[ConditionStatus, str, str]:
    """DataImported's status, reason and message."""
    if not seen.needs_import:
        return "True", "NoImport", "the root disk needs no import"
    dv = seen.data_volume
    if dv is not None:
        status = dv.get("status") or {}
        phase = str(status.get("phase") or "Pending")
        progress = status.get("progress")
        detail = f"DataVolume {dv['metadata']['name']}: {phase}" + (
            f" ({progress})" if progress and progress != "N/A" else ""
        )
        if phase in DV_DONE:
            return "True", "Succeeded", detail
        if phase in DV_FAILED:
            return "False", "ImportFailed", detail
        return "False", _reason(phase, "Importing"), detail
    claim = seen.root_claim
    if claim is not None and (claim.get("status") or {}).get("phase") == "Bound":
        name = claim["metadata"]["name"]
        return "True", "ClaimBound", f"claim {name} is bound (its DataVolume was collected)"
    return "False", "Pending", "the root disk's DataVolume does not exist yet"


def _ips(vmi: Object | None) -> list[str]:
    interfaces = ((vmi or {}).get("status") or {}).get("interfaces") or []
    ordered = sorted(interfaces, key=lambda i: i.get("name") != POD_NETWORK)
    ips: list[str] = []
    for interface in ordered:
        for ip in [interface.get("ipAddress"), *(interface.get("ipAddresses") or [])]:
            if ip and ip not in ips:
                ips.append(str(ip))
    return ips


def _copied(
    conditions: list[Condition], type_: str, source: Object | None, default: tuple[str, str, str],
    generation: int, now: str | None,
) -> list[Condition]:  # fmt: skip
    """Set *type_* from KubeVirt's condition of that type (or *default* without one)."""
    status, reason, message = default
    if source is not None:
        status = _status(source.get("status"))
        reason = _reason(source.get("reason"), type_ if status == "True" else f"Not{type_}")
        message = str(source.get("message") or "")
    return set_condition(conditions, type_, _status(status), reason, message, generation, now)


def derive(vs: VirtualServer, seen: Observed, now: str | None = None) -> Object:
    """The status to write (the wire form of VirtualServerStatus, plus ``vm``)."""
    generation = vs.metadata.generation
    conditions = list(vs.status.conditions)
    vm_status = ((seen.vm or {}).get("status")) or {}
    vmi_status = ((seen.vmi or {}).get("status")) or {}

    imported = _data_imported(seen)
    conditions = set_condition(conditions, "DataImported", *imported, generation, now)
    ready_default = ("False", "NotRunning", "the VM is not running")
    ready = _condition(seen.vm, "Ready") or _condition(seen.vmi, "Ready")
    conditions = _copied(conditions, "Ready", ready, ready_default, generation, now)
    paused = _condition(seen.vm, "Paused") or _condition(seen.vmi, "Paused")
    paused_default = ("False", "NotPaused", "")
    conditions = _copied(conditions, "Paused", paused, paused_default, generation, now)
    if seen.render_error is not None:
        conditions = set_condition(conditions, "Failure", "True", "InvalidSpec",
                                   seen.render_error, generation, now)  # fmt: skip
    elif imported[1] == "ImportFailed":
        conditions = set_condition(conditions, "Failure", "True", "ImportFailed", imported[2],
                                   generation, now)  # fmt: skip
    else:
        failure_default = ("False", "NoFailure", "")
        failure_source = _condition(seen.vm, "Failure")
        conditions = _copied(conditions, "Failure", failure_source, failure_default,
                             generation, now)  # fmt: skip

    printable = vm_status.get("printableStatus")
    if printable not in PRINTABLE:
        printable = "DataVolumeError" if imported[1] == "ImportFailed" else (
            "Provisioning" if imported[0] != "True" else None)  # fmt: skip
    progress = ((seen.data_volume or {}).get("status") or {}).get("progress")
    status: Object = {
        "observedGeneration": generation,
        "printableStatus": printable,
        "nodeName": vmi_status.get("nodeName"),
        "ips": _ips(seen.vmi),
        "importProgress": progress if progress and progress != "N/A" else None,
        "conditions": [c.to_dict() for c in conditions],
    }
    if seen.vm is not None:
        status["vm"] = {"name": seen.vm["metadata"]["name"]}
    return status

"""Cluster networks as the node last applied them, kept on the state partition so the boot
re-applies them (``stook-net apply-saved``, before RKE2 and the agent start) without waiting
for the API server: a reboot never leaves a bridge without its VLANs (harvester #2903)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from stook_core.net.cluster import ClusterNetworkSpec, NicSelector

SAVED_DIR = Path("/var/lib/stook/net/cluster")


def _to_json(spec: ClusterNetworkSpec) -> str:
    data = {
        "network": spec.network,
        "nics": [{"name": n.name, "mac": n.mac} for n in spec.nics],
        "mode": spec.mode,
        "miimon_ms": spec.miimon_ms,
        "options": dict(spec.options),
        "mtu": spec.mtu,
        "vlans": list(spec.vlans),
    }
    return json.dumps(data, indent=1, sort_keys=True)


def _from_json(text: str) -> ClusterNetworkSpec:
    data = json.loads(text)
    return ClusterNetworkSpec(
        network=str(data["network"]),
        nics=tuple(NicSelector(n.get("name"), n.get("mac")) for n in data["nics"]),
        mode=str(data["mode"]),
        miimon_ms=int(data["miimon_ms"]),
        options={str(k): str(v) for k, v in data["options"].items()},
        mtu=int(data["mtu"]),
        vlans=tuple(int(v) for v in data["vlans"]),
    )


def save(spec: ClusterNetworkSpec, folder: Path = SAVED_DIR) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{spec.network}.json"
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(_to_json(spec), encoding="utf-8")
    with partial.open("rb") as handle:
        os.fsync(handle.fileno())
    partial.replace(path)


def forget(network: str, folder: Path = SAVED_DIR) -> None:
    (folder / f"{network}.json").unlink(missing_ok=True)


def load_all(folder: Path = SAVED_DIR) -> list[ClusterNetworkSpec]:
    """Every saved spec, by network name; ValueError naming a file that is unreadable."""
    specs = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            specs.append(_from_json(path.read_text(encoding="utf-8")))
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"{path}: not a saved cluster network ({error})") from None
    return specs

"""Longhorn's ``nodes.longhorn.io`` (v1beta2, namespace longhorn-system): only the fields Stook
reads and writes (reference.md section 3). Longhorn owns the kind; no CRD is generated from this.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from stook_agent.api.meta import ApiModel, ObjectMeta


class LonghornDisk(ApiModel):
    """An entry of ``spec.disks``."""

    disk_type: Literal["filesystem", "block"] = "filesystem"
    path: str = ""
    allow_scheduling: bool = False
    eviction_requested: bool = False
    storage_reserved: int = 0
    tags: list[str] = Field(default_factory=list)


class LonghornDiskStatus(ApiModel):
    """An entry of ``status.diskStatus``: what Longhorn has scheduled on the disk."""

    storage_scheduled: int = 0
    scheduled_replica: dict[str, int] = Field(default_factory=dict)


class LonghornNodeSpec(ApiModel):
    disks: dict[str, LonghornDisk] = Field(default_factory=dict)


class LonghornNodeStatus(ApiModel):
    disk_status: dict[str, LonghornDiskStatus] = Field(default_factory=dict)


class LonghornNodeObject(ApiModel):
    metadata: ObjectMeta
    spec: LonghornNodeSpec = Field(default_factory=LonghornNodeSpec)
    status: LonghornNodeStatus = Field(default_factory=LonghornNodeStatus)

    def uses_path(self, path: str, but: str) -> str | None:
        """The disk (other than *but*) already at *path*, if any."""
        return next(
            (n for n, d in sorted(self.spec.disks.items()) if n != but and d.path == path), None
        )

    def scheduled(self, name: str) -> tuple[int, list[str]]:
        """Bytes and replicas Longhorn has scheduled on disk *name*."""
        status = self.status.disk_status.get(name, LonghornDiskStatus())
        return status.storage_scheduled, sorted(status.scheduled_replica)

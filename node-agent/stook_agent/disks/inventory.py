"""The latest scan of the node's disks, shared by the discovery loop and the reconciler."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from stook_core.diskid import Identity
from stook_core.hardware import Disk


@dataclass(frozen=True)
class Found:
    disk: Disk
    identity: Identity


@dataclass
class Inventory:
    _disks: dict[str, Found] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _scanned: threading.Event = field(default_factory=threading.Event)

    def replace(self, disks: dict[str, Found]) -> set[str]:
        """Store a new scan (object name -> disk); return the names whose disk changed."""
        with self._lock:
            old, self._disks = self._disks, dict(disks)
        self._scanned.set()
        return {n for n in old.keys() | disks.keys() if old.get(n) != disks.get(n)}

    def get(self, name: str) -> Found | None:
        with self._lock:
            return self._disks.get(name)

    def names(self) -> set[str]:
        with self._lock:
            return set(self._disks)

    @property
    def scanned(self) -> bool:
        """False until the first scan: nothing may be declared missing before it."""
        return self._scanned.is_set()

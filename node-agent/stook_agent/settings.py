"""The agent's settings, as the command line (or a test) gives them; each feature reads its part."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from stook_agent.disks.filters import DEFAULT_EXCLUDE
from stook_agent.disks.longhorn import NAMESPACE
from stook_agent.upgrades.download import DOWNLOADS


@dataclass(frozen=True)
class DiskSettings:
    host_root: Path = Path("/")  # the host's root as the agent sees it
    disks_dir: str = "/var/lib/stook/disks"  # on the host
    exclude: str = DEFAULT_EXCLUDE  # kernel names never treated as disks
    allow: str | None = None  # only kernel names / loop backing files matching this
    rescan_period: float = 60.0
    poll: float = 5.0  # re-check of Longhorn eviction and PV claims
    longhorn_namespace: str = NAMESPACE
    udev: bool = True  # False: no udev monitor (rescans on SIGHUP / trigger / period only)


@dataclass(frozen=True)
class AgentSettings:
    node: str
    metrics_host: str = "127.0.0.1"  # no auth on the port: --metrics-address opens it
    metrics_port: int = 9808
    resync_period: float = 300.0
    heartbeat: float = 30.0
    workers: int = 2
    drain_timeout: float = 20.0
    api_timeout: tuple[float, float] = (5.0, 30.0)  # connect, read (seconds) of every call
    stuck_after: float = 300.0  # a reconcile running longer fails /healthz
    upgrade_ca_file: str | None = None  # CA bundle for HTTPS OS images (None: the system's)
    upgrade_downloads: Path = DOWNLOADS  # where OS images are downloaded to (an absolute path)
    disks: DiskSettings = field(default_factory=DiskSettings)

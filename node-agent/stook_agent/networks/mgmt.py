"""Safe management-network changes, the node side (docs/networks.md "The hand-over").

When the cluster controller hands this node a ManagementChange (its ``status.nodes[]`` entry
``Applying`` with a request), the agent renders the management network with the change (the
installer's model and renderer, ``stook_core.net.management``), and runs it as a trial
(``stook_core.net.checkpoint``): the probes that pass now, a transient systemd timer that rolls
back by itself after ``rollbackAfterSeconds``, the new networkd files bind-mounted over the old,
the probes again; commit (files written for good), or roll back through the timer's own unit.
It reports in its NodeNetwork (``status.management.lastChange``), once per request, across
restarts: a trial found on start-up that this process did not begin is left to its timer (the
agent cannot know what its probes saw), and reported when the timer's result is there.

The management network before the change is the last committed one (``committed.yaml`` on the
state partition), else the install config's.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from stook_agent.api.networkchange import ManagementChange, NodeChange
from stook_agent.api.networknode import CHANGE_DONE, PROBES, ChangePhase, ChangeResult, NodeNetwork
from stook_agent.api.networknode import Probe as ProbeName
from stook_agent.runtime.client import Object, ResourceClient
from stook_agent.runtime.controller import Reconciler, Result
from stook_core.config.model import ManagementInterface
from stook_core.hardware import probe_nics
from stook_core.net import management, render
from stook_core.net.checkpoint import STATE_DIR, SystemHost, Trial, TrialError
from stook_core.net.checkpoint import Result as TrialResult
from stook_core.net.probes import Probe

log = logging.getLogger(__name__)
INSTALL_CONFIG = Path("/etc/stook/install-config.yaml")
COMMITTED = STATE_DIR / "committed.yaml"
PROBE_MARGIN = 15.0  # seconds the probes leave the timer before it fires
WAIT_SECONDS = 5.0  # re-look while a trial this process did not start runs out
_KIND_TO_API: dict[str, ProbeName] = {"gateway": "gateway", "dns": "dns",
                                      "apiserver": "apiserver", "vip": "vip"}  # fmt: skip


class InstalledNetwork(BaseModel):
    """The parts of the (redacted) install config the management network needs."""

    model_config = ConfigDict(extra="ignore")
    management_interface: ManagementInterface
    dns_servers: list[str] = []
    vip: dict[str, Any] | None = None


@dataclass
class MgmtSettings:
    install_config: Path = INSTALL_CONFIG
    committed: Path = COMMITTED
    api_server: tuple[str, int] | None = None  # host and port of the agent's API server
    trial: Trial = field(default_factory=lambda: Trial(SystemHost()))
    nics: Callable[[], list[Any]] = probe_nics
    gateway: Callable[[], str | None] = field(default=lambda: _default_gateway())


def request_ident(request: str) -> str:
    """A trial id from a request ``<uid>/<attempt>``: what a systemd unit name may carry."""
    return re.sub(r"[^A-Za-z0-9_.-]", "-", request)[:100]


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


class ChangeFailedError(ValueError):
    """The change cannot be applied on this node; nothing was changed."""


class ManagementChangeReconciler(Reconciler):
    def __init__(
        self,
        client: ResourceClient,
        node: str,
        changes: Callable[[], list[Object]],
        settings: MgmtSettings,
        clock: Callable[[], str] = _now,
    ) -> None:
        self.client = client
        self.node = node
        self._changes = changes
        self.settings = settings
        self._clock = clock
        self._running: str | None = None  # the trial this process runs now

    # --- what the node was asked --------------------------------------------------------
    def _handed(self) -> tuple[ManagementChange, NodeChange] | None:
        for obj in self._changes():
            change = ManagementChange.parse(obj)
            entry = next((n for n in change.status.nodes if n.name == self.node), None)
            if entry is not None and entry.phase in ("Applying", "Applied") and entry.request:
                return change, entry
        return None

    def reconcile(self, obj: Object) -> Result:
        current = NodeNetwork.parse(obj)
        last = current.status.management.last_change
        handed = self._handed()
        if handed is None:
            return Result()
        change, entry = handed
        request = str(entry.request)
        if last is not None and last.request == request and last.phase in CHANGE_DONE:
            return Result()  # acted on once
        trial = self.settings.trial
        ident = request_ident(request)
        done = trial.result(ident)
        if done is not None:
            self._report(change, request, self._phase(done), done.failed_probes, done.reason, done)
            return Result()
        pending = trial.pending()
        if pending is not None and pending.ident == ident:
            self._report(change, request, "Applied", [], (
                "the agent restarted during the trial: the checkpoint decides (it rolls back "
                f"{pending.rollback_after:.0f} s after the change unless committed)"
            ), probes=[p.kind for p in pending.probes])  # fmt: skip
            return Result(requeue_after=WAIT_SECONDS)
        if last is not None and last.request == request:
            # Begun before, no checkpoint left and no result: the node rebooted during the
            # trial, so it booted the old (persistent) network.
            self._report(change, request, "RolledBack", [],
                         "the node restarted during the trial and came back with the previous "
                         "management network")  # fmt: skip
            return Result()
        return self._run(change, request, ident)

    # --- doing it -----------------------------------------------------------------------
    def _run(self, change: ManagementChange, request: str, ident: str) -> Result:
        try:
            base = self._base()
            wanted = self._changed(base, change)
            after = {
                unit.name: unit.text
                for unit in render(management.network_setup(
                    wanted.management_interface, wanted.dns_servers, self.settings.nics()
                ))
            }  # fmt: skip
        except ChangeFailedError as error:
            self._report(change, request, "Failed", [], f"{error}; nothing was changed")
            return Result()
        candidates = [
            p
            for p in self._candidates(wanted)
            if _KIND_TO_API[p.kind] not in change.spec.skip_probes
        ]
        rollback_after = float(change.spec.rollback_after_seconds)
        self._report(
            change, request, "Applying", [], "checkpoint taken, new configuration going in"
        )
        self._running = ident
        try:
            result = self.settings.trial.run(
                ident, after, candidates, rollback_after, max(5.0, rollback_after - PROBE_MARGIN)
            )
        except TrialError as error:
            self._report(change, request, "Failed", [], str(error))
            return Result()
        finally:
            self._running = None
        if result.outcome == "Committed":
            self._commit(wanted)
        log.info(
            "management change %s: %s (%s)", change.metadata.name, result.outcome, result.reason
        )
        self._report(
            change, request, self._phase(result), result.failed_probes, result.reason, result
        )
        return Result()

    def _base(self) -> InstalledNetwork:
        for path in (self.settings.committed, self.settings.install_config):
            if not path.exists():
                continue
            try:
                document = yaml.safe_load(path.read_text(encoding="utf-8"))
                data = document.get("install", document) if isinstance(document, dict) else None
                return InstalledNetwork.model_validate(data)
            except (OSError, yaml.YAMLError, ValidationError) as error:
                raise ChangeFailedError(
                    f"{path}: unreadable management network ({error})"
                ) from None
        raise ChangeFailedError(
            f"neither {self.settings.committed} nor {self.settings.install_config} exists: the "
            "node's management network is unknown"
        )

    def _changed(self, base: InstalledNetwork, change: ManagementChange) -> InstalledNetwork:
        spec = change.spec
        net = base.management_interface.model_dump(mode="json", exclude_none=True)
        if spec.vlan_id is not None:
            net["vlan_id"] = spec.vlan_id or None
        if spec.bond_mode is not None:
            net.setdefault("bond", {})["mode"] = spec.bond_mode
        if spec.mtu is not None:
            net["mtu"] = spec.mtu
        dns = list(base.dns_servers)
        if spec.static is not None:
            address = spec.static.addresses.get(self.node)
            if address is None:
                raise ChangeFailedError(f"static.addresses has no address for node {self.node}")
            net.update(method="static", address=address, gateway=spec.static.gateway)
            dns = spec.static.dns or dns
        if spec.add_nics:
            net["nics"] = [*net["nics"], *(n.model_dump(exclude_none=True) for n in spec.add_nics)]
        try:
            interface = ManagementInterface.model_validate(
                {k: v for k, v in net.items() if v is not None}
            )
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()
            )
            raise ChangeFailedError(
                f"the changed management network is invalid: {problems}"
            ) from None
        return InstalledNetwork(management_interface=interface, dns_servers=dns, vip=base.vip)

    def _candidates(self, wanted: InstalledNetwork) -> list[Probe]:
        found = []
        gateway = self.settings.gateway()
        if gateway:
            found.append(Probe("gateway", gateway))
        found += [Probe("dns", server) for server in wanted.dns_servers[:1]]
        if self.settings.api_server is not None:
            host, port = self.settings.api_server
            found.append(Probe("apiserver", host, port))
        vip = (wanted.vip or {}).get("address")
        if isinstance(vip, str):
            found.append(Probe("vip", vip))
        return found

    def _commit(self, wanted: InstalledNetwork) -> None:
        path = self.settings.committed
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {"install": wanted.model_dump(mode="json", exclude_none=True)}
        partial = path.with_name(f".{path.name}.partial")
        partial.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        with partial.open("rb") as handle:
            os.fsync(handle.fileno())
        partial.replace(path)

    # --- reporting ----------------------------------------------------------------------
    @staticmethod
    def _phase(result: TrialResult) -> ChangePhase:
        return "Committed" if result.outcome == "Committed" else "RolledBack"

    def _report(
        self, change: ManagementChange, request: str, phase: ChangePhase, failed: list[str],
        message: str, result: TrialResult | None = None, probes: list[str] | None = None,
    ) -> None:  # fmt: skip
        """*failed* and *probes* are probe names (``gateway 10.0.2.2``) or kinds."""
        chosen = result.probes if result is not None else probes or []
        if result is not None and result.by == "timer":
            message = f"rolled back by the checkpoint's timer: {message}"
        last = ChangeResult(
            change=change.metadata.name,
            request=request,
            phase=phase,
            probes=_api_probes(chosen),
            failed_probes=_api_probes(failed),
            message=message,
            time=self._clock(),
        )
        self.client.patch_status(self.node, {"management": {"lastChange": last.to_dict()}})


def _api_probes(probes: list[str]) -> list[ProbeName]:
    kinds = [probe.split()[0] for probe in probes if probe]
    names = [_KIND_TO_API[k] for k in kinds if k in _KIND_TO_API]
    return [p for p in PROBES if p in names]


def api_endpoint(api: Any) -> tuple[str, int] | None:
    """Host and port of a kubernetes ApiClient's server (the apiServer probe's target)."""
    parts = urlsplit(str(getattr(api.configuration, "host", "") or ""))
    if not parts.hostname:
        return None
    return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)


def _default_gateway() -> str | None:
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        for route in ipr.get_default_routes(family=2):
            gateway = route.get_attr("RTA_GATEWAY")
            if isinstance(gateway, str):
                return gateway
    return None

"""Management-network changes with a checkpoint that rolls back by itself.

A trial (``Trial.begin``) first arms a transient systemd timer (``systemd-run --on-active``)
whose service runs ``stook-net rollback <id>``, then applies the new networkd files by
bind-mounting a trial copy of /etc/systemd/network over it: the persistent files stay as they
are, a reboot during the trial boots the old network, and the rollback is systemd's to run
even when the agent dies. ``commit`` stops the timer and writes the files for good;
``rollback`` (from the timer, or asked for by the agent through the same unit) unmounts the
trial copy and switches back. One lock file orders commit and rollback: whichever takes it
first decides, the other finds the checkpoint gone.

Switching (either way) deletes the netdevs whose .netdev file changed or went (networkd never
alters an existing netdev), then ``networkctl reload`` creates what is missing and
reconfigures every link whose .network file changed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from stook_core.filelock import holding
from stook_core.net.networkd import HEADER, NETWORKD_DIR
from stook_core.net.probes import Probe, Runner, passing, run_probe, wait_until_all_pass

RUN_DIR = Path("/run/stook/net/mgmt")
STATE_DIR = Path("/var/lib/stook/net/mgmt")
COMMAND_TIMEOUT = 60.0
UNIT_PREFIX = "stook-net-rollback-"
Outcome = Literal["Committed", "RolledBack"]
_SAFE_ID = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
_NETDEV_NAME = re.compile(r"^Name=(\S+)$", re.MULTILINE)
_MTU_LINE = re.compile(r"^MTUBytes=.*\n", re.MULTILINE)
SETTLE_SECONDS = 10.0  # for networkd to make the netdevs a switch deleted


class TrialError(RuntimeError):
    """A step of a trial failed: the message names the command and its output."""


@dataclass(frozen=True)
class Paths:
    run: Path = RUN_DIR  # tmpfs: a checkpoint never outlives a reboot
    state: Path = STATE_DIR  # results, for the agent to report after a restart
    networkd: Path = Path(NETWORKD_DIR)

    @property
    def checkpoint(self) -> Path:
        return self.run / "checkpoint.json"

    @property
    def trial(self) -> Path:
        return self.run / "trial"

    @property
    def lock(self) -> Path:
        return self.run.parent / "mgmt.lock"

    def result(self, ident: str) -> Path:
        return self.state / "results" / f"{ident}.json"


class Host(Protocol):
    """The systemd, mount and link operations a trial needs (``SystemHost`` on a node)."""

    def arm_timer(self, unit: str, seconds: float, argv: list[str]) -> None: ...

    def disarm_timer(self, unit: str) -> None: ...

    def run_unit(self, unit: str) -> None:
        """Start ``<unit>.service`` now and wait for it to finish."""
        ...

    def bind(self, source: Path, target: Path) -> None: ...

    def unbind(self, target: Path) -> None: ...

    def is_bound(self, target: Path) -> bool: ...

    def delete_link(self, name: str) -> None:
        """Delete the link if it exists."""
        ...

    def link_exists(self, name: str) -> bool: ...

    def reload_networkd(self) -> None: ...


def _run(argv: list[str]) -> str:
    try:
        result = subprocess.run(
            argv, capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        raise TrialError(f"{' '.join(argv)} did not finish in {COMMAND_TIMEOUT:.0f} s") from None
    except OSError as error:
        raise TrialError(f"{' '.join(argv)}: {error}") from None
    if result.returncode != 0:
        raise TrialError(
            f"{' '.join(argv)} exited {result.returncode}: {result.stderr.strip() or result.stdout}"
        )
    return result.stdout


class SystemHost:
    """``Host`` through systemd-run, systemctl, mount, ip and networkctl."""

    def arm_timer(self, unit: str, seconds: float, argv: list[str]) -> None:
        command = [
            "systemd-run", f"--unit={unit}", f"--on-active={max(1, round(seconds))}s",
            "--timer-property=AccuracySec=1s", "--property=Type=oneshot",
            "--description=Stook: roll the management network back unless committed",
        ]  # fmt: skip
        _run([*command, "--", *argv])

    def disarm_timer(self, unit: str) -> None:
        subprocess.run(
            ["systemctl", "stop", f"{unit}.timer"],
            capture_output=True, timeout=COMMAND_TIMEOUT, check=False,
        )  # fmt: skip

    def run_unit(self, unit: str) -> None:
        _run(["systemctl", "start", f"{unit}.service"])

    def bind(self, source: Path, target: Path) -> None:
        _run(["mount", "--bind", str(source), str(target)])

    def unbind(self, target: Path) -> None:
        _run(["umount", str(target)])

    def is_bound(self, target: Path) -> bool:
        return (
            subprocess.run(
                ["mountpoint", "-q", str(target)], timeout=COMMAND_TIMEOUT, check=False
            ).returncode
            == 0
        )

    def delete_link(self, name: str) -> None:
        if self.link_exists(name):
            _run(["ip", "link", "delete", name])

    def link_exists(self, name: str) -> bool:
        return Path("/sys/class/net", name).exists()

    def reload_networkd(self) -> None:
        _run(["networkctl", "reload"])


@dataclass
class Checkpoint:
    ident: str
    rollback_after: float
    probes: list[Probe]
    before: dict[str, str]  # the management files now in /etc/systemd/network
    after: dict[str, str]  # the trial's
    started: float = field(default_factory=time.time)  # wall clock, for the status
    phase: Literal["arming", "applied"] = "arming"
    failed: list[str] | None = None  # set by the agent when it asks for the rollback

    @property
    def unit(self) -> str:
        return UNIT_PREFIX + self.ident

    def to_json(self) -> str:
        data = {
            "ident": self.ident, "rollback_after": self.rollback_after, "started": self.started,
            "phase": self.phase, "failed": self.failed, "before": self.before,
            "after": self.after, "probes": [p.to_dict() for p in self.probes],
        }  # fmt: skip
        return json.dumps(data, indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Checkpoint:
        data = json.loads(text)
        return cls(
            ident=str(data["ident"]),
            rollback_after=float(data["rollback_after"]),
            probes=[Probe.from_dict(p) for p in data["probes"]],
            before={str(k): str(v) for k, v in data["before"].items()},
            after={str(k): str(v) for k, v in data["after"].items()},
            started=float(data["started"]),
            phase="applied" if data["phase"] == "applied" else "arming",
            failed=[str(f) for f in data["failed"]] if data["failed"] is not None else None,
        )


@dataclass(frozen=True)
class Result:
    ident: str
    outcome: Outcome
    by: Literal["agent", "timer"]
    reason: str
    failed_probes: list[str]
    started: float
    finished: float
    probes: list[str] = field(default_factory=list)  # the probes chosen (passing before)

    def to_json(self) -> str:
        return json.dumps(self.__dict__, indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Result:
        data = json.loads(text)
        return cls(
            ident=str(data["ident"]),
            outcome="Committed" if data["outcome"] == "Committed" else "RolledBack",
            by="agent" if data["by"] == "agent" else "timer",
            reason=str(data["reason"]),
            failed_probes=[str(p) for p in data["failed_probes"]],
            started=float(data["started"]),
            finished=float(data["finished"]),
            probes=[str(p) for p in data.get("probes", [])],
        )


def _atomic_write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    partial.chmod(mode)
    with partial.open("rb") as handle:
        os.fsync(handle.fileno())
    partial.replace(path)


def management_files(networkd: Path) -> dict[str, str]:
    """The management network's files in *networkd* (the installer's, by their header)."""
    found = {}
    for path in sorted(networkd.glob("*")):
        if path.suffix in (".netdev", ".network") and path.is_file():
            text = path.read_text(encoding="utf-8")
            if text.startswith(HEADER) and "mgmt-" in path.name:
                found[path.name] = text
    return found


def _without_mtu(text: str | None) -> str | None:
    return None if text is None else _MTU_LINE.sub("", text)


def _has_mtu(text: str) -> bool:
    return _MTU_LINE.search(text) is not None


def netdev_names(files: Mapping[str, str]) -> list[str]:
    return [m.group(1) for f, t in sorted(files.items()) if f.endswith(".netdev")
            for m in [_NETDEV_NAME.search(t)] if m]  # fmt: skip


def changed_netdevs(old: Mapping[str, str], new: Mapping[str, str]) -> list[str]:
    """Netdevs of *old* whose .netdev file *new* changes or drops: networkd never alters an
    existing netdev, so these are deleted for the reload to make them anew. A changed MTU
    alone does not count (the .network files set it too, and a reload applies those in
    place) unless *new* sets none: networkd leaves an MTU it is not told to set, so going
    back to the default (rolling back an MTU trial) needs the link made anew."""
    names = []
    for file, text in sorted(old.items()):
        target = new.get(file)
        mtu_dropped = target is not None and _has_mtu(text) and not _has_mtu(target)
        if file.endswith(".netdev") and (_without_mtu(target) != _without_mtu(text) or mtu_dropped):
            match = _NETDEV_NAME.search(text)
            if match:
                names.append(match.group(1))
    return names


def check_ident(ident: str) -> str:
    if not _SAFE_ID.match(ident):
        raise ValueError(f"checkpoint id {ident!r}: letters, digits, '.', '_', '-' only")
    return ident


class Trial:
    """One node's management-network checkpoints; *argv* runs ``stook-net rollback``."""

    def __init__(
        self,
        host: Host,
        paths: Paths = Paths(),
        rollback_argv: tuple[str, ...] = ("/usr/bin/stook-net", "rollback"),
        runner: Runner = run_probe,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.host = host
        self.paths = paths
        self.rollback_argv = rollback_argv
        self.runner = runner
        self.clock = clock

    # --- reading ------------------------------------------------------------------------
    def pending(self) -> Checkpoint | None:
        try:
            return Checkpoint.from_json(self.paths.checkpoint.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None

    def result(self, ident: str) -> Result | None:
        try:
            return Result.from_json(self.paths.result(ident).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None

    def current_files(self) -> dict[str, str]:
        """The persistent management files (under a trial's bind mount: the trial's)."""
        return management_files(self.paths.networkd)

    # --- the trial ----------------------------------------------------------------------
    def begin(
        self, ident: str, after: dict[str, str], probes: list[Probe], rollback_after: float
    ) -> Checkpoint:
        """Arm the rollback timer, then apply *after* (the new management files)."""
        check_ident(ident)
        with holding(self.paths.lock, f"trial {ident}", wait=30):
            if self.pending() is not None:
                raise TrialError("another management-network change is in its trial")
            before = self.current_files()
            checkpoint = Checkpoint(ident, rollback_after, probes, before, after, self.clock())
            self._save(checkpoint)
            self.host.arm_timer(
                checkpoint.unit, rollback_after, [*self.rollback_argv, checkpoint.ident]
            )
            self._stage_trial(before, after)
            self.host.bind(self.paths.trial, self.paths.networkd)
            self._switch(before, after)
            checkpoint.phase = "applied"
            self._save(checkpoint)
            return checkpoint

    def commit(self, ident: str) -> Result:
        """Keep the trial: timer off, files written for good. A rollback that came first wins
        (its result is returned)."""
        with holding(self.paths.lock, f"commit {ident}", wait=COMMAND_TIMEOUT):
            checkpoint = self.pending()
            if checkpoint is None or checkpoint.ident != ident:
                return self._finished(ident)
            self.host.disarm_timer(checkpoint.unit)
            if self.host.is_bound(self.paths.networkd):
                self.host.unbind(self.paths.networkd)
            for name in checkpoint.before:
                if name not in checkpoint.after:
                    (self.paths.networkd / name).unlink(missing_ok=True)
            for name, text in checkpoint.after.items():
                _atomic_write(self.paths.networkd / name, text)
            # networkd runs the trial's configuration already: no reload (it would renew DHCP).
            return self._finish(checkpoint, "Committed", "agent", "every probe passed", [])

    def request_rollback(self, ident: str, failed: list[str]) -> Result:
        """The agent's rollback: through the same systemd unit the timer would start."""
        with holding(self.paths.lock, f"request {ident}", wait=COMMAND_TIMEOUT):
            checkpoint = self.pending()
            if checkpoint is None or checkpoint.ident != ident:
                return self._finished(ident)
            checkpoint.failed = failed
            self._save(checkpoint)
        self.host.run_unit(checkpoint.unit)
        self.host.disarm_timer(checkpoint.unit)
        return self._finished(ident)

    def rollback(self, ident: str) -> Result | None:
        """``stook-net rollback``: undo the trial *ident* (no-op when it is over)."""
        with holding(self.paths.lock, f"rollback {ident}", wait=COMMAND_TIMEOUT):
            checkpoint = self.pending()
            if checkpoint is None or checkpoint.ident != ident:
                return self.result(ident)
            if checkpoint.failed is not None:
                by: Literal["agent", "timer"] = "agent"
                failed = checkpoint.failed
                reason = "probes failed after the change"
            else:
                by = "timer"
                failed = [p.name for p in checkpoint.probes if p not in passing([p], self.runner)]
                reason = (
                    f"not committed within {checkpoint.rollback_after:.0f} s "
                    "(the agent stopped or lost track of the trial)"
                )
            if self.host.is_bound(self.paths.networkd):
                self.host.unbind(self.paths.networkd)
            self._switch(checkpoint.after, checkpoint.before)
            return self._finish(checkpoint, "RolledBack", by, reason, failed)

    def run(
        self,
        ident: str,
        after: dict[str, str],
        candidates: list[Probe],
        rollback_after: float,
        probe_timeout: float,
    ) -> Result:
        """A whole change: the probes that pass now, the trial, the probes again (each polled
        up to *probe_timeout*), then commit, or roll back naming the probes that failed."""
        probes = passing(candidates, self.runner)
        if not probes:
            tried = ", ".join(p.name for p in candidates) or "none"
            raise TrialError(
                f"no probe passes before the change (tried: {tried}): nothing could tell a "
                "change that cuts the node off from a good one; nothing was changed"
            )
        self.begin(ident, after, probes, rollback_after)
        failed = wait_until_all_pass(probes, probe_timeout, self.runner)
        if failed:
            return self.request_rollback(ident, [p.name for p in failed])
        return self.commit(ident)

    # --- helpers ------------------------------------------------------------------------
    def _save(self, checkpoint: Checkpoint) -> None:
        _atomic_write(self.paths.checkpoint, checkpoint.to_json(), 0o600)

    def _stage_trial(self, before: Mapping[str, str], after: Mapping[str, str]) -> None:
        """The trial copy of the networkd folder, readable by networkd (it runs as user
        systemd-network; the agent's umask 0077 would leave it a folder it cannot list, and
        the trial a node without management network)."""
        trial = self.paths.trial
        trial.mkdir(parents=True, exist_ok=True)
        trial.chmod(self.paths.networkd.stat().st_mode & 0o7777)
        for old in trial.iterdir():
            old.unlink()
        for path in sorted(self.paths.networkd.iterdir()):
            if path.is_file() and path.name not in before:  # an operator's own files stay
                shutil.copy2(path, trial / path.name)
        for name, text in after.items():
            (trial / name).write_text(text, encoding="utf-8")
            (trial / name).chmod(0o644)

    def _switch(self, old: Mapping[str, str], new: Mapping[str, str]) -> None:
        """Deleted netdevs are made anew by the reload; one that networkd missed (it saw the
        deletion late) gets another reload."""
        deleted = changed_netdevs(old, new)
        for name in deleted:
            self.host.delete_link(name)
        self.host.reload_networkd()
        wanted = [name for name in netdev_names(new) if name in deleted or name not in
                  netdev_names(old)]  # fmt: skip
        deadline = time.monotonic() + SETTLE_SECONDS
        while wanted and time.monotonic() < deadline:
            time.sleep(1)
            missing = [name for name in wanted if not self.host.link_exists(name)]
            if not missing:
                return
            self.host.reload_networkd()

    def _finish(
        self, checkpoint: Checkpoint, outcome: Outcome, by: Literal["agent", "timer"],
        reason: str, failed: list[str],
    ) -> Result:  # fmt: skip
        result = Result(
            checkpoint.ident,
            outcome,
            by,
            reason,
            failed,
            checkpoint.started,
            self.clock(),
            [p.name for p in checkpoint.probes],
        )
        _atomic_write(self.paths.result(checkpoint.ident), result.to_json())
        self.paths.checkpoint.unlink(missing_ok=True)
        return result

    def _finished(self, ident: str) -> Result:
        result = self.result(ident)
        if result is None:
            raise TrialError(f"trial {ident} is neither pending nor finished")
        return result

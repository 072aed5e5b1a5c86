"""Execute a Plan: run each step's actions in order, report events, stop at the first failure.

Safety: before anything runs, the operator's consent must name exactly this plan's erased disks
and digest (``ConsentRefused`` otherwise, see consent.py), and every device any action names
must be one of the plan's disks or their partitions (``PlanRefused`` otherwise); each action is
checked again as it runs.
Mounts the runner made are always undone, even on failure. ``dry_run`` reports the same
events without running anything.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from stook_core.filelock import HeldError, holding
from stook_core.osimage import Copied, Progress, copy_image, read_back_sha256, sha256_prefix
from stook_installer.engine import biosboot
from stook_installer.engine.actions import (
    Action,
    CopyImage,
    InstallBiosBoot,
    Mount,
    Run,
    Unmount,
    VerifyImage,
    WaitForDevices,
    WriteFiles,
)
from stook_installer.engine.consent import Consent, consent_problems
from stook_installer.engine.events import Event, EventSink
from stook_installer.engine.nodefile import NodeFile
from stook_installer.engine.plan import Plan, Step

# Set by the live medium's installer units: the installers on tty1 and ttyS0 share one machine,
# and only the first to start an install may write the disks.
LOCK_ENV = "STOOK_INSTALL_LOCK"
DEVICE_WAIT_SECONDS = 30.0


class InstallFailed(RuntimeError):  # noqa: N818 (the engine interface name)
    """A step failed; the message names the step, the command, its stderr and what to do."""

    def __init__(self, step: str, command: str, stderr: str, advice: str = "") -> None:
        self.step, self.command, self.stderr = step, command, stderr.strip()
        self.advice = advice or (
            "Check the disk and the message above, then run the installer again: it starts "
            "over from an erased disk, so a rerun is safe."
        )
        super().__init__(
            f"step {step} failed\n  command: {command}\n  error: {self.stderr or '(no output)'}\n"
            f"  what to do: {self.advice}"
        )


class PlanRefused(InstallFailed):
    """An action names a device outside the plan's disks: nothing is run."""


class ConsentRefused(InstallFailed):
    """The consent does not cover this plan (other disks, or a changed plan): nothing is run."""


def check_consent(plan: Plan, consent: Consent | None, *, dry_run: bool) -> None:
    """Refuse *plan* unless *consent* names its erased disks and digest (a dry run may run
    without one: it touches nothing)."""
    if consent is None:
        if dry_run:
            return
        problems = ["there is no consent to erase the disks"]
    else:
        problems = consent_problems(plan, consent)
    if problems:
        raise ConsentRefused(
            "consent",
            "execute the confirmed plan",
            "; ".join(problems),
            "Nothing was touched. Look at the plan again and confirm the disks it erases.",
        )


def _allowed(plan: Plan, device: str) -> bool:
    return any(disk.owns(device) for disk in plan.erased_disks)


def check_devices(plan: Plan, step: Step, action: Action) -> None:
    for device in action.devices():
        if not _allowed(plan, device):
            planned = ", ".join(d.path for d in plan.erased_disks)
            raise PlanRefused(
                step.name,
                " / ".join(action.describe()),
                f"{device} is not one of the disks this install erases ({planned})",
                "This is a bug in the install plan; no disk outside the plan was opened.",
            )


def _run(step: str, argv: tuple[str, ...]) -> None:
    try:
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise InstallFailed(
            step, shlex.join(argv), f"{argv[0]}: command not found",
            "The live system lacks this tool; use the Stook ISO or install it.",
        ) from None  # fmt: skip
    if result.returncode != 0:
        raise InstallFailed(step, shlex.join(argv), result.stderr or result.stdout)


def _wait_for(step: str, paths: tuple[str, ...]) -> None:
    if shutil.which("udevadm"):
        subprocess.run(["udevadm", "settle"], capture_output=True, check=False)
    deadline = time.monotonic() + DEVICE_WAIT_SECONDS
    while missing := [p for p in paths if not Path(p).exists()]:
        if time.monotonic() > deadline:
            raise InstallFailed(
                step, f"wait for {' '.join(paths)}", f"missing after 30 s: {' '.join(missing)}"
            )
        time.sleep(0.1)


def write_files(root: Path, files: tuple[NodeFile, ...]) -> None:
    for node_file in files:
        target = root / node_file.path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        if node_file.directory:
            target.mkdir(exist_ok=True)
        elif node_file.link_to is not None:
            target.unlink(missing_ok=True)
            target.symlink_to(node_file.link_to)
            continue
        else:
            # Create with the final mode so a secret is never readable by others, even briefly.
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, node_file.mode)
            with os.fdopen(fd, "wb") as stream:
                stream.write(node_file.data)
        target.chmod(node_file.mode)
        os.chown(target, node_file.owner, node_file.gid)


class _Execution:
    def __init__(self, plan: Plan, sink: EventSink) -> None:
        self.plan, self.sink = plan, sink
        self.mounted: list[Path] = []
        self.copied: dict[str, Copied] = {}  # device -> what CopyImage read and wrote

    def action(self, step: Step, action: Action, progress: Progress) -> None:
        check_devices(self.plan, step, action)
        name = step.name
        if isinstance(action, Run):
            _run(name, action.argv)
        elif isinstance(action, Mount):
            _run(name, ("mount", "--mkdir", action.device, str(action.target)))
            self.mounted.append(action.target)
        elif isinstance(action, Unmount):
            _run(name, ("umount", str(action.target)))
            self.mounted.remove(action.target)
        elif isinstance(action, WaitForDevices):
            _wait_for(name, action.paths)
        elif isinstance(action, CopyImage):
            self._copy(step, action, progress)
        elif isinstance(action, VerifyImage):
            self._verify(step, action)
        elif isinstance(action, InstallBiosBoot):
            self._bios_boot(step, action)
        else:
            self._write(step, action)

    def _copy(self, step: Step, action: CopyImage, progress: Progress) -> None:
        try:
            self.copied[action.device] = copy_image(action.source, action.device, progress)
        except OSError as error:
            raise InstallFailed(step.name, action.describe()[0], str(error)) from None

    def _verify(self, step: Step, action: VerifyImage) -> None:
        try:
            copied = self.copied.get(action.device)
            if copied is None:  # no copy in this run: hash the image itself
                length = action.source.stat().st_size
                copied = Copied(length, sha256_prefix(action.source, length))
            same = copied.sha256 == read_back_sha256(action.device, copied.length)
        except OSError as error:
            raise InstallFailed(step.name, action.describe()[0], str(error)) from None
        if not same:
            raise InstallFailed(
                step.name, action.describe()[0], "the bytes read back differ from the image",
                "The disk may be failing: check it (smartctl -a) or choose another disk.",
            )  # fmt: skip

    def _bios_boot(self, step: Step, action: InstallBiosBoot) -> None:
        try:
            biosboot.install(action.disk, action.partition, action.boot_img, action.core_img)
        except (OSError, biosboot.BiosBootError) as error:
            raise InstallFailed(step.name, action.describe()[0], str(error)) from None

    def _write(self, step: Step, action: WriteFiles) -> None:
        try:
            write_files(action.root, action.files)
        except OSError as error:
            raise InstallFailed(step.name, f"write files under {action.root}", str(error)) from None

    def unmount_all(self) -> None:
        for target in reversed(self.mounted):
            subprocess.run(["umount", "--lazy", str(target)], capture_output=True, check=False)
        self.mounted.clear()


def execute(plan: Plan, consent: Consent | None, sink: EventSink, *, dry_run: bool) -> None:
    """Run *plan* with the operator's *consent* to it, sending events to *sink*;
    ConsentRefused or PlanRefused before anything runs, InstallFailed at the first failure."""
    check_consent(plan, consent, dry_run=dry_run)
    for step in plan.steps:  # refuse before touching anything
        for action in step.actions():
            check_devices(plan, step, action)
    with contextlib.ExitStack() as stack:
        if not dry_run:
            stack.enter_context(install_lock(os.environ.get(LOCK_ENV)))
        run = _Execution(plan, sink)
        try:
            for step in plan.steps:
                _execute_step(run, step, sink, dry_run=dry_run)
        finally:
            run.unmount_all()


@contextlib.contextmanager
def install_lock(path: str | None) -> Iterator[None]:
    """Hold an exclusive lock on *path* (nothing when None) for the install; InstallFailed at
    once when another installer holds it. The lock file names the holder's tty and pid."""
    if not path:
        yield
        return
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(holding(Path(path), f"pid {os.getpid()} on {_tty_name()}"))
        except HeldError as error:
            raise InstallFailed(
                "lock",
                f"flock {path}",
                f"another installer is already installing this machine ({error.holder})",
                "Nothing was touched. Follow the install on the other console, or wait for it "
                "to end before starting again.",
            ) from None
        yield


def _tty_name() -> str:
    for stream in (0, 1, 2):
        with contextlib.suppress(OSError):
            return os.ttyname(stream)
    return "no terminal"


def _execute_step(run: _Execution, step: Step, sink: EventSink, *, dry_run: bool) -> None:
    actions = step.actions()
    sink(Event(step.name, "start", step.title))
    for index, action in enumerate(actions):

        def progress(fraction: float, message: str, index: int = index) -> None:
            overall = (index + fraction) / len(actions)
            sink(Event(step.name, "progress", message, round(overall, 4)))

        label = action.describe()[0]
        if dry_run:
            sink(Event(step.name, "progress", f"would {label}", (index + 1) / len(actions)))
            continue
        try:
            run.action(step, action, progress)
        except InstallFailed as failure:
            sink(Event(step.name, "fail", str(failure)))
            raise
        sink(Event(step.name, "progress", label, (index + 1) / len(actions)))
    sink(Event(step.name, "finish", "dry run: nothing done" if dry_run else ""))

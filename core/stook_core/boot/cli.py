"""stook-os: the node's view of its A/B slots.

    stook-os status [--json]    booted slot, OS version per slot, counters, fallback notice
    stook-os set-next SLOT      try SLOT on the next boot (resets all assessment state)
    stook-os mark-good          the booted slot passed its health check
    stook-os write-slot IMAGE   write IMAGE into the passive slot, verify it, try it next boot
    stook-os health-failed      a required boot check failed: publish it, reboot or stay

Exit codes: 0 done; 1 the boot environment is missing or unreadable, or the request is invalid;
2 usage; 3 refused: the booted system does not match the boot environment (status still
prints what it knows); 70 internal error (a bug: the report names the file holding the
traceback; --debug prints it); 130 interrupted. Paths are options so that tests and rescue
systems can point elsewhere.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from stook_core import __version__, osimage, osrelease
from stook_core.boot import booted as booted_mod
from stook_core.boot import lock, slots, store, writeslot
from stook_core.boot import status as boot_status
from stook_core.door import add_debug_flag, guard

ESP = Path("/boot/efi")
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_MISMATCH = 3
REBOOT = ("systemctl", "reboot")
Clock = Callable[[], datetime]


class Refused(Exception):  # noqa: N818 - a refusal, not an error of the program
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stook-os", description="Stook OS A/B slots")
    parser.add_argument("--version", action="version", version=f"stook-os {__version__}")
    add_debug_flag(parser)
    parser.add_argument("--esp", type=Path, default=ESP, help="where the ESP is mounted")
    parser.add_argument("--cmdline", type=Path, default=booted_mod.PROC_CMDLINE)
    parser.add_argument("--os-release", type=Path, default=osrelease.OS_RELEASE)
    parser.add_argument(
        "--lock", type=Path, default=lock.LOCK, help="the lock set-next/mark-good/write-slot share"
    )
    parser.add_argument(
        "--status-file",
        type=Path,
        default=boot_status.STATUS_FILE,
        help="where mark-good and health-failed publish the boot status (for the agent)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    status = sub.add_parser("status", help="booted slot, versions, counters, fallback")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    set_next = sub.add_parser("set-next", help="try SLOT on the next boot")
    set_next.add_argument("slot", type=slots.parse_slot, metavar="SLOT", help="A or B")
    set_next.add_argument(
        "--attempts", type=int, default=slots.DEFAULT_ATTEMPTS, help="boot attempts (1..9)"
    )
    sub.add_parser("mark-good", help="mark the booted slot good (health check passed)")
    failed = sub.add_parser(
        "health-failed", help="a required boot check failed: publish it, then reboot or stay"
    )
    failed.add_argument(
        "--check",
        default=os.environ.get("MONITOR_UNIT") or "unknown",
        help="the check that failed (default: $MONITOR_UNIT, set by systemd for OnFailure=)",
    )
    failed.add_argument(
        "--no-reboot", dest="reboot", action="store_false", help="decide and publish only"
    )
    write = sub.add_parser(
        "write-slot", help="write an OS image into the passive slot and try it next boot"
    )
    write.add_argument("image", type=Path, help="the OS image (squashfs) to write")
    write.add_argument("--version", default="", help="its OS version (default: its os-release)")
    write.add_argument("--sha256", default="", help="refuse unless the image has this SHA-256")
    write.add_argument(
        "--no-set-next", dest="set_next", action="store_false", help="write only; set-next later"
    )
    write.add_argument(
        "--attempts", type=int, default=slots.DEFAULT_ATTEMPTS, help="boot attempts (1..9)"
    )
    write.add_argument(
        "--device",
        help="the passive slot's partition (default: found by label); refused unless it is "
        "that partition",
    )
    return parser


class Node:
    """The running system and its boot environment, from injectable paths."""

    def __init__(self, esp: Path, cmdline: Path, os_release: Path) -> None:
        self.store = store.EnvStore(esp)
        try:
            self.loaded = self.store.load(validate=slots.BootEnv.from_grubenv)
        except store.BootEnvUnreadableError as error:
            hint = f"ESP mounted at {esp}?"
            if os.geteuid() != 0:
                hint = "run stook-os as root: the ESP is readable by root only"
            raise Refused(f"{error} ({hint})", EXIT_ERROR) from error
        self.env = slots.BootEnv.from_grubenv(self.loaded.env)
        try:
            self.cmdline = booted_mod.read_cmdline(cmdline)
        except OSError as error:
            raise Refused(f"cannot read the kernel command line: {error}", EXIT_ERROR) from error
        self.os_version = osrelease.read_os_version(os_release)
        self.problems = booted_mod.mismatches(self.env, self.cmdline, self.os_version)

    def require_match(self, action: str) -> slots.Slot:
        if self.problems or self.cmdline.slot is None:
            raise Refused(
                f"refusing to {action}: the booted system does not match the boot environment:\n"
                + "\n".join(f"  - {p}" for p in self.problems),
                EXIT_MISMATCH,
            )
        return self.cmdline.slot

    def save(self, env: slots.BootEnv) -> None:
        self.store.save(env.to_grubenv())

    def status(self) -> boot_status.BootStatus:
        return boot_status.from_node(
            self.env, self.loaded, self.cmdline, self.os_version, self.problems
        )


def _status(node: Node, status_file: Path) -> boot_status.BootStatus:
    """The node's status with the health result this boot published, if any."""
    status = node.status()
    published = boot_status.read(status_file)
    if published is not None and published.slot == status.slot:
        status = status.model_copy(
            update={"health": published.health, "failure": published.failure}
        )
    return status


def _write_slot(node: Node, args: argparse.Namespace) -> int:
    booted = node.require_match("write the passive slot")
    target = slots.other(booted)
    try:
        disk = writeslot.esp_disk(args.esp)
        device = writeslot.target_device(disk, args.esp, target, args.device)
        request = writeslot.Request(
            image=args.image,
            booted=booted,
            device=device,
            version=args.version,
            sha256=args.sha256,
            set_next=args.set_next,
            attempts=args.attempts,
        )
        slot_size = osimage.image_size(Path(device))
        if slot_size is None:
            raise writeslot.WriteSlotError(f"cannot open the slot partition {device}")
        env = writeslot.write(request, node.env, node.save, slot_size, say=_say)
    except (writeslot.WriteSlotError, ValueError, OSError) as error:
        raise Refused(str(error), EXIT_ERROR) from None
    version = env.slot(target).version
    if args.set_next:
        print(f"slot {target} holds {version} and will be tried on the next boot: reboot to switch")
    else:
        print(f"slot {target} holds {version}; `stook-os set-next {target}` to try it")
    return EXIT_OK


def _say(line: str) -> None:
    print(line, flush=True)


WRITERS = ("set-next", "mark-good", "write-slot")  # share lock.LOCK


def run(args: argparse.Namespace) -> int:
    if args.command not in WRITERS:
        return _run(args)
    try:
        with lock.hold(args.lock, args.command):
            return _run(args)
    except lock.LockHeldError as error:
        raise Refused(str(error), EXIT_ERROR) from None


def _run(args: argparse.Namespace) -> int:
    """The command; a writer holds the lock from before it reads the environment."""
    if args.command == "health-failed":
        return health_failed(args)
    node = Node(args.esp, args.cmdline, args.os_release)
    if args.command == "status":
        status = _status(node, args.status_file)
        if args.json:
            print(status.to_json(), end="")
        else:
            print("\n".join(boot_status.describe(status, node.loaded.notes)))
        return EXIT_MISMATCH if node.problems else EXIT_OK
    if args.command == "set-next":
        node.require_match(f"set slot {args.slot} next")
        if not node.env.slot(args.slot).version:
            raise Refused(
                f"slot {args.slot} holds no OS image the boot environment knows of "
                f"({args.slot}_VERSION is empty): write and verify an image first",
                EXIT_ERROR,
            )
        try:
            env = slots.set_next(node.env, args.slot, attempts=args.attempts)
        except ValueError as error:
            raise Refused(str(error), EXIT_ERROR) from error
        node.save(env)
        print(f"slot {args.slot} will be tried on the next boot ({args.attempts} attempt(s))")
        return EXIT_OK
    if args.command == "write-slot":
        return _write_slot(node, args)
    slot = node.require_match("mark the booted slot good")
    node.save(slots.mark_good(node.env, slot))
    passed = Node(args.esp, args.cmdline, args.os_release).status()
    boot_status.write(passed.model_copy(update={"health": "passed"}), args.status_file)
    print(f"slot {slot} marked good")
    return EXIT_OK


def _known_status(args: argparse.Namespace) -> boot_status.BootStatus:
    """The node's status; with an unreadable environment what the command line tells."""
    try:
        return Node(args.esp, args.cmdline, args.os_release).status()
    except Refused as refusal:
        try:
            cmdline = booted_mod.read_cmdline(args.cmdline)
        except OSError:
            cmdline = booted_mod.parse_cmdline("")
        version = osrelease.read_os_version(args.os_release)
        return boot_status.from_node(None, None, cmdline, version, [str(refusal)])


def _now() -> datetime:
    return datetime.now(UTC)


def _reboot() -> int:
    result = subprocess.run(REBOOT, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        print(f"stook-os: {' '.join(REBOOT)} failed: {result.stderr.strip()}", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK


def health_failed(
    args: argparse.Namespace, clock: Clock | None = None, reboot: Callable[[], int] | None = None
) -> int:
    """Publish the failed check and the decision (status.decide), then reboot if so decided.
    Exit 0 unless the reboot cannot be requested. *clock* and *reboot* default to the real
    ones (tests pass a fake clock and a recorder)."""
    at = (clock or _now)()
    status, decision = boot_status.failed(_known_status(args), args.check, at)
    boot_status.write(status, args.status_file)
    print(f"a required boot check failed ({args.check}): {decision.action}: {decision.reason}")
    if decision.action == "reboot" and args.reboot:
        return (reboot or _reboot)()
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Refusals end with their code; anything unexpected as a report (stook_core.door)."""
    return guard("stook-os", _main, argv)


def _main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    try:
        return run(args)
    except Refused as refusal:
        print(f"stook-os: {refusal}", file=sys.stderr)
        return refusal.code
    except slots.BootEnvInvalidError as error:  # pragma: no cover - load() validated it
        print(f"stook-os: invalid boot environment: {error}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as error:
        print(f"stook-os: {error}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())

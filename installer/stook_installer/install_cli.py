"""``stook-installer [options]``: install a node, with the TUI or unattended.

Unattended when ``--automatic`` is given or the config says ``install.automatic: true`` (for
example ``stook.install.automatic=true`` on the kernel command line). A destructive unattended
install needs consent: ``install.confirm_erase: true`` in the config or
``stook.install.confirm_erase=true`` on the kernel command line. ``--dry-run`` prints the plan
(every command and file) and touches nothing.

A joining node first checks the cluster it joins (engine/join.py: the server's CA against the
token, /ping, the API through the VIP, the hostname not yet a node) and touches no disk unless
that passes; a dry run lists those checks without making them.

Exit codes: 0 done, 1 install failed, 2 invalid config or machine (a missing or broken
``--machine`` profile included), 3 no consent, 4 no TUI, 5 the cluster to join refused or did
not answer (join check), 70 internal error (a bug: the report names the file holding the
traceback; ``--debug`` prints it), 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from pydantic import ValidationError

from stook_core.config.sources import Sources, read_file
from stook_core.config.validate import load_document, path_of
from stook_core.door import add_debug_flag
from stook_core.hardware import Machine, load_profile, probe
from stook_core.problems import ConfigError, Problem
from stook_installer import __version__
from stook_installer.engine.consent import Consent
from stook_installer.engine.events import ConsoleSink, EventSink, JsonLinesSink, fan_out
from stook_installer.engine.image import DEFAULT_IMAGE
from stook_installer.engine.join import JoinRefused, check_join, join_checks
from stook_installer.engine.plan import Plan, build_plan
from stook_installer.engine.runner import InstallFailed, execute

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_NO_CONSENT, EXIT_NO_TUI = 0, 1, 2, 3, 4
EXIT_JOIN_REFUSED = 5
PROC_CMDLINE = Path("/proc/cmdline")
# --act-after-install: what install.after_install runs once an unattended install is done.
AFTER_INSTALL_COMMANDS = {
    "reboot": ["systemctl", "reboot"],
    "poweroff": ["systemctl", "poweroff"],
}
CONSENT_HOWTO = (
    "An unattended install erases disks only with consent. To consent, add\n"
    "    confirm_erase: true\n"
    "under install: in the config, or put stook.install.confirm_erase=true on the kernel\n"
    "command line. Use --dry-run to see the plan without touching anything."
)


SUBCOMMANDS = """\
subcommands (each has --help):
  validate FILE...  check install config files: every problem, exit 2 when there are any
  show FILE         print the canonical config, secrets redacted
  schema            print the JSON Schema of InstallConfig
  join-check FILE   check the cluster a join config joins, touching nothing (exit 5: refused)
Without a subcommand it installs a node: the TUI on a console, unattended with --automatic."""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="stook-installer",
        description=__doc__.split("\n")[0],
        epilog=SUBCOMMANDS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--config", type=Path, metavar="FILE", help="install config (YAML)")
    p.add_argument("--config-url", metavar="URL", help="fetch the install config from URL")
    p.add_argument(
        "--config-sha256", metavar="HEX",
        help="refuse the --config-url document unless its bytes have this SHA-256",
    )  # fmt: skip
    p.add_argument(
        "--config-ca", type=Path, metavar="FILE",
        help="trust only this CA file for an https --config-url (default: the system CAs)",
    )  # fmt: skip
    p.add_argument(
        "--cmdline", type=Path, metavar="FILE",
        help="kernel command line to read stook.* keys from (default /proc/cmdline "
        "when no --config is given)",
    )  # fmt: skip
    p.add_argument("--automatic", action="store_true", help="no TUI: install unattended")
    p.add_argument("--dry-run", action="store_true", help="print the plan, touch nothing")
    p.add_argument("--machine", type=Path, metavar="PROFILE", help="machine profile JSON")
    p.add_argument("--image", type=Path, default=DEFAULT_IMAGE, help="the OS image (squashfs)")
    p.add_argument("--events", type=Path, metavar="FILE", help="also write events as JSON lines")
    p.add_argument(
        "--act-after-install", action="store_true",
        help="after an unattended install, reboot or power off as install.after_install says "
        "(used by the live medium's units; without it the installer only prints it)",
    )  # fmt: skip
    p.add_argument("--version", action="version", version=f"stook-installer {__version__}")
    add_debug_flag(p)
    return p


def _sources(args: argparse.Namespace) -> Sources:
    cmdline_file = args.cmdline
    if cmdline_file is None and args.config is None and PROC_CMDLINE.exists():
        cmdline_file = PROC_CMDLINE
    # Bytes: kernel_cmdline splits them as the kernel does, bad UTF-8 and all.
    cmdline = read_file(cmdline_file) if cmdline_file is not None else None
    return Sources(
        file=args.config,
        config_url=args.config_url,
        cmdline=cmdline,
        config_sha256=args.config_sha256,
        config_ca=args.config_ca,
    )


def _is_automatic(document: dict[str, Any]) -> bool:
    install = document.get("install")
    value = install.get("automatic", False) if isinstance(install, dict) else False
    return value is True or str(value).lower() in ("true", "1", "yes")


def _machine(args: argparse.Namespace) -> Machine:
    if not args.machine:
        return probe()
    if args.machine.exists() and not args.machine.is_file():
        problem = Problem.of("(file)", "is not a regular file (a JSON machine profile)")
        raise ConfigError([problem], f"machine profile {args.machine}")
    try:
        return load_profile(args.machine)
    except OSError as error:
        problems = [Problem.of("(file)", f"cannot be read: {error.strerror or error}")]
    except UnicodeDecodeError as error:
        problems = [Problem.of("(file)", f"is not UTF-8 text (byte {error.start})")]
    except json.JSONDecodeError as error:
        problems = [Problem.of("(file)", f"is not JSON: {error.msg} at line {error.lineno}")]
    except RecursionError:
        problems = [Problem.of("(file)", "is not a machine profile: it nests too deeply")]
    except ValidationError as error:
        problems = [
            Problem.of(path_of(detail["loc"]) or "(profile)", f"is invalid: {detail['msg']}")
            for detail in error.errors()
        ]
    raise ConfigError(problems, f"machine profile {args.machine}")


@contextlib.contextmanager
def _sink(events: Path | None, console: IO[str] | None) -> Iterator[EventSink]:
    sinks: list[EventSink] = [ConsoleSink(console)] if console is not None else []
    if events is None:
        yield fan_out(*sinks)
        return
    with events.open("a", encoding="utf-8") as stream:
        yield fan_out(*sinks, JsonLinesSink(stream))


def run_tui(args: argparse.Namespace, seed: dict[str, Any] | None) -> int:
    try:
        from stook_installer.tui.app import run_tui as start
    except ImportError as error:
        print(
            f"stook-installer: the TUI is not available ({error}).\n"
            "Install unattended instead: stook-installer --config FILE --automatic",
            file=sys.stderr,
        )
        return EXIT_NO_TUI
    result: int = start(machine=_machine(args), seed=seed, dry_run=args.dry_run, image=args.image)
    return result


def run_automatic(args: argparse.Namespace, document: dict[str, Any], source: str) -> int:
    """Build the plan once, print it, and run that very plan with the config's consent."""
    out = sys.stdout
    try:
        config = load_document(document, source)
        plan = build_plan(config, _machine(args), args.image)
    except ConfigError as error:
        print(error.report(), file=sys.stderr)
        print("Nothing was touched.", file=sys.stderr)
        return EXIT_INVALID
    # install.confirm_erase is consent to erase what this plan (printed here) erases.
    consent = Consent.to(plan) if config.install.confirm_erase else None
    if args.dry_run:
        out.write("\n".join(plan.describe()) + "\n")
        if consent is None:
            out.write("Note: the config has no consent (install.confirm_erase); a real run "
                      "would refuse.\n")  # fmt: skip
        out.write("".join(f"{line}\n" for line in join_checks(config.install)))
    else:
        out.write("\n".join([*plan.erase_notice(), *(f"Warning: {w}" for w in plan.warnings)]))
        out.write("\n")
        if consent is None:
            print(f"Refusing to install: no consent to erase.\n{CONSENT_HOWTO}", file=sys.stderr)
            return EXIT_NO_CONSENT
        with _sink(args.events, out) as sink:
            try:
                check_join(config.install, sink)
            except JoinRefused as refused:
                print(f"Join check failed: {refused}", file=sys.stderr)
                return EXIT_JOIN_REFUSED
    return _execute(args, plan, consent)


def _execute(args: argparse.Namespace, plan: Plan, consent: Consent | None) -> int:
    # A dry run has printed the plan; its events go only to --events.
    with _sink(args.events, None if args.dry_run else sys.stdout) as sink:
        try:
            execute(plan, consent, sink, dry_run=args.dry_run)
        except InstallFailed as failure:
            print(f"Install failed: {failure}", file=sys.stderr)
            return EXIT_FAILED
    if not args.dry_run:
        then = plan.config.install.after_install
        if args.act_after_install:
            print(f"Install complete: {then} now.", flush=True)
            after_install(then)
        else:
            print(f"Install complete. Remove the install medium; then {then}.")
    return EXIT_OK


def after_install(then: str) -> None:
    """Reboot or power off (install.after_install); only with --act-after-install."""
    command = AFTER_INSTALL_COMMANDS[then]
    result = subprocess.run(command, check=False)
    if result.returncode != 0:
        print(f"stook-installer: {' '.join(command)} failed ({result.returncode})", file=sys.stderr)


def main(argv: Sequence[str]) -> int:
    args = parser().parse_args(list(argv))
    try:
        return _main(args)
    except ConfigError as error:  # a bad --cmdline, --events or --machine file
        print(error.report(), file=sys.stderr)
        print("Nothing was touched.", file=sys.stderr)
        return EXIT_INVALID


def _check_events(events: Path | None) -> None:
    """--events must be writable before anything starts (not fail after the first step)."""
    if events is None:
        return
    try:
        with events.open("a", encoding="utf-8"):
            pass
    except OSError as error:
        problem = Problem.of("--events", f"cannot be written: {error.strerror or error}")
        raise ConfigError([problem], str(events)) from None


def _main(args: argparse.Namespace) -> int:
    _check_events(args.events)
    sources = _sources(args)
    try:
        document = sources.document()
    except ConfigError as error:
        print(error.report(), file=sys.stderr)
        if args.automatic:
            print("Nothing was touched.", file=sys.stderr)
            return EXIT_INVALID
        document = None
    if args.automatic or (document is not None and _is_automatic(document)):
        assert document is not None
        return run_automatic(args, document, sources.describe())
    seed = document if document and set(document) - {"apiVersion", "kind"} else None
    return run_tui(args, seed)

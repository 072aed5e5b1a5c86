"""``stook-installer``: validate and inspect install configs, and install a node.

stook-installer validate FILE...     print every problem; exit 2 when there are any
stook-installer show FILE            the canonical document, secrets redacted
stook-installer schema               the JSON Schema of InstallConfig
stook-installer join-check FILE      a join config's checks of its cluster, touching nothing
stook-installer [options]            install a node (see install_cli.py; --help)

Exit codes: 0 fine, 2 invalid input, 5 the cluster to join refused or did not answer
(join-check), 70 internal error (a bug; the report names the file with
the traceback), 130 interrupted; installing has more (install_cli.py).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from stook_core.config import dump_yaml
from stook_core.config.schema import schema_json
from stook_core.config.sources import Sources
from stook_core.door import DEBUG_FLAG, add_debug_flag, guard, report_bug
from stook_core.problems import ConfigError
from stook_installer import __version__

EXIT_OK, EXIT_INVALID, EXIT_JOIN_REFUSED = 0, 2, 5


def cmd_validate(args: argparse.Namespace) -> int:
    """Every file is checked, whatever happened to the one before it."""
    status = EXIT_OK
    for path in args.files:
        try:
            Sources(file=Path(path)).load()
        except ConfigError as error:
            print(error.report(), file=sys.stderr)
            status = max(status, EXIT_INVALID)
        except Exception as error:  # a bug: say so for this file, go on with the next
            status = max(status, report_bug(f"stook-installer validate {path}", error, args.debug))
        else:
            print(f"{path}: valid")
    return status


def cmd_show(args: argparse.Namespace) -> int:
    try:
        config = Sources(file=Path(args.file)).load()
    except ConfigError as error:
        print(error.report(), file=sys.stderr)
        return EXIT_INVALID
    sys.stdout.write(dump_yaml(config))
    return EXIT_OK


def cmd_join_check(args: argparse.Namespace) -> int:
    """The join check of engine/join.py alone: the same requests an install makes first."""
    from stook_installer.engine.events import ConsoleSink
    from stook_installer.engine.join import JoinRefused, check_join

    try:
        config = Sources(file=Path(args.file)).load()
    except ConfigError as error:
        print(error.report(), file=sys.stderr)
        return EXIT_INVALID
    if config.install.mode != "join":
        print(
            f"{args.file}: install.mode is {config.install.mode}: nothing to join", file=sys.stderr
        )
        return EXIT_INVALID
    try:
        check_join(config.install, ConsoleSink(sys.stdout))
    except JoinRefused as refused:
        print(f"Join check failed: {refused}", file=sys.stderr)
        return EXIT_JOIN_REFUSED
    return EXIT_OK


def cmd_schema(_args: argparse.Namespace) -> int:
    sys.stdout.write(schema_json())
    return EXIT_OK


def tool_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stook-installer", description=__doc__.split("\n")[0])
    parser.add_argument("--version", action="version", version=f"stook-installer {__version__}")
    add_debug_flag(parser)
    commands = parser.add_subparsers(dest="command", required=True)
    validate = commands.add_parser("validate", help="check install config files")
    validate.add_argument("files", nargs="+", metavar="FILE")
    validate.set_defaults(run=cmd_validate)
    show = commands.add_parser("show", help="print the canonical config, secrets redacted")
    show.add_argument("file", metavar="FILE")
    show.set_defaults(run=cmd_show)
    schema = commands.add_parser("schema", help="print the JSON Schema of InstallConfig")
    schema.set_defaults(run=cmd_schema)
    join_check = commands.add_parser(
        "join-check", help="check the cluster a join config joins (touches nothing)"
    )
    join_check.add_argument("file", metavar="FILE")
    join_check.set_defaults(run=cmd_join_check)
    return parser


TOOL_COMMANDS = ("validate", "show", "schema", "join-check")


def main(argv: Sequence[str] | None = None) -> int:
    """Every door of stook-installer; an unexpected error ends as a report (stook_core.door)."""
    return guard("stook-installer", _dispatch, argv)


def _dispatch(args: list[str]) -> int:
    plain = [arg for arg in args if arg != DEBUG_FLAG]  # --debug may stand anywhere
    if plain and plain[0] in TOOL_COMMANDS:
        parsed = tool_parser().parse_args(plain)
        parsed.debug = len(plain) < len(args)
        run: Callable[[argparse.Namespace], int] = parsed.run
        return run(parsed)
    from stook_installer.install_cli import main as install_main

    return install_main(args)


if __name__ == "__main__":
    sys.exit(main())

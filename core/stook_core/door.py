"""The last line of every command's ``main``: no traceback reaches the console.

Bad input is reported where it is found, with the field and the rule. Anything that still
escapes is a bug; ``guard`` turns it into one paragraph (what failed, and the file that holds the
traceback) and exit code 70 (EX_SOFTWARE). ``--debug`` or ``STOOK_DEBUG=1`` prints the traceback
too. Ctrl-C ends with 130 and one line.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import math
import os
import re
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence

EXIT_BUG = 70
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # as a shell reports a process killed by SIGPIPE
DEBUG_FLAG = "--debug"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def add_debug_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        DEBUG_FLAG, action="store_true", help="print the traceback of an internal error"
    )


def log_level(text: str) -> int:
    """argparse type for ``--log-level``: a level name in any case, or a clear usage error."""
    name = text.strip().upper()
    if name not in LOG_LEVELS:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a log level: use one of {', '.join(LOG_LEVELS)}"
        )
    level: int = getattr(logging, name)
    return level


def regex(text: str) -> str:
    """argparse type: a regular expression that compiles (checked now, not at first use)."""
    try:
        re.compile(text)
    except re.error as error:
        raise argparse.ArgumentTypeError(f"{text!r} is not a regular expression: {error}") from None
    return text


def seconds(text: str) -> float:
    """argparse type: a finite number of seconds above zero."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds above 0")
    return value


def whole_number(low: int, high: int) -> Callable[[str], int]:
    """argparse type: a whole number in low..high."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number in {low}..{high}")
        return value

    return parse


def _crash_file(prog: str, text: str) -> str:
    """Write *text* to a new file under the temporary directory; its path, or why not."""
    name = prog.split()[0]  # "stook-installer validate FILE" -> stook-installer
    try:
        handle, path = tempfile.mkstemp(
            prefix=f"{name}-error-{time.strftime('%Y%m%dT%H%M%S')}-", suffix=".log"
        )
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
    except OSError as error:
        return f"(the traceback could not be written: {error})"
    return path


def report_bug(prog: str, error: BaseException, debug: bool) -> int:
    """One paragraph about an unexpected *error*; the traceback goes to a file (stderr: --debug)."""
    text = "".join(traceback.format_exception(error))
    where = _crash_file(prog, text)
    if debug:
        sys.stderr.write(text)
    frames = traceback.extract_tb(error.__traceback__)
    at = f" in {frames[-1].name} ({frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    # The message itself goes only to the file (mode 0600): it might quote a secret.
    sys.stderr.write(
        f"{prog}: internal error: {type(error).__name__}{at}. This is a bug in {prog}, not in "
        f"your input; nothing more was done. The traceback is in {where} (run with "
        f"{DEBUG_FLAG} to print it); please report it with that file.\n"
    )
    return EXIT_BUG


def guard(prog: str, body: Callable[[list[str]], int], argv: Sequence[str] | None) -> int:
    """Run ``body(args)``; an unexpected exception becomes a report and EXIT_BUG."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = DEBUG_FLAG in args or os.environ.get("STOOK_DEBUG") == "1"
    for stream in (sys.stdout, sys.stderr):  # a file name that is not UTF-8 still prints
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")
    try:
        return body(args)
    except KeyboardInterrupt:
        sys.stderr.write(f"{prog}: interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `stook-installer schema | head`: the reader left, nothing to say
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except SystemExit:
        raise
    except Exception as error:  # the one place that catches everything, see the module doc
        return report_bug(prog, error, debug)

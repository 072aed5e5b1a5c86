"""Running the disk tools (wipefs, mkfs.ext4, mount, umount) with readable failures."""

from __future__ import annotations

import subprocess


class CommandError(RuntimeError):
    pass


def run(*argv: str, timeout: float = 300) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=timeout)
    except FileNotFoundError as error:
        raise CommandError(f"{argv[0]} is not installed on the node") from error
    except subprocess.TimeoutExpired as error:
        raise CommandError(f"{' '.join(argv)} did not finish in {timeout:.0f} s") from error
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise CommandError(f"{' '.join(argv)} failed ({done.returncode}): {detail[0]}")
    return done.stdout

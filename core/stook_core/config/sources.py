"""Where an InstallConfig comes from, and the order the pieces are merged in.

Order (later wins, mappings merge key by key, lists and scalars are replaced):
  1. ``apiVersion``/``kind`` defaults (so a kernel-command-line-only config is a full document)
  2. a local file (``--config``, or the one baked into the ISO)
  3. the document at ``config_url`` (``--config-url`` or ``stook.install.config_url=``)
  4. kernel command line keys ``stook.<path>=<value>``, for example
     ``stook.install.hostname=node1`` -> ``install.hostname``; a repeated key becomes a list.
"""

from __future__ import annotations

import logging
import shlex
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stook_core.config import yamldoc
from stook_core.config.model import API_VERSION, KIND, InstallConfig
from stook_core.config.validate import load_document
from stook_core.problems import ConfigError, Problem

log = logging.getLogger(__name__)

CMDLINE_PREFIX = "stook."
# Keys that steer the loader rather than being part of the document.
CONFIG_URL_KEY = "install.config_url"


def parse_yaml(data: bytes | str, source: str) -> dict[str, Any]:
    """One strict YAML mapping (yamldoc) that names its version; ConfigError otherwise."""
    document = yamldoc.load(data, source)
    if not isinstance(document, dict):
        raise ConfigError([Problem.of(yamldoc.DOCUMENT, "is not a mapping of fields")], source)
    if "apiVersion" not in document or "kind" not in document:
        raise ConfigError(
            [
                Problem.of(
                    "apiVersion", f"and kind are required: apiVersion: {API_VERSION}, kind: {KIND}"
                )
            ],
            source,
        )
    return document


def read_file(path: Path) -> bytes:
    """The bytes of a local config file, at most yamldoc.MAX_BYTES + 1 of them."""
    try:
        with path.open("rb") as stream:
            return stream.read(yamldoc.MAX_BYTES + 1)
    except OSError as error:
        reason = error.strerror or str(error)
        raise ConfigError([Problem.of("(file)", f"cannot be read: {reason}")], str(path)) from None


def parse_cmdline(cmdline: str) -> dict[str, Any]:
    """``stook.a.b=v`` words of a kernel command line, nested (a repeated key -> list)."""
    flat: dict[str, Any] = {}
    for word in shlex.split(cmdline):
        if not word.startswith(CMDLINE_PREFIX):
            continue
        key, sep, value = word[len(CMDLINE_PREFIX) :].partition("=")
        value = value if sep else "true"
        if key in flat:
            previous = flat[key]
            flat[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            flat[key] = value
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        node = nested
        *parents, leaf = key.split(".")
        for part in parents:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(
                    [
                        Problem.of(
                            f"{CMDLINE_PREFIX}{key}",
                            "conflicts with a shorter key of the same path",
                        )
                    ],
                    "kernel command line",
                )
            node = child
        node[leaf] = value
    return nested


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


@dataclass
class Fetcher:
    """GET a config URL, retrying with exponential back-off (the network may still be coming up)."""

    attempts: int = 10
    timeout: float = 10.0
    first_delay: float = 1.0
    max_delay: float = 30.0
    sleep: Callable[[float], None] = time.sleep
    tried: list[str] = field(default_factory=list)

    def __call__(self, url: str) -> str:
        delay = self.first_delay
        last_error = ""
        for attempt in range(1, self.attempts + 1):
            try:
                with urllib.request.urlopen(url, timeout=self.timeout) as response:
                    return str(response.read().decode("utf-8"))
            except (urllib.error.URLError, TimeoutError, OSError) as error:
                last_error = str(getattr(error, "reason", error))
                self.tried.append(last_error)
                log.warning(
                    "config_url attempt %d/%d failed: %s", attempt, self.attempts, last_error
                )
                if (
                    isinstance(error, urllib.error.HTTPError)
                    and 400 <= error.code < 500
                    and error.code != 429
                ):
                    break  # a client error will not heal by waiting
                if attempt < self.attempts:
                    self.sleep(delay)
                    delay = min(delay * 2, self.max_delay)
        raise ConfigError(
            [
                Problem.of(
                    CONFIG_URL_KEY,
                    f"could not be fetched after {len(self.tried)} attempt(s): {last_error}",
                    url,
                )
            ],
            url,
        )


@dataclass
class Sources:
    """The inputs of one install; ``load`` merges them in the documented order."""

    file: Path | None = None
    config_url: str | None = None
    cmdline: str | None = None
    fetch: Callable[[str], str] = field(default_factory=Fetcher)

    def document(self) -> dict[str, Any]:
        merged: dict[str, Any] = {"apiVersion": API_VERSION, "kind": KIND}
        from_cmdline = parse_cmdline(self.cmdline) if self.cmdline else {}
        url = self.config_url or from_cmdline.get("install", {}).pop("config_url", None)
        if self.file is not None:
            merged = deep_merge(merged, parse_yaml(read_file(self.file), str(self.file)))
        if url:
            merged = deep_merge(merged, parse_yaml(self.fetch(url), url))
        return deep_merge(merged, from_cmdline)

    def describe(self) -> str:
        parts = [str(self.file)] if self.file else []
        parts += [self.config_url] if self.config_url else []
        parts += ["kernel command line"] if self.cmdline else []
        return " + ".join(parts) or "defaults"

    def load(self) -> InstallConfig:
        return load_document(self.document(), self.describe())

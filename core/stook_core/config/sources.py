"""Where an InstallConfig comes from, and the order the pieces are merged in.

Order (later wins, mappings merge key by key, lists and scalars are replaced):
  1. ``apiVersion``/``kind`` defaults (so a kernel-command-line-only config is a full document)
  2. a local file (``--config``, or the one baked into the ISO)
  3. the document at ``config_url`` (``--config-url`` or ``stook.install.config_url=``; fetch.py)
  4. kernel command line keys ``stook.install.<path>=<value>`` (cmdline.py), for example
     ``stook.install.hostname=node1`` -> ``install.hostname``; a repeated key becomes a list.

``--config-url`` wins over a kernel ``config_url`` (the operator typed it on purpose); a kernel
``config_sha256`` pins only the kernel's own URL, so it is dropped with the URL it pins.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stook_core.config import yamldoc
from stook_core.config.cmdline import LOADER_KEYS, PREFIX, SOURCE, parse_cmdline
from stook_core.config.fetch import CA_KEY, SHA256_KEY, Fetcher, Location, redact_url
from stook_core.config.model import API_VERSION, KIND, InstallConfig
from stook_core.config.validate import load_document
from stook_core.problems import ConfigError, Problem

log = logging.getLogger(__name__)

__all__ = ["Fetcher", "Location", "Sources", "deep_merge", "parse_cmdline", "parse_yaml"]


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


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _loader_keys(from_cmdline: dict[str, Any]) -> dict[str, str]:
    """Take config_url, config_sha256 and config_ca out of the kernel's document."""
    install = from_cmdline.get("install", {})
    taken = {key: install.pop(key) for key in sorted(LOADER_KEYS) if key in install}
    if not install:
        from_cmdline.pop("install", None)
    bad = [key for key, value in taken.items() if not isinstance(value, str)]
    if bad:
        raise ConfigError(
            [Problem.of(f"{PREFIX}install.{key}", "must be one value") for key in bad], SOURCE
        )
    return taken


@dataclass
class Sources:
    """The inputs of one install; ``load`` merges them in the documented order."""

    file: Path | None = None
    config_url: str | None = None
    cmdline: bytes | str | None = None
    config_sha256: str | None = None
    config_ca: Path | None = None
    fetch: Callable[[Location], bytes] = field(default_factory=Fetcher)

    def __repr__(self) -> str:  # the command line and the URL may carry secrets
        return f"Sources({self.describe()})"

    def location(self, kernel: dict[str, str]) -> Location | None:
        """The config URL to fetch and how to trust it, flags first (see the module doc)."""
        kernel_url = kernel.get("config_url")
        url = self.config_url or kernel_url
        sha256 = self.config_sha256
        if sha256 is None and url == kernel_url:
            sha256 = kernel.get("config_sha256")
        elif self.config_url and kernel_url and kernel_url != self.config_url:
            log.warning(
                "--config-url %s replaces the kernel's config_url %s (and its config_sha256)",
                redact_url(self.config_url), redact_url(kernel_url),
            )  # fmt: skip
        kernel_ca = kernel.get("config_ca")
        ca = self.config_ca or (Path(kernel_ca) if kernel_ca else None)
        if url:
            return Location(url, sha256, ca)
        unused = [
            Problem.of(key, "needs a config_url to apply to")
            for key, given in ((SHA256_KEY, sha256), (CA_KEY, ca))
            if given is not None
        ]
        if unused:
            raise ConfigError(unused, self.describe())
        return None

    def document(self) -> dict[str, Any]:
        merged: dict[str, Any] = {"apiVersion": API_VERSION, "kind": KIND}
        from_cmdline = parse_cmdline(self.cmdline) if self.cmdline else {}
        location = self.location(_loader_keys(from_cmdline))
        if self.file is not None:
            merged = deep_merge(merged, parse_yaml(read_file(self.file), str(self.file)))
        if location is not None:
            merged = deep_merge(merged, parse_yaml(self.fetch(location), redact_url(location.url)))
        return deep_merge(merged, from_cmdline)

    def describe(self) -> str:
        parts = [str(self.file)] if self.file else []
        parts += [redact_url(self.config_url)] if self.config_url else []
        parts += [SOURCE] if self.cmdline else []
        return " + ".join(parts) or "defaults"

    def load(self) -> InstallConfig:
        return load_document(self.document(), self.describe())

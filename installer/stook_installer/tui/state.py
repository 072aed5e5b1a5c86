"""What the operator has answered so far: one InstallConfig document, validated by the model.

The TUI writes every answer straight into a plain document dict (the same shape as a YAML install
config) and asks ``validate_document`` for the problems; a page shows the problems whose field
path it owns. There are no TUI-side copies of the model's rules.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from stook_core.config import API_VERSION, KIND, InstallConfig, validate_document
from stook_core.config.model import DiskMatch
from stook_core.diskmatch import resolve
from stook_core.hardware import Disk, Machine
from stook_core.problems import Problem
from stook_installer.engine.image import DEFAULT_IMAGE
from stook_installer.engine.preflight import check_machine


def owned(path: str, prefixes: tuple[str, ...]) -> bool:
    """True when field *path* is one of *prefixes* or lies inside one."""
    return any(path == p or path.startswith((p + ".", p + "[")) for p in prefixes)


def describe_problem(problem: Problem, width: int = 40) -> str:
    """One problem as the operator reads it; long values (SSH keys) are shortened."""
    value = problem.value
    if value is not None and len(value) > width:
        value = value[: width - 4] + '..."'
    shown = f"{value} " if value is not None else ""
    warning = "warning: " if problem.severity != "error" else ""
    return f"{warning}{problem.path}: {shown}{problem.message}"


def new_document(seed: dict[str, Any] | None) -> dict[str, Any]:
    document: dict[str, Any] = copy.deepcopy(seed) if seed else {}
    document.setdefault("apiVersion", API_VERSION)
    document.setdefault("kind", KIND)
    install = document.setdefault("install", {})
    if not isinstance(install, dict):
        document["install"] = install = {}
    install.setdefault("mode", "create")
    return document


@dataclass
class Wizard:
    """The answers (a document dict) plus the machine they are about."""

    machine: Machine
    dry_run: bool = True
    image: Path | None = None
    document: dict[str, Any] = field(default_factory=lambda: new_document(None))
    _cache: dict[str, tuple[InstallConfig | None, list[Problem]]] = field(
        default_factory=dict, repr=False, compare=False
    )
    # The password the seed config brought (often a $6$ hash), to tell it from a typed one.
    seeded_password: Any = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.seeded_password = self.get("install.password")

    # --- the document by dotted path ------------------------------------------------------------

    def get(self, path: str, default: Any = None) -> Any:
        node: Any = self.document
        for part in path.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node

    def set(self, path: str, value: Any, *, keep: bool = False) -> None:
        """Set *path*; None, "" and [] remove it (an unanswered optional field is omitted).

        With *keep*, an empty value is stored as it is (so the model can say it is empty).
        """
        *parents, leaf = path.split(".")
        empty = not keep and (value is None or value == "" or value == [])
        chain = [self.document]
        for part in parents:
            child = chain[-1].get(part)
            if not isinstance(child, dict):
                if empty:
                    return
                child = chain[-1][part] = {}
            chain.append(child)
        if not empty:
            chain[-1][leaf] = value
            return
        chain[-1].pop(leaf, None)
        # Drop mappings emptied by this (an all-empty proxy page leaves no ``proxy: {}``).
        for parent, part in zip(reversed(chain[1:-1]), reversed(parents[1:]), strict=True):
            if parent.get(part) == {}:
                parent.pop(part)

    @property
    def image_path(self) -> Path:
        """The OS image to install: the one given, else the live medium's."""
        return self.image if self.image is not None else DEFAULT_IMAGE

    @property
    def mode(self) -> str:
        return str(self.get("install.mode", "create"))

    # --- validation -----------------------------------------------------------------------------

    def validate(self) -> tuple[InstallConfig | None, list[Problem]]:
        return self._validated(self.document)

    def _validated(self, document: dict[str, Any]) -> tuple[InstallConfig | None, list[Problem]]:
        """validate_document, remembered for the last few documents: a page revalidates on
        every widget event, and a plain password is hashed on each validation."""
        key = json.dumps(document, sort_keys=True, default=str)
        if key not in self._cache:
            if len(self._cache) > 8:
                self._cache.clear()
            self._cache[key] = validate_document(copy.deepcopy(document))
        return self._cache[key]

    def problems_for(self, prefixes: tuple[str, ...]) -> list[Problem]:
        """The model's problems with the fields under *prefixes*, then the hardware's.

        Hardware checks (preflight: disk sizes, NICs present and linked) need a whole valid
        config, so answers not given yet are filled with stand-ins for them; their problems
        are only kept for the fields under *prefixes*, which are the operator's real answers.
        """
        _config, problems = self.validate()
        mine = [p for p in problems if owned(p.path, prefixes)]
        if mine:
            return mine
        provisional = self.provisional_config()
        if provisional is None:
            return []
        return [p for p in check_machine(provisional, self.machine) if owned(p.path, prefixes)]

    def provisional_config(self) -> InstallConfig | None:
        document = copy.deepcopy(self.document)
        install = document["install"]
        stand_ins: dict[str, Any] = {
            "hostname": "stand-in",
            "token": "stand-in",
            "install_disk": {"size": "largest"},
            "management_interface": {"nics": [n.name for n in self.machine.nics[:1]]},
            "password": "stand-in-password",
        }
        if install.get("mode") == "join":
            stand_ins["server_url"] = "https://stand-in:9345"
        else:
            stand_ins["vip"] = {"mode": "dhcp"}
        for key, value in stand_ins.items():
            install.setdefault(key, value)
        config, _problems = self._validated(document)
        return config

    # --- the machine ----------------------------------------------------------------------------

    def disk_match(self, disk: Disk) -> dict[str, str]:
        """How the config names *disk*: by serial when that is unique, else by path."""
        serial = disk.serial
        if serial and sum(1 for d in self.machine.disks if d.serial == serial) == 1:
            return {"serial": serial}
        return {"path": disk.path}

    def disk_for(self, match: Any) -> Disk | None:
        """The disk a document's disk match selects on this machine, or None."""
        if match is None:
            return None
        try:
            return resolve(DiskMatch.model_validate(match), self.machine.disks)
        except (ValidationError, LookupError):  # no disk, or several
            return None

    def candidate_disks(self) -> list[Disk]:
        """Disks the node can be installed on: writable and not in use."""
        return [d for d in self.machine.disks if unusable(d) is None]

    def unusable_disks(self) -> list[tuple[Disk, str]]:
        """The disks never offered, each with the reason."""
        return [(d, why) for d in self.machine.disks if (why := unusable(d)) is not None]


def unusable(disk: Disk) -> str | None:
    """Why *disk* can never be erased by this install (None when it can)."""
    if disk.read_only:
        return "read-only"
    if disk.busy is None:
        return None
    return "; ".join(disk.in_use)  # the live medium, mounts, holders, swap

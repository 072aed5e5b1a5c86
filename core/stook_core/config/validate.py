"""Turn a raw document into an InstallConfig, reporting every problem at once.

Pydantic checks types and single fields and reports all of those together. Rules relating
several fields (rules.py) run on a config built from the fields that were valid, so a document
with one bad field still hears about its other mistakes; a cross-field problem that touches a
field already reported is dropped rather than said twice.
"""

from __future__ import annotations

import copy
import difflib
import functools
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from stook_core.config.checks import RULE_ERROR
from stook_core.config.model import API_VERSION, KIND, InstallConfig
from stook_core.config.rules import check_rules
from stook_core.problems import ConfigError, Problem, child_path

Loc = tuple[int | str, ...]

_MESSAGES = {
    "missing": "is required",
    "int_parsing": "is not a whole number",
    "int_type": "is not a whole number",
    "int_from_float": "is not a whole number",
    "bool_parsing": "is not true or false",
    "bool_type": "is not true or false",
    "string_type": "is not a string",
    "list_type": "is not a list",
    "dict_type": "is not a mapping",
    "model_type": "is not a mapping",
    "model_attributes_type": "is not a mapping",
    "ip_v4_address": "is not an IPv4 address",
    "ip_v6_address": "is not an IPv6 address",
    "ip_any_address": "is not an IP address",
    "ip_v4_interface": "is not an IPv4 address with a prefix length, such as 192.168.1.10/24",
    "ip_v4_network": "is not an IPv4 network such as 10.52.0.0/16",
}


def path_of(loc: Loc) -> str:
    """``('install', 'nics', 0, 'name')`` -> ``install.nics[0].name`` (see child_path)."""
    return functools.reduce(child_path, loc, "")


def _model_at(loc: Loc, root: type[BaseModel] = InstallConfig) -> type[BaseModel] | None:
    """The model class that holds the field at *loc* (used to suggest a misspelt key)."""
    model: Any = root
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) or next(
            (f for f in model.model_fields.values() if f.alias == part), None
        )
        if field is None:
            return None
        annotation = field.annotation
        candidates = [annotation, *getattr(annotation, "__args__", ())]
        model = next(
            (c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None
        )
        if model is None:
            return None
    return model if isinstance(model, type) else None


def _message(error: ErrorDetails, root: type[BaseModel]) -> str:
    kind = error["type"]
    if kind == RULE_ERROR:
        return error["msg"]
    if kind == "extra_forbidden":
        owner = _model_at(error["loc"][:-1], root)
        names = [f.alias or n for n, f in owner.model_fields.items()] if owner else []
        close = difflib.get_close_matches(str(error["loc"][-1]), names, n=1)
        return "is not a known field" + (f"; did you mean {close[0]}?" if close else "")
    if kind in ("literal_error", "enum"):
        return f"must be {error.get('ctx', {}).get('expected', 'one of the allowed values')}"
    return _MESSAGES.get(kind, error["msg"])


def problem_of(
    error: ErrorDetails, root: type[BaseModel] = InstallConfig, *, secret: bool = False
) -> Problem:
    """One pydantic error of a *root* document as a Problem (*secret*: never show the value)."""
    path = path_of(error["loc"])
    hide_value = (
        secret
        or error["type"] in ("missing", "extra_forbidden")
        or isinstance(error.get("input"), (dict, list))
    )
    return Problem.of(path, _message(error, root), error.get("input"), missing=hide_value)


def _prune(data: Any, locs: list[Loc]) -> Any:
    """A copy of *data* without the values at *locs* (deepest first, so indexes stay right)."""
    pruned = copy.deepcopy(data)

    def depth_then_index(loc: Loc) -> tuple[int, int]:
        return len(loc), loc[-1] if loc and isinstance(loc[-1], int) else -1

    for loc in sorted(locs, key=depth_then_index, reverse=True):
        parent = pruned
        try:
            for part in loc[:-1]:
                parent = parent[part]
            del parent[loc[-1]]
        except (KeyError, IndexError, TypeError):
            continue
    return pruned


# Valid stand-ins for required fields that were missing or invalid, so the rules relating the
# *other* fields can still run. Rules reading a stand-in are skipped (see check_rules).
_STAND_INS: dict[Loc, Any] = {
    ("apiVersion",): API_VERSION,
    ("kind",): KIND,
    ("install",): {},
    ("install", "mode"): "create",
    ("install", "hostname"): "stand-in",
    ("install", "token"): "stand-in",
    ("install", "install_disk"): {"size": "largest"},
    ("install", "management_interface"): {},
    ("install", "management_interface", "nics"): ["stand-in0"],
}


def _with_stand_ins(data: Any, details: list[ErrorDetails]) -> InstallConfig | None:
    """A config from the valid fields of *data*, or None when one cannot be had."""
    candidate = _prune(data, [d["loc"] for d in details])
    for _ in range(len(_STAND_INS)):
        try:
            return InstallConfig.model_validate(candidate)
        except ValidationError as error:
            missing = [e["loc"] for e in error.errors() if e["type"] == "missing"]
            if not missing or any(loc not in _STAND_INS for loc in missing):
                return None
            for loc in missing:
                parent = candidate
                for part in loc[:-1]:
                    parent = parent[part]
                parent[loc[-1]] = copy.deepcopy(_STAND_INS[loc])
    return None


def validate_document(data: Any) -> tuple[InstallConfig | None, list[Problem]]:
    """Return the config and no problems, or None and every problem found."""
    if not isinstance(data, dict):
        return None, [Problem.of("(document)", "is not a mapping of fields")]
    try:
        config = InstallConfig.model_validate(data)
    except ValidationError as error:
        details = error.errors()
        problems = [problem_of(detail) for detail in details]
        partial = _with_stand_ins(data, details)
        if partial is not None:
            problems += check_rules(partial, frozenset(p.path for p in problems))
        return None, sorted(set(problems))
    problems = check_rules(config)
    return (None, sorted(set(problems))) if problems else (config, [])


def load_document(data: Any, source: str = "install config") -> InstallConfig:
    """Validated InstallConfig, or ConfigError listing every problem."""
    config, problems = validate_document(data)
    if config is None:
        raise ConfigError(problems, source)
    return config

"""Set or delete a value in a nested config document by its dotted path (``a.b[0].c``)."""

from __future__ import annotations

import re
from typing import Any

DELETE = object()
_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _parts(path: str) -> list[str | int]:
    return [name if name else int(index) for name, index in _PART.findall(path)]


def set_path(document: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """Set *path* to *value* (``DELETE`` removes it); returns the document for chaining."""
    *parents, leaf = _parts(path)
    node: Any = document
    for part in parents:
        if isinstance(part, str) and part not in node:
            node[part] = {}
        node = node[part]
    if value is DELETE:
        del node[leaf]
    else:
        node[leaf] = value
    return document

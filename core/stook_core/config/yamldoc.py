"""Read one YAML document strictly: UTF-8, one mapping, no duplicate keys, bounded in size.

PyYAML's SafeLoader lets the last of two equal keys win silently, recurses once per nesting
level (a few hundred ``[`` end in RecursionError) and shares aliased nodes, so a few lines of
``&a [*a, *a, ...]`` expand to billions of values once anything walks the result. This module
refuses all of those with a problem naming the field path (or the document) before any value
is built.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from stook_core.problems import ConfigError, Problem, child_path

DOCUMENT = "(document)"
MAX_BYTES = 1 << 20  # 1 MiB: an install config is a few KiB
MAX_DEPTH = 32  # an InstallConfig nests 5 levels deep
MAX_VALUES = 100_000  # values after expanding aliases
_MERGE_TAG = "tag:yaml.org,2002:merge"


class _RefusedError(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


class _Loader(yaml.SafeLoader):
    """A SafeLoader that refuses to compose deeper than MAX_DEPTH (before Python's stack ends)."""

    depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                line = self.peek_event().start_mark.line + 1  # type: ignore[no-untyped-call]
                raise _RefusedError(
                    Problem.of(DOCUMENT, f"nests deeper than {MAX_DEPTH} levels (line {line})")
                )
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def decode(data: bytes) -> str:
    """UTF-8 text (a byte-order mark is allowed), or a problem saying where it is not."""
    if len(data) > MAX_BYTES:
        raise _RefusedError(
            Problem.of(DOCUMENT, f"is {len(data)} bytes, more than the {MAX_BYTES} allowed")
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise _RefusedError(
            Problem.of(DOCUMENT, f"is not UTF-8 text (line {line}, byte {error.start})")
        ) from None


def _check_keys(loader: _Loader, node: MappingNode, path: str) -> None:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if not isinstance(key_node, ScalarNode) or key_node.tag == _MERGE_TAG:
            continue
        key = loader.construct_object(key_node)
        line = key_node.start_mark.line + 1
        if key in seen:
            raise _RefusedError(
                Problem.of(
                    child_path(path, key),
                    f"is given twice (lines {seen[key]} and {line}); remove one "
                    "(YAML would silently keep the last)",
                )
            )
        seen[key] = line


def _inspect(loader: _Loader, root: Node) -> None:
    """Duplicate keys, depth and expanded size, walking the node graph without recursion."""
    stack: list[tuple[Node, str, int]] = [(root, "", 1)]
    values = 0
    while stack:
        node, path, depth = stack.pop()
        values += 1
        if values > MAX_VALUES:
            raise _RefusedError(
                Problem.of(DOCUMENT, f"expands to more than {MAX_VALUES} values (YAML aliases?)")
            )
        if depth > MAX_DEPTH:
            raise _RefusedError(
                Problem.of(path or DOCUMENT, f"nests deeper than {MAX_DEPTH} levels (aliases?)")
            )
        if isinstance(node, MappingNode):
            _check_keys(loader, node, path)
            for key_node, value_node in node.value:
                name = key_node.value if isinstance(key_node, ScalarNode) else "?"
                stack.append((value_node, child_path(path, name), depth + 1))
        elif isinstance(node, SequenceNode):
            stack += [(item, child_path(path, i), depth + 1) for i, item in enumerate(node.value)]


def _where(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    if mark is not None:
        return f" at line {mark.line + 1}, column {mark.column + 1}"
    position = getattr(error, "position", None)  # a ReaderError: a character YAML refuses
    if position is None:
        return ""
    return f" (a character YAML does not allow at offset {position})"


def load(data: bytes | str, source: str) -> Any:
    """The value of the one YAML document in *data*; ConfigError naming *source* otherwise."""
    try:
        text = decode(data) if isinstance(data, bytes) else data
        if len(text) > MAX_BYTES:
            raise _RefusedError(Problem.of(DOCUMENT, f"is more than {MAX_BYTES} characters"))
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            _inspect(loader, node)
            return loader.construct_document(node)
        finally:
            loader.dispose()
    except _RefusedError as refused:
        raise ConfigError([refused.problem], source) from None
    except yaml.YAMLError as error:
        problem = Problem.of(DOCUMENT, f"is not valid YAML{_where(error)}")
        raise ConfigError([problem], source) from None
    except RecursionError:
        raise ConfigError([Problem.of(DOCUMENT, "nests too deeply")], source) from None
    except (ValueError, OverflowError) as error:  # e.g. an integer of more than 4300 digits
        problem = Problem.of(DOCUMENT, f"has a value YAML cannot read: {error}")
        raise ConfigError([problem], source) from None

"""The chart's CustomResourceDefinitions, generated from the models (as the install config's JSON
Schema is): ``python -m stook_agent.api.crd --write charts/stook/crds``, or one CRD on stdout:
``python -m stook_agent.api.crd blockdevices.stook.io``. A unit test fails when the chart's
files differ from what this makes.

Pydantic's JSON Schema is turned into a *structural* OpenAPI v3 schema, the form the API server
requires: every ``$ref`` inlined, ``X | None`` written as X (a null is pruned, unset fields are
simply absent), ``Literal`` as ``enum``, ``dict[str, Any]`` as preserved unknown fields, and
nothing the API server would reject (anything else is an error here, not at install time).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from stook_agent.api import KINDS
from stook_agent.api.meta import StookObject

Schema = dict[str, Any]

# Keys kept from pydantic's schema, in the order they are written.
_ORDER = (
    "description", "type", "format", "enum", "default", "pattern", "minLength", "maxLength",
    "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minItems", "maxItems",
    "minProperties", "maxProperties",
    "required", "properties", "items", "additionalProperties",
    "x-kubernetes-list-type", "x-kubernetes-list-map-keys", "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-validations",
)  # fmt: skip
_DROPPED = ("title",)


class SchemaError(ValueError):
    """A model whose schema cannot be a structural CRD schema; the message names the field."""


def _resolve(node: Schema, defs: dict[str, Schema], path: str) -> Schema:
    """Inline ``$ref`` / single-``allOf`` and drop the null branch of ``X | None``."""
    node = dict(node)
    if "allOf" in node and len(node["allOf"]) == 1:
        node = {**node.pop("allOf")[0], **node}
    if "$ref" in node:
        name = node.pop("$ref").rsplit("/", 1)[-1]
        node = {**defs[name], **node}  # the field's own description wins over the class's
    if "anyOf" in node:
        options = [o for o in node.pop("anyOf") if o != {"type": "null"}]
        if len(options) != 1:
            raise SchemaError(f"{path}: a union of {len(options)} types is not structural")
        node = {**_resolve(options[0], defs, path), **node}
    if "const" in node:
        node["enum"] = [node.pop("const")]
    if node.get("default", 0) is None:
        del node["default"]
    return node


def structural(node: Schema, defs: dict[str, Schema], path: str = "") -> Schema:
    """One node of pydantic's JSON Schema as a structural OpenAPI v3 schema."""
    node = _resolve(node, defs, path)
    out: Schema = {}
    for key, value in node.items():
        if key in _DROPPED:
            continue
        if key not in _ORDER:
            raise SchemaError(f"{path or '<root>'}: {key!r} has no place in a CRD schema")
        if key == "description":
            out[key] = " ".join(str(value).split())
        elif key == "properties":
            out[key] = {k: structural(v, defs, f"{path}.{k}") for k, v in value.items()}
        elif key == "items":
            out[key] = structural(value, defs, f"{path}[]")
        elif key == "additionalProperties":
            if value in ({}, True):
                out["x-kubernetes-preserve-unknown-fields"] = True
            elif value is not False:
                out[key] = structural(value, defs, f"{path}.*")
        else:
            out[key] = value
    if "type" not in out and not out.get("x-kubernetes-preserve-unknown-fields"):
        raise SchemaError(f"{path or '<root>'}: no type (a structural schema needs one)")
    return {key: out[key] for key in _ORDER if key in out}


def custom_resource_definition(model: type[StookObject]) -> dict[str, Any]:
    kind = model.KIND
    raw = model.model_json_schema(by_alias=True, mode="validation")
    defs = raw.get("$defs", {})
    properties: Schema = {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
    }
    for name, node in raw["properties"].items():
        if name != "metadata":
            properties[name] = structural(node, defs, name)
    root: Schema = {
        "description": " ".join(str(raw.get("description", kind.kind)).split()),
        "type": "object",
        "required": [name for name in raw.get("required", []) if name != "metadata"],
        "properties": properties,
    }
    if kind.validations:
        root["x-kubernetes-validations"] = [dict(rule) for rule in kind.validations]
    columns = [
        {
            "name": c.name,
            "type": c.type,
            "jsonPath": c.json_path,
            **({"description": c.description} if c.description else {}),
            **({"priority": c.priority} if c.priority else {}),
        }
        for c in kind.printer_columns
    ]
    version: Schema = {"name": kind.version, "served": True, "storage": True}
    if kind.status_subresource:
        version["subresources"] = {"status": {}}
    if columns:
        version["additionalPrinterColumns"] = columns
    version["schema"] = {"openAPIV3Schema": root}
    names: Schema = {
        "kind": kind.kind,
        "listKind": f"{kind.kind}List",
        "plural": kind.plural,
        "singular": kind.kind.lower(),
    }
    if kind.short_names:
        names["shortNames"] = list(kind.short_names)
    if kind.categories:
        names["categories"] = list(kind.categories)
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": kind.crd_name},
        "spec": {"group": kind.group, "scope": kind.scope, "names": names, "versions": [version]},
    }


def render(model: type[StookObject]) -> str:
    """The CRD file's text: a header comment, then the YAML."""
    header = "".join(f"# {line}\n" for line in model.KIND.description.splitlines())
    header += "# Generated from stook_agent.api by `python -m stook_agent.api.crd`: do not edit.\n"
    body = yaml.safe_dump(
        custom_resource_definition(model), sort_keys=False, width=100, allow_unicode=True
    )
    return header + body


def file_name(model: type[StookObject]) -> str:
    return f"{model.KIND.crd_name}.yaml"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stook_agent.api.crd", description=__doc__)
    parser.add_argument("names", nargs="*", help="CRD names (default: all)")
    parser.add_argument("--write", type=Path, metavar="DIR", help="write <name>.yaml files")
    args = parser.parse_args(argv)
    by_name = {model.KIND.crd_name: model for model in KINDS}
    unknown = sorted(set(args.names) - by_name.keys())
    if unknown:
        parser.error(f"unknown CRD {', '.join(unknown)}; known: {', '.join(sorted(by_name))}")
    chosen = [by_name[name] for name in args.names] or list(KINDS)
    if args.write:
        for model in chosen:
            (args.write / file_name(model)).write_text(render(model))
    else:
        sys.stdout.write("---\n".join(render(model) for model in chosen))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

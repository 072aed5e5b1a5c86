#!/usr/bin/env python3
"""Turn Kubernetes' swagger.json into kubeconform's schema layout, offline and strict.

kubeconform downloads schemas from GitHub by default; this machine has no internet, so the
schemas come from the swagger.json inside the pinned k8s.io/kubernetes Go module instead.
Output: <out>/<kind>[-<group>]-<version>.json (group = first label of the API group, as
kubeconform names them), each a $ref into <out>/_definitions.json, where every object with
declared properties forbids undeclared ones (kubeconform -strict expects strict schemas).
Usage: openapi2jsonschema.py SWAGGER_JSON OUT_DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

INT_OR_STRING = {"oneOf": [{"type": "string"}, {"type": "integer"}]}
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"


def strict(node: Any) -> Any:
    """Recursively forbid undeclared properties and widen int-or-string / quantities."""
    if isinstance(node, list):
        return [strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    if node.get("format") == "int-or-string":
        return {k: v for k, v in node.items() if k not in ("type", "format")} | INT_OR_STRING
    out = {key: strict(value) for key, value in node.items()}
    if "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


def file_name(gvk: dict[str, str]) -> str:
    group = gvk["group"].split(".")[0]
    parts = [gvk["kind"].lower(), *([group.lower()] if group else []), gvk["version"].lower()]
    return "-".join(parts) + ".json"


def main(swagger_path: str, out_dir: str) -> int:
    swagger = json.loads(Path(swagger_path).read_text())
    definitions = {name: strict(schema) for name, schema in swagger["definitions"].items()}
    definitions[QUANTITY] = {"oneOf": [{"type": "string"}, {"type": "number"}]}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "_definitions.json").write_text(json.dumps({"definitions": definitions}))
    written = 0
    for name, schema in swagger["definitions"].items():
        for gvk in schema.get("x-kubernetes-group-version-kind", []):
            ref = {"$ref": f"_definitions.json#/definitions/{name}"}
            (out / file_name(gvk)).write_text(json.dumps(ref))
            written += 1
    print(f"wrote {written} schemas to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))

"""The chart's CRDs are exactly what the models generate, and the generation stays structural."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import Field

from stook_agent.api import KINDS
from stook_agent.api.crd import SchemaError, custom_resource_definition, file_name, main, render
from stook_agent.api.meta import ApiModel, Kind, ObjectMeta, StookObject

CRDS = Path(__file__).resolve().parents[3] / "charts" / "stook" / "crds"
REGENERATE = "python -m stook_agent.api.crd --write charts/stook/crds"


@pytest.mark.parametrize("model", KINDS, ids=lambda m: m.KIND.crd_name)
def test_the_charts_crd_is_what_the_model_generates(model: type[StookObject]) -> None:
    committed = (CRDS / file_name(model)).read_text()
    assert committed == render(model), f"charts/stook/crds is stale: run `{REGENERATE}`"


def test_the_chart_has_no_crd_without_a_model() -> None:
    assert sorted(p.name for p in CRDS.glob("*.yaml")) == sorted(file_name(m) for m in KINDS)


def _walk(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        found.append((path, node))
        for key, value in node.get("properties", {}).items():
            found += _walk(value, f"{path}.{key}")
        if "items" in node:
            found += _walk(node["items"], f"{path}[]")
    return found


@pytest.mark.parametrize("model", KINDS, ids=lambda m: m.KIND.crd_name)
def test_every_schema_node_is_structural(model: type[StookObject]) -> None:
    schema = custom_resource_definition(model)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for path, node in _walk(schema):
        assert "type" in node, path
        assert not {"$ref", "anyOf", "allOf", "oneOf", "title", "const"} & node.keys(), path


def test_the_columns_people_read() -> None:
    from stook_agent.api import BlockDevice

    crd = custom_resource_definition(BlockDevice)
    columns = {c["name"]: c for c in crd["spec"]["versions"][0]["additionalPrinterColumns"]}
    assert columns["GiB"]["jsonPath"] == ".status.deviceStatus.capacityGiB"
    for name in ("Node", "State", "Provisioned", "Age"):
        assert name in columns
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]
    assert schema["spec"]["properties"]["provision"]["enum"] == ["none", "longhorn", "passthrough"]
    assert schema["spec"]["properties"]["provision"]["default"] == "none"


def _columns(model: type[StookObject]) -> dict[str, dict[str, Any]]:
    crd = custom_resource_definition(model)
    return {c["name"]: c for c in crd["spec"]["versions"][0]["additionalPrinterColumns"]}


def test_a_failed_upgrade_shows_its_node_and_check_in_kubectl_get() -> None:
    from stook_agent.api import NodeUpgrade, Upgrade

    upgrade = _columns(Upgrade)
    assert upgrade["Failed"]["jsonPath"] == '.status.nodes[?(@.step=="Failed")].name'
    assert upgrade["Failed-Check"]["jsonPath"] == ('.status.nodes[?(@.step=="Failed")].failedCheck')
    node = _columns(NodeUpgrade)
    assert node["Failed-Check"]["jsonPath"] == ".status.failedCheck"
    for columns in (upgrade, node):  # shown without -o wide, next to the phase
        assert columns["Failed-Check"].get("priority", 0) == 0 and "Phase" in columns


class _Union(ApiModel):
    value: int | str


class _Free(ApiModel):
    extra: dict[str, Any] = Field(default_factory=dict)


def _kind_with(spec: type[ApiModel]) -> type[StookObject]:
    class Thing(StookObject):
        KIND = Kind(kind="Thing", plural="things", description="a test kind")
        metadata: ObjectMeta
        spec: spec  # type: ignore[valid-type]

    return Thing


def test_a_union_is_refused_naming_the_field() -> None:
    with pytest.raises(SchemaError, match=r"spec\.value: a union of 2 types"):
        custom_resource_definition(_kind_with(_Union))


def test_free_form_maps_preserve_unknown_fields() -> None:
    crd = custom_resource_definition(_kind_with(_Free))
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert spec["properties"]["extra"] == {
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": True,
    }


def test_the_module_prints_one_crd_and_writes_all(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["nodestatuses.stook.io"]) == 0
    assert capsys.readouterr().out == (CRDS / "nodestatuses.stook.io.yaml").read_text()
    assert main(["--write", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(file_name(m) for m in KINDS)
    with pytest.raises(SystemExit):
        main(["nosuch.stook.io"])
    assert "unknown CRD nosuch.stook.io" in capsys.readouterr().err

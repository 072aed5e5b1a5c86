"""The exported JSON Schema describes the documents the model accepts."""

from __future__ import annotations

import jsonschema
import pytest

from stook_core.config import load_document, to_document
from stook_core.config.schema import install_config_schema
from support.configs import create_document, join_document


@pytest.mark.parametrize("document", [create_document(), join_document()])
def test_canonical_dumps_satisfy_the_schema(document: dict[str, object]) -> None:
    dumped = to_document(load_document(document), reveal_secrets=True)
    jsonschema.validate(dumped, install_config_schema())


def test_schema_carries_the_field_rules() -> None:
    schema = install_config_schema()
    network = schema["$defs"]["ManagementInterface"]["properties"]
    vlan = next(option for option in network["vlan_id"]["anyOf"] if option.get("type") == "integer")
    assert (vlan["minimum"], vlan["maximum"]) == (1, 4094)
    assert schema["properties"]["install"]["$ref"].endswith("InstallSpec")
    with pytest.raises(jsonschema.ValidationError):
        bad = create_document()
        bad["install"]["management_interface"]["vlan_id"] = 5000
        jsonschema.validate(bad, schema)

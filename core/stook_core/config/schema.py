"""The JSON Schema of InstallConfig, exported to docs/ and kept in sync by a test."""

from __future__ import annotations

import json
from typing import Any

from stook_core.config.model import API_VERSION, InstallConfig

SCHEMA_ID = "https://stook.io/schemas/install-config-v1beta1.json"


def install_config_schema() -> dict[str, Any]:
    schema = InstallConfig.model_json_schema(by_alias=True, mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": f"Stook InstallConfig ({API_VERSION})",
        **schema,
    }


def schema_json() -> str:
    return json.dumps(install_config_schema(), indent=2, sort_keys=True) + "\n"

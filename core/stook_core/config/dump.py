"""Writing an InstallConfig back out: secrets redacted unless explicitly revealed."""

from __future__ import annotations

from typing import Any

import yaml

from stook_core.config.model import InstallConfig


def to_document(config: InstallConfig, *, reveal_secrets: bool = False) -> dict[str, Any]:
    """The canonical document as plain data; secrets become ``<redacted>`` unless revealed."""
    return config.model_dump(
        mode="json",
        by_alias=True,
        exclude_none=True,
        context={"reveal_secrets": reveal_secrets},
    )


def dump_yaml(config: InstallConfig, *, reveal_secrets: bool = False) -> str:
    document = to_document(config, reveal_secrets=reveal_secrets)
    return yaml.safe_dump(document, sort_keys=False, default_flow_style=False)

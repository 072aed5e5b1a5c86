"""The InstallConfig model: one document produced by every door, consumed by the install engine."""

from stook_core.config.dump import dump_yaml, to_document
from stook_core.config.model import API_VERSION, KIND, InstallConfig
from stook_core.config.validate import load_document, validate_document

__all__ = [
    "API_VERSION",
    "KIND",
    "InstallConfig",
    "dump_yaml",
    "load_document",
    "to_document",
    "validate_document",
]

"""Predicates and annotations for single fields.

``Check`` is a pydantic annotation that both validates (failing with an operator-facing message)
and adds JSON Schema keywords, so a rule and its schema come from one line.
"""

from __future__ import annotations

import ipaddress
import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

RULE_ERROR = "stook_rule"


def fail(message: str) -> PydanticCustomError:
    """An error whose message reads after the value: ``vlan_id: 5000 <message>``."""
    # PydanticCustomError formats {placeholders}; escape braces in free text.
    return PydanticCustomError(RULE_ERROR, message.replace("{", "{{").replace("}", "}}"))


@dataclass(frozen=True)
class Check:
    """Annotation: fail with *message* unless *predicate(value)*; *schema* adds JSON Schema keys."""

    predicate: Callable[[Any], bool]
    message: str
    schema: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        result = handler(schema)
        result.update(self.schema)
        return result

    def _check(self, value: Any) -> Any:
        if not self.predicate(value):
            raise fail(self.message)
        return value


def within(low: int, high: int) -> Check:
    return Check(
        lambda v: low <= v <= high, f"is outside {low}-{high}", {"minimum": low, "maximum": high}
    )


# --- names --------------------------------------------------------------------------------------

_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_DNS_LABEL = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
HOSTNAME_PATTERN = _LABEL.pattern


def is_hostname(value: str) -> bool:
    """A lowercase RFC 1123 label: Kubernetes uses it as the node name, so no dots (no FQDN)."""
    return bool(_LABEL.match(value))


def is_dns_name(value: str) -> bool:
    """An RFC 1123 host name that may have dots (for NTP servers, proxies, server URLs)."""
    name = value[:-1] if value.endswith(".") else value
    return 0 < len(name) <= 253 and all(_DNS_LABEL.match(part) for part in name.split("."))


def is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def is_host(value: str) -> bool:
    """An IP address or a DNS name."""
    return is_ip(value) or (is_dns_name(value) and not value.replace(".", "").isdigit())


_IFNAME = re.compile(r"^[A-Za-z0-9_.:-]{1,15}$")


def is_ifname(value: str) -> bool:
    """A Linux interface name: at most 15 characters, no '/' or whitespace, not '.' or '..'."""
    return bool(_IFNAME.match(value)) and value not in {".", ".."}


_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")


def normalize_mac(value: str) -> str:
    """Lower-case, colon-separated; accepts '-' separators too."""
    return value.strip().lower().replace("-", ":")


def is_mac(value: str) -> bool:
    return bool(_MAC.match(value)) and value != "00:00:00:00:00:00"


def is_printable_ascii(value: str) -> bool:
    """Printable ASCII without whitespace: survives YAML, shell and kernel command lines."""
    allowed = set(string.printable) - set(string.whitespace)
    return bool(value) and all(ch in allowed for ch in value)

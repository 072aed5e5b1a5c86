"""What every Stook resource shares: the group, the node label, object metadata, conditions,
and the declaration of a kind (names, scope, printer columns) from which its CRD is generated.

Field names are Python names; the API's camelCase names are their aliases. Attribute
docstrings become the CRD's field descriptions (``use_attribute_docstrings``), as Go comments
do in kubebuilder's ``*_types.go``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from stook_agent.runtime import conditions as runtime_conditions

GROUP = "stook.io"
VERSION = "v1alpha1"
NODE_LABEL = "stook.io/node"
GiB = 1024**3

ConditionStatus = Literal["True", "False", "Unknown"]
Scope = Literal["Cluster", "Namespaced"]
Int64 = Annotated[int, Field(json_schema_extra={"format": "int64"})]
Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
"""An RFC 3339 time as the API server writes it (kept as text: round trips unchanged)."""


def immutable(message: str) -> dict[str, Any]:
    """A field that cannot change once set (a CEL transition rule)."""
    return {"x-kubernetes-validations": [{"rule": "self == oldSelf", "message": message}]}


class ApiModel(BaseModel):
    """A part of an API object: camelCase on the wire, unknown fields ignored on reading
    (a newer agent's status must not break an older one)."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="ignore",
        use_attribute_docstrings=True,
    )

    def to_dict(self) -> dict[str, Any]:
        """The wire form: camelCase, JSON types, unset optional fields left out."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class ObjectMeta(ApiModel):
    """The part of metadata the controllers read (metav1.ObjectMeta)."""

    name: str
    namespace: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    generation: int = 1
    resource_version: str | None = None
    uid: str | None = None
    creation_timestamp: str | None = None
    deletion_timestamp: str | None = None
    finalizers: list[str] = Field(default_factory=list)


class Condition(ApiModel):
    """A standard condition (metav1.Condition)."""

    type: str = Field(
        max_length=316,
        pattern=r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
        r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$",
    )
    status: ConditionStatus
    reason: str = Field(
        min_length=1, max_length=1024, pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"
    )
    message: str = Field(max_length=32768)
    observed_generation: Int64 | None = Field(None, ge=0)
    last_transition_time: Timestamp


def conditions_field() -> Any:
    """The Field of every ``conditions`` list: one condition per type, merged by type."""
    return Field(
        default_factory=list,
        description="Standard conditions (metav1.Condition), one per type.",
        max_length=16,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )


def find_condition(conditions: list[Condition], type_: str) -> Condition | None:
    return next((c for c in conditions if c.type == type_), None)


def set_condition(
    conditions: list[Condition],
    type_: str,
    status: ConditionStatus,
    reason: str,
    message: str,
    observed_generation: int,
    now: str | None = None,
) -> list[Condition]:
    """*conditions* with *type_* set (the runtime's rule: the time moves only on a flip)."""
    updated = runtime_conditions.set_condition(
        [c.to_dict() for c in conditions], type_, status, reason, message, observed_generation, now
    )
    return [Condition.model_validate(c) for c in updated]


@dataclass(frozen=True)
class PrinterColumn:
    """A column of ``kubectl get`` (additionalPrinterColumns)."""

    name: str
    type: Literal["string", "integer", "number", "boolean", "date"]
    json_path: str
    description: str | None = None
    priority: int = 0  # 1: only in ``-o wide``


@dataclass(frozen=True)
class Kind:
    """A resource's identity and presentation, declared next to its types."""

    kind: str
    plural: str
    description: str  # the CRD file's header comment
    scope: Scope = "Cluster"
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ("stook",)
    printer_columns: tuple[PrinterColumn, ...] = ()
    status_subresource: bool = True
    validations: tuple[dict[str, str], ...] = ()  # x-kubernetes-validations of the object
    group: str = GROUP
    version: str = VERSION

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"

    @property
    def namespaced(self) -> bool:
        return self.scope == "Namespaced"

    @property
    def crd_name(self) -> str:
        return f"{self.plural}.{self.group}"


class InvalidObjectError(ValueError):
    """An object that does not fit its model (the message names each field and the rule)."""

    def __init__(self, kind: str, obj: dict[str, Any], error: ValidationError) -> None:
        name = (obj.get("metadata") or {}).get("name", "?") if isinstance(obj, dict) else "?"
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '<object>'}: {e['msg']}"
            for e in error.errors(include_url=False, include_input=False)
        )
        super().__init__(f"{kind} {name} does not fit the {kind} model: {problems}")


class StookObject(ApiModel):
    """A Stook object: metadata, spec, status; subclasses declare ``KIND`` and their types."""

    KIND: ClassVar[Kind]
    metadata: ObjectMeta

    @classmethod
    def parse(cls, obj: dict[str, Any]) -> Self:
        """The typed object from what the API server (or an informer's cache) returned."""
        try:
            return cls.model_validate(obj)
        except ValidationError as error:
            raise InvalidObjectError(cls.KIND.kind, obj, error) from None

    def body(self) -> dict[str, Any]:
        """A create body: apiVersion and kind, metadata's name/namespace/labels, spec.

        Defaults are left out, so the API server's defaulting (from the same models) applies."""
        meta = self.metadata.model_dump(
            by_alias=True, include={"name", "namespace", "labels"}, exclude_defaults=True
        )
        spec = getattr(self, "spec", None)
        body: dict[str, Any] = {
            "apiVersion": self.KIND.api_version,
            "kind": self.KIND.kind,
            "metadata": meta,
        }
        if isinstance(spec, ApiModel):
            body["spec"] = spec.model_dump(by_alias=True, exclude_defaults=True, mode="json")
        return body

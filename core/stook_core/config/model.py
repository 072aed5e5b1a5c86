"""The InstallConfig document (apiVersion stook.io/v1beta1), field by field.

Single-field rules live here as annotations; rules that relate several fields are in rules.py.
Shorthands accepted on input (so kernel arguments stay short) are noted per type; the document
is always dumped in its canonical form. See docs/install-config.md.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    IPvAnyAddress,
    PlainSerializer,
    SecretStr,
    SerializationInfo,
    WithJsonSchema,
    model_validator,
)

from stook_core.config.checks import (
    HOSTNAME_PATTERN,
    Check,
    fail,
    is_host,
    is_hostname,
    is_ifname,
    is_mac,
    is_printable_ascii,
    normalize_mac,
    within,
)
from stook_core.config.sshkeys import KeyLineError, check_authorized_key
from stook_core.crypt import is_sha512_crypt, sha512_crypt
from stook_core.net.bond import BOND_OPTIONS, BondOptionError, parse_bond_option
from stook_core.net.bond import BondMode as BondMode  # re-exported: the TUI offers the modes
from stook_core.problems import REDACTED, render_value
from stook_core.units import parse_size

API_VERSION = "stook.io/v1beta1"
KIND = "InstallConfig"
RKE2_SUPERVISOR_PORT = 9345
KUBE_API_PORT = 6443
PASSWORD_MIN_LENGTH = 8
# SHA-512 crypt's work grows with the square of the password length (its P and S sequences), so
# a plain password longer than this is refused before it is hashed.
PASSWORD_MAX_LENGTH = 256


class Strict(BaseModel):
    """Unknown keys are errors: a typo must never be silently ignored."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, validate_default=True)


# --- input shorthands ---------------------------------------------------------------------------


def as_list(value: Any) -> Any:
    """A single value (one kernel argument) becomes a one-element list."""
    return value if isinstance(value, list) or value is None else [value]


def as_csv_list(value: Any) -> Any:
    """Like as_list, and ``a,b`` becomes ``[a, b]`` (for kernel arguments)."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return as_list(value)


def _not_bool(value: Any) -> Any:
    """YAML's ``yes``/``no``/``on``/``off`` are booleans, and pydantic would read them as 1/0."""
    if isinstance(value, bool):
        raise fail("is true/false, not a whole number")
    return value


# Every integer field: a whole number or its text ("100", from a kernel argument), never a bool.
WholeNumber = Annotated[int, BeforeValidator(_not_bool)]


# --- secrets ------------------------------------------------------------------------------------


def _dump_secret(value: SecretStr, info: SerializationInfo) -> str:
    context = info.context or {}
    return value.get_secret_value() if context.get("reveal_secrets") else REDACTED


def _token(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return value
    if value == REDACTED:
        raise fail("is the redaction placeholder of a dumped config: give the real token")
    if not isinstance(value, str) or not is_printable_ascii(value):
        raise fail("must be printable ASCII without spaces")
    return SecretStr(value)


def _password(value: Any) -> Any:
    """Plain passwords are hashed at once; SHA-512 crypt hashes are kept as they are."""
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if not isinstance(value, str):
        raise fail("must be a string")
    if value == REDACTED:
        raise fail("is the redaction placeholder of a dumped config: give the password or its hash")
    if is_sha512_crypt(value):
        return SecretStr(value)
    if value.startswith("$") and value.count("$") >= 3:
        raise fail(
            "is a crypt hash of another kind: give a SHA-512 ($6$) hash or the plain password"
        )
    if len(value) < PASSWORD_MIN_LENGTH:
        raise fail(f"must have at least {PASSWORD_MIN_LENGTH} characters")
    if len(value) > PASSWORD_MAX_LENGTH:
        raise fail(f"must have at most {PASSWORD_MAX_LENGTH} characters (it has {len(value)})")
    return SecretStr(sha512_crypt(value))


Token = Annotated[
    SecretStr,
    BeforeValidator(_token),
    PlainSerializer(_dump_secret, return_type=str),
]
PasswordHash = Annotated[
    SecretStr,
    BeforeValidator(_password),
    PlainSerializer(_dump_secret, return_type=str),
]


# --- addresses and names ------------------------------------------------------------------------


def _written_as_text(value: Any) -> Any:
    """An address is text: pydantic would read ``yes`` as 0.0.0.1 and 167772161 as 10.0.0.1."""
    if isinstance(value, (bool, int, float)):
        kind = "true/false" if isinstance(value, bool) else "a number"
        raise fail(f"is {kind}, not an address: write it as text, for example 10.0.0.1")
    return value


Address = Annotated[ipaddress.IPv4Address, BeforeValidator(_written_as_text)]
AnyAddress = Annotated[IPvAnyAddress, BeforeValidator(_written_as_text)]


def _prefixed_interface(value: Any) -> Any:
    _written_as_text(value)
    if isinstance(value, str) and "/" not in value:
        raise fail("needs a prefix length, for example 192.168.1.10/24")
    return value


def _network(value: Any) -> Any:
    _written_as_text(value)
    if isinstance(value, str):
        try:
            return ipaddress.IPv4Network(value, strict=True)
        except ValueError as error:
            if "host bits set" in str(error):
                loose = ipaddress.IPv4Network(value, strict=False)
                raise fail(f"has host bits set; did you mean {loose}?") from None
            raise fail("is not an IPv4 network such as 10.52.0.0/16") from None
    return value


Hostname = Annotated[
    str,
    Check(
        is_hostname,
        "is not a valid hostname: use 1-63 lowercase letters, digits and '-', starting and "
        "ending with a letter or digit (a single name, not an FQDN)",
        {"pattern": HOSTNAME_PATTERN},
    ),
]
Host = Annotated[str, Check(is_host, "is not an IP address or DNS name")]
MacAddress = Annotated[
    str,
    BeforeValidator(lambda v: normalize_mac(v) if isinstance(v, str) else v),
    Check(
        is_mac,
        "is not a MAC address such as 52:54:00:12:34:56",
        {"pattern": "^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$"},
    ),
]
IfName = Annotated[
    str, Check(is_ifname, "is not an interface name: 1-15 characters, no '/' or spaces")
]
Cidr = Annotated[ipaddress.IPv4Network, BeforeValidator(_network)]
HostInterface = Annotated[ipaddress.IPv4Interface, BeforeValidator(_prefixed_interface)]


def _authorized_key(value: Any) -> Any:
    if not isinstance(value, str):
        return value  # pydantic says it is not a string
    try:
        return check_authorized_key(value)
    except KeyLineError as error:
        raise fail(str(error)) from None


AuthorizedKey = Annotated[
    str,
    AfterValidator(_authorized_key),
    Field(description="one authorized_keys line: [options] type base64-key [comment]"),
]


def _size(value: Any) -> Any:
    if isinstance(value, bool):
        raise fail("is true/false, not a size")
    if isinstance(value, (int, str)):
        try:
            return parse_size(value)
        except ValueError as error:
            raise fail(str(error)) from None
    return value


ByteSize = Annotated[
    WholeNumber,
    BeforeValidator(_size),
    Field(json_schema_extra={"description": "bytes, or a size such as 150Gi"}),
]


# --- disks --------------------------------------------------------------------------------------


class DiskMatch(Strict):
    """Which disk, by what identifies it rather than by a /dev name that may change (curtin-style).

    Every given criterion must match; ``size`` then picks among the matches. Shorthand:
    ``/dev/sda`` means ``{path: /dev/sda}``, ``largest`` means ``{size: largest}``.
    """

    path: Annotated[str, Check(lambda v: v.startswith("/dev/"), "must start with /dev/")] | None = (
        None
    )
    serial: str | None = None
    wwn: str | None = None
    model: str | None = Field(None, description="glob, for example 'Samsung SSD 9*'")
    size: Literal["largest", "smallest"] | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"size": value} if value in ("largest", "smallest") else {"path": value}
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> DiskMatch:
        if not self.criteria():
            raise fail("needs at least one of path, serial, wwn, model, size")
        return self

    def criteria(self) -> dict[str, str]:
        return {k: v for k, v in self.model_dump(exclude_none=True).items() if isinstance(v, str)}


# --- network ------------------------------------------------------------------------------------


class NicRef(Strict):
    """A NIC by name, by MAC (survives renames), or both. Shorthand: ``eno1`` or a MAC."""

    name: IfName | None = None
    mac: MacAddress | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, str):
            key, sep, rest = value.partition(":")
            if sep and key in ("name", "mac", "hwAddr"):
                return {"name": rest} if key == "name" else {"mac": rest}
            return (
                {"mac": value}
                if value.count(":") == 5 or value.count("-") == 5
                else {"name": value}
            )
        return value

    @model_validator(mode="after")
    def _named(self) -> NicRef:
        if self.name is None and self.mac is None:
            raise fail("needs a name or a mac")
        return self

    def __str__(self) -> str:
        return " ".join(part for part in (self.name, self.mac and f"({self.mac})") if part)


@dataclass(frozen=True)
class _OptionInput:
    """A bonding option's value with its name, so the value's validator knows which option
    it checks and its error lands on ``options.<name>``. Shown as the value alone."""

    name: str
    value: Any

    def __str__(self) -> str:
        return render_value(self.value)


def _pair_options(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _OptionInput(str(key), item) for key, item in value.items()}
    return value


def _bond_option(value: Any) -> Any:
    if not isinstance(value, _OptionInput):
        return value
    try:
        return parse_bond_option(value.name, value.value)
    except BondOptionError as error:
        raise fail(str(error)) from None


BondOptions = Annotated[
    dict[str, Annotated[str, BeforeValidator(_bond_option)]],
    BeforeValidator(_pair_options),
    WithJsonSchema(
        {
            "type": "object",
            "description": "kernel bonding options (docs/install-config.md)",
            "propertyNames": {"enum": list(BOND_OPTIONS)},
            "additionalProperties": {
                "anyOf": [
                    {"type": "string"},
                    {"type": "integer"},
                    {"type": "array", "items": {"type": "string"}},
                ]
            },
        }
    ),
]


class Bond(Strict):
    mode: BondMode = "active-backup"
    miimon: Annotated[WholeNumber, within(0, 60000)] = 100
    options: BondOptions = Field(default_factory=dict)


class ManagementInterface(Strict):
    """The node's management network: bond ``mgmt-bo`` of *nics* in bridge ``mgmt-br``."""

    nics: Annotated[
        list[NicRef],
        BeforeValidator(as_csv_list),
        Check(lambda v: len(v) > 0, "needs at least one NIC", {"minItems": 1}),
    ]
    bond: Bond = Field(default_factory=Bond)
    vlan_id: Annotated[WholeNumber, within(1, 4094)] | None = None
    method: Literal["dhcp", "static"] = "dhcp"
    address: HostInterface | None = Field(
        None, description="static: node IP with prefix, a.b.c.d/nn"
    )
    gateway: Address | None = None
    mtu: Annotated[
        WholeNumber,
        Check(
            lambda v: v == 0 or 576 <= v <= 9000,
            "is outside 576-9000 (0 means the default, 1500)",
            {"minimum": 0, "maximum": 9000},
        ),
    ] = 0


def expand_vip(value: Any) -> Any:
    """The VIP shorthand: ``dhcp`` or an address; anything else is returned as it is."""
    if isinstance(value, str):
        return {"mode": "dhcp"} if value == "dhcp" else {"mode": "static", "address": value}
    return value


class Vip(Strict):
    """The cluster's virtual IP (create mode), served by kube-vip. Shorthand: an IP or ``dhcp``."""

    mode: Literal["static", "dhcp"] = "static"
    address: Address | None = None
    hw_addr: MacAddress | None = Field(
        None, description="dhcp: the MAC the VIP requests a lease with"
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return expand_vip(value)


class ClusterNetwork(Strict):
    pod_cidr: Cidr = ipaddress.IPv4Network("10.52.0.0/16")
    service_cidr: Cidr = ipaddress.IPv4Network("10.53.0.0/16")
    dns: Address = ipaddress.IPv4Address("10.53.0.10")


def _proxy_url(value: str) -> bool:
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError when the port is not a number in range
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and is_host(parts.hostname or "")


def _dump_proxy(value: str, info: SerializationInfo) -> str:
    """Proxy URLs may carry a password (user:pass@host); it is a secret like the token."""
    parts = urlsplit(value)
    if (info.context or {}).get("reveal_secrets") or parts.password is None:
        return value
    host = parts.hostname or ""
    netloc = f"{parts.username}:{REDACTED}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


ProxyUrl = Annotated[
    str,
    Check(_proxy_url, "is not an http:// or https:// proxy URL"),
    PlainSerializer(_dump_proxy, return_type=str),
]


class Proxy(Strict):
    http_proxy: ProxyUrl | None = None
    https_proxy: ProxyUrl | None = None
    no_proxy: Annotated[list[str], BeforeValidator(as_csv_list)] = Field(default_factory=list)


def _server_url(value: Any) -> Any:
    """Normalise to ``https://host:9345``, the RKE2 supervisor a joining node registers with."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    parts = urlsplit(text if "://" in text else f"https://{text}")
    if parts.scheme != "https":
        raise fail("must use https://")
    try:
        port = parts.port
    except ValueError:
        raise fail("has an invalid port") from None
    host = parts.hostname
    if not host or not is_host(host):
        raise fail("needs a host name or IP address, for example https://10.0.0.5:9345")
    if port not in (None, RKE2_SUPERVISOR_PORT):
        raise fail(f"must use port {RKE2_SUPERVISOR_PORT}, the RKE2 supervisor port")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise fail("must be only https://HOST[:9345], without path, query or user")
    shown = f"[{host}]" if ":" in host else host
    return f"https://{shown}:{RKE2_SUPERVISOR_PORT}"


ServerUrl = Annotated[str, BeforeValidator(_server_url)]


def _api_url(value: Any) -> Any:
    """Normalise to ``https://host:port`` (port 6443, the Kubernetes API, when omitted)."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    parts = urlsplit(text if "://" in text else f"https://{text}")
    if parts.scheme != "https":
        raise fail("must use https://")
    try:
        port = parts.port or KUBE_API_PORT
    except ValueError:
        raise fail("has an invalid port") from None
    host = parts.hostname
    if not host or not is_host(host):
        raise fail("needs a host name or IP address, for example https://10.0.0.10:6443")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise fail("must be only https://HOST[:PORT], without path, query or user")
    shown = f"[{host}]" if ":" in host else host
    return f"https://{shown}:{port}"


ApiUrl = Annotated[str, BeforeValidator(_api_url)]


class JoinCheck(Strict):
    """What a joining node checks on its cluster before it touches a disk (docs/fleet.md)."""

    api_url: ApiUrl | None = Field(
        None,
        description="the cluster's Kubernetes API through its VIP, https://VIP:6443; "
        "default: the server_url host on port 6443",
    )
    api_token: Token | None = Field(
        None,
        description="a bearer token that may get nodes; without it the check that the "
        "hostname is not a node yet is skipped (and said)",
    )
    wait: Annotated[WholeNumber, within(0, 86400)] = Field(
        0, description="seconds to wait for the server to answer (a rack boots all at once)"
    )


# --- the document -------------------------------------------------------------------------------


class InstallSpec(Strict):
    """Everything the installer needs to turn a machine into a node."""

    mode: Literal["create", "join"]
    role: Literal["default", "management", "worker", "witness"] = "default"
    automatic: bool = False
    confirm_erase: bool = Field(
        False,
        description="consent for an unattended install to erase the disks it uses; without it "
        "an automatic install refuses to start",
    )
    hostname: Hostname
    password: PasswordHash | None = Field(
        None, description="plain text (hashed on load) or $6$ hash"
    )
    ssh_authorized_keys: Annotated[list[AuthorizedKey], BeforeValidator(as_list)] = Field(
        default_factory=list
    )
    dns_servers: Annotated[list[AnyAddress], BeforeValidator(as_csv_list)] = Field(
        default_factory=list
    )
    ntp_servers: Annotated[list[Host], BeforeValidator(as_csv_list)] = Field(default_factory=list)
    proxy: Proxy | None = None
    server_url: ServerUrl | None = Field(
        None, description="join: an existing server, https://HOST:9345"
    )
    token: Token = Field(description="the cluster's shared secret")
    join_check: JoinCheck | None = Field(
        None, description="join: what is checked on the cluster before any disk is touched"
    )
    vip: Vip | None = None
    install_disk: DiskMatch
    data_disk: DiskMatch | None = Field(
        None, description="omitted: Longhorn data shares the install disk"
    )
    wipe_disks: Annotated[list[DiskMatch], BeforeValidator(as_csv_list)] = Field(
        default_factory=list
    )
    persistent_size: ByteSize | None = Field(
        None, description="state partition size on a shared disk"
    )
    management_interface: ManagementInterface
    cluster: ClusterNetwork = Field(default_factory=ClusterNetwork)
    after_install: Literal["reboot", "poweroff"] = "reboot"
    skip_checks: bool = Field(False, description="turn hardware size checks into warnings")


class InstallConfig(Strict):
    """The versioned document every door produces and the install engine consumes."""

    api_version: Literal["stook.io/v1beta1"] = Field(alias="apiVersion")
    kind: Literal["InstallConfig"]
    install: InstallSpec

    def __repr__(self) -> str:  # pydantic's repr already masks SecretStr; keep it one line
        spec = self.install
        return f"InstallConfig(mode={spec.mode!r}, hostname={spec.hostname!r}, token=<redacted>)"

    __str__ = __repr__

"""Property: any config that validates survives dump -> load unchanged; no dump leaks the token."""

from __future__ import annotations

import ipaddress
import string
from typing import Any

import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from stook_core.config import dump_yaml, load_document, validate_document
from stook_core.config.model import BondMode
from stook_core.crypt import sha512_crypt
from support.configs import ed25519_key

# Every generated token holds one of these, which no other generated field can contain, so
# "the token is not in the dump" cannot pass or fail by coincidence.
TOKEN_MARKS = "!#%&*?@^~"
TOKEN_CHARS = string.ascii_letters + string.digits + "-_." + TOKEN_MARKS
PRECOMPUTED_HASH = sha512_crypt("precomputed-password", "fixedsalt")

labels = st.from_regex(r"\A[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?\Z")
tokens = st.text(TOKEN_CHARS, min_size=12, max_size=64).filter(
    lambda t: any(mark in t for mark in TOKEN_MARKS)
)
nic_names = st.lists(
    st.from_regex(r"\A(eno|ens|eth)[0-9]{1,3}\Z"), min_size=1, max_size=4, unique=True
)
disk_specs = st.one_of(
    st.sampled_from(["/dev/sda", "/dev/vda", "/dev/nvme0n1", "largest", "smallest"]),
    st.fixed_dictionaries({"serial": st.from_regex(r"\A[A-Z0-9]{6,12}\Z")}),
    st.fixed_dictionaries(
        {"model": st.sampled_from(["Samsung*", "QEMU HARDDISK"]), "size": st.just("largest")}
    ),
)


@st.composite
def network(draw: st.DrawFn, mode: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(management_interface, extra install fields) for a dhcp or static node."""
    interface: dict[str, Any] = {
        "nics": draw(nic_names),
        "bond": {
            "mode": draw(st.sampled_from(BondMode.__args__)),
            "miimon": draw(st.integers(0, 1000)),
        },
        "mtu": draw(st.one_of(st.just(0), st.integers(576, 9000))),
    }
    if draw(st.booleans()):
        interface["vlan_id"] = draw(st.integers(1, 4094))
    extra: dict[str, Any] = {}
    subnet = ipaddress.IPv4Network(
        (draw(st.integers(0, 255)) << 8 | 0xAC100000, 24)
    )  # 172.16.x.0/24
    if draw(st.booleans()):
        interface |= {"method": "static", "address": f"{subnet[11]}/24", "gateway": str(subnet[1])}
        extra["dns_servers"] = [str(subnet[1])]
        vip = str(subnet[10])
    else:
        vip = draw(st.sampled_from(["dhcp", "172.31.0.10"]))
    if mode == "create":
        extra["vip"] = vip
    return interface, extra


@st.composite
def valid_documents(draw: st.DrawFn) -> dict[str, Any]:
    mode = draw(st.sampled_from(["create", "join"]))
    interface, extra = draw(network(mode))
    install: dict[str, Any] = {
        "mode": mode,
        "hostname": draw(labels),
        "token": draw(tokens),
        "install_disk": draw(disk_specs),
        "management_interface": interface,
        "automatic": draw(st.booleans()),
        "after_install": draw(st.sampled_from(["reboot", "poweroff"])),
        **extra,
    }
    login = draw(st.sampled_from(["plain", "hash", "keys"]))
    if login == "plain":
        install["password"] = draw(
            st.text(string.ascii_letters + string.digits, min_size=8, max_size=20)
        )
    elif login == "hash":
        install["password"] = PRECOMPUTED_HASH
    if login == "keys" or draw(st.booleans()):
        install["ssh_authorized_keys"] = [ed25519_key(draw(st.integers(0, 255)))]
    if mode == "join":
        install["role"] = draw(st.sampled_from(["default", "management", "worker", "witness"]))
        install["server_url"] = draw(st.sampled_from(["10.0.0.5", "https://cp.example.com:9345"]))
    if draw(st.booleans()):
        install["data_disk"] = {"path": "/dev/sdz"}
    else:
        install["persistent_size"] = draw(st.sampled_from(["32Gi", "64Gi", 200 * 2**30]))
    if draw(st.booleans()):
        install["ntp_servers"] = draw(
            st.lists(labels.map(lambda label: f"{label}.pool.ntp.org"), max_size=3)
        )
    return {"apiVersion": "stook.io/v1beta1", "kind": "InstallConfig", "install": install}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_documents())
def test_valid_configs_survive_dump_and_load_and_never_leak_the_token(
    document: dict[str, Any],
) -> None:
    config, problems = validate_document(document)
    assume(config is not None)
    assert problems == []
    assert config is not None
    token = document["install"]["token"]

    revealed = dump_yaml(config, reveal_secrets=True)
    assert load_document(yaml.safe_load(revealed)) == config
    assert dump_yaml(load_document(yaml.safe_load(revealed)), reveal_secrets=True) == revealed

    redacted = dump_yaml(config)
    for text in (redacted, repr(config), str(config), repr(config.install)):
        assert token not in text
    if config.install.password is not None:
        assert config.install.password.get_secret_value() not in redacted


def test_the_generator_produces_mostly_valid_documents() -> None:
    """Guards the property above against passing vacuously through assume()."""
    valid = 0

    @settings(max_examples=60, deadline=None, database=None)
    @given(valid_documents())
    def count(document: dict[str, Any]) -> None:
        nonlocal valid
        valid += validate_document(document)[0] is not None

    count()
    assert valid >= 50

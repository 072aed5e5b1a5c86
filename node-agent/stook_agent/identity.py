"""The node this agent acts for, from its credentials.

A node's agent authenticates with the node's own client certificate (docs/decisions.md: the
agent is a host unit using RKE2's kubelet kubeconfig or ``/etc/stook/agent/kubeconfig``), whose
subject is ``CN=system:node:<node>, O=system:nodes``. The admission policy lets that identity
write only ``<node>``'s objects, so the agent must call itself by the same name: it is read
from the certificate, not guessed from the hostname. Without a node certificate (an admin or
service-account kubeconfig) the hostname is used, and ``--node-name`` overrides both.

The certificate's subject is read with a small DER walk (no X.509 library in the image).
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import socket
from pathlib import Path

import yaml

NODE_PREFIX = "system:node:"
_PEM = re.compile(rb"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", re.DOTALL)
_COMMON_NAME = bytes.fromhex("550403")  # OID 2.5.4.3
_SEQUENCE, _SET, _OID = 0x30, 0x31, 0x06


class IdentityError(ValueError):
    """The kubeconfig's client certificate cannot be read; the message says which and why."""


def node_name(explicit: str | None, kubeconfig: str | None) -> str:
    """``explicit`` when given, else the node of the kubeconfig's node certificate, else the
    hostname (short form, as RKE2 names nodes)."""
    if explicit:
        return explicit
    if kubeconfig:  # $KUBECONFIG may list several files: the first holds the current context
        node = kubeconfig_node(Path(kubeconfig.split(os.pathsep)[0]))
        if node:
            return node
    return socket.gethostname().split(".")[0]


def kubeconfig_node(path: Path) -> str | None:
    """The ``<node>`` of ``CN=system:node:<node>`` of the current context's client certificate,
    or None when the user has no certificate or it is not a node's."""
    common_name = client_common_name(path)
    if common_name is None or not common_name.startswith(NODE_PREFIX):
        return None
    return common_name[len(NODE_PREFIX) :] or None


def client_common_name(path: Path) -> str | None:
    try:
        config = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise IdentityError(f"kubeconfig {path}: cannot read it: {error}") from None
    user = _current_user(config)
    if user is None:
        return None
    data, file = user.get("client-certificate-data"), user.get("client-certificate")
    if isinstance(data, str):
        try:
            pem = base64.b64decode(data, validate=True)
        except binascii.Error:
            raise IdentityError(
                f"kubeconfig {path}: client-certificate-data is not base64"
            ) from None
    elif isinstance(file, str):
        cert = Path(file)
        if not cert.is_absolute():  # relative to the kubeconfig, as kubectl resolves it
            cert = path.parent / cert
        try:
            pem = cert.read_bytes()
        except OSError as error:
            raise IdentityError(f"kubeconfig {path}: client-certificate: {error}") from None
    else:
        return None
    match = _PEM.search(pem)
    if match is None:
        raise IdentityError(f"kubeconfig {path}: the client certificate is not PEM")
    try:
        der = base64.b64decode(b"".join(match.group(1).split()))
        return subject_common_name(der)
    except (binascii.Error, ValueError, IndexError) as error:
        raise IdentityError(f"kubeconfig {path}: the client certificate: {error}") from None


def _current_user(config: object) -> dict[str, object] | None:
    if not isinstance(config, dict):
        return None
    contexts = {c.get("name"): c.get("context") or {} for c in config.get("contexts") or []}
    context = contexts.get(config.get("current-context"))
    if not isinstance(context, dict):
        return None
    users = {u.get("name"): u.get("user") for u in config.get("users") or []}
    user = users.get(context.get("user"))
    return user if isinstance(user, dict) else None


def subject_common_name(der: bytes) -> str | None:
    """The subject CN of a DER X.509 certificate (RFC 5280: Certificate -> tbsCertificate ->
    [version], serial, signature, issuer, validity, subject)."""
    tag, tbs_start, _ = _tlv(der, 0)
    _expect(tag, _SEQUENCE, "Certificate")
    tag, start, _ = _tlv(der, tbs_start)
    _expect(tag, _SEQUENCE, "tbsCertificate")
    tag, _, end = _tlv(der, start)
    offset = end if tag == 0xA0 else start  # version is optional ([0] EXPLICIT)
    for _ in range(4):  # serialNumber, signature, issuer, validity
        _, _, offset = _tlv(der, offset)
    tag, value, end = _tlv(der, offset)
    _expect(tag, _SEQUENCE, "subject")
    names: list[str] = []
    while value < end:  # RDNSequence: SET OF SEQUENCE { OID, value }
        tag, inner, rdn_end = _tlv(der, value)
        _expect(tag, _SET, "RelativeDistinguishedName")
        while inner < rdn_end:
            tag, attribute, attribute_end = _tlv(der, inner)
            _expect(tag, _SEQUENCE, "AttributeTypeAndValue")
            tag, oid, oid_end = _tlv(der, attribute)
            _expect(tag, _OID, "attribute type")
            if der[oid:oid_end] == _COMMON_NAME:
                _, text, text_end = _tlv(der, oid_end)
                names.append(der[text:text_end].decode("utf-8"))
            inner = attribute_end
        value = rdn_end
    return names[-1] if names else None


def _tlv(der: bytes, offset: int) -> tuple[int, int, int]:
    """(tag, start of the value, end of the value) of the DER element at *offset*."""
    tag = der[offset]
    length = der[offset + 1]
    start = offset + 2
    if length & 0x80:
        count = length & 0x7F
        if not 0 < count <= 4:
            raise ValueError(f"unsupported DER length at byte {offset}")
        length = int.from_bytes(der[start : start + count], "big")
        start += count
    end = start + length
    if end > len(der):
        raise ValueError(f"DER element at byte {offset} runs past the end")
    return tag, start, end


def _expect(tag: int, wanted: int, what: str) -> None:
    if tag != wanted:
        raise ValueError(f"not an X.509 certificate: {what} has tag {tag:#x}")

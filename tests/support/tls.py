"""Certificates for local HTTPS test servers: a self-signed one (the RKE2 supervisor answers with
one), or a test CA and a server certificate it signed (a private CA, as a site's image server)."""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def self_signed(directory: Path, ip: str | None = None) -> tuple[Path, Path]:
    """Certificate and key files; with *ip* the certificate verifies for that address."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _builder("rke2-test", "rke2-test", key, ip).sign(key, hashes.SHA256())
    return _write(directory, "cert.pem", "key.pem", cert, key)


def ca_signed(directory: Path, ip: str) -> tuple[Path, Path, Path]:
    """A test CA's certificate, and a certificate for *ip* it signed with its key: (CA file,
    server certificate, server key). Only the CA file makes the server trusted."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        _builder("stook-test-ca", "stook-test-ca", ca_key, None)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _builder("stook-test-images", "stook-test-ca", key, ip).sign(ca_key, hashes.SHA256())
    ca_path = directory / "ca.pem"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return (ca_path, *_write(directory, "server.pem", "server-key.pem", cert, key))


def _builder(
    subject: str, issuer: str, key: ec.EllipticCurvePrivateKey, ip: str | None
) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
    )
    if ip is not None:
        names = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))])
        builder = builder.add_extension(names, critical=False)
    return builder


def _write(
    directory: Path, cert_name: str, key_name: str, cert: x509.Certificate,
    key: ec.EllipticCurvePrivateKey,
) -> tuple[Path, Path]:  # fmt: skip
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / cert_name, directory / key_name
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path

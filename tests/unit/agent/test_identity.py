"""The agent's node name from its kubeconfig's client certificate (real certificates, made by
openssl with the test API server's helpers)."""

from __future__ import annotations

import base64
import socket
from pathlib import Path

import pytest
import yaml

from stook_agent.cli import main
from stook_agent.identity import IdentityError, kubeconfig_node, node_name, subject_common_name
from support.apiserver import make_pki, sign, write_kubeconfig

SERVER = "https://127.0.0.1:6443"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("pki")
    make_pki(directory)
    subject = "/O=system:nodes/CN=system:node:node-a"
    sign(directory, "node-a", subject, "extendedKeyUsage=clientAuth")
    return directory


def der(pki: Path, name: str) -> bytes:
    text = (pki / f"{name}.crt").read_text()
    body = text.split("-----BEGIN CERTIFICATE-----")[1].split("-----END CERTIFICATE-----")[0]
    return base64.b64decode("".join(body.split()))


def test_the_subject_common_name_is_read_from_the_der_certificate(pki: Path) -> None:
    assert subject_common_name(der(pki, "node-a")) == "system:node:node-a"
    assert subject_common_name(der(pki, "admin")) == "stook-test-admin"
    # the issuer's CN (stook-test-ca) precedes the subject: it must not be taken for it
    assert subject_common_name(der(pki, "ca")) == "stook-test-ca"


def test_a_node_certificate_names_the_node_embedded_or_as_a_file(pki: Path, tmp_path: Path) -> None:
    embedded = tmp_path / "embedded"
    write_kubeconfig(embedded, SERVER, pki, "node-a", embed=True)
    assert kubeconfig_node(embedded) == "node-a"
    as_files = tmp_path / "files"
    write_kubeconfig(as_files, SERVER, pki, "node-a")
    assert kubeconfig_node(as_files) == "node-a"
    assert node_name(None, str(as_files)) == "node-a"
    assert node_name("explicit", str(as_files)) == "explicit"


def test_a_relative_certificate_path_is_relative_to_the_kubeconfig(
    pki: Path, tmp_path: Path
) -> None:
    path = tmp_path / "kubeconfig"
    write_kubeconfig(path, SERVER, pki, "node-a")
    config = yaml.safe_load(path.read_text())
    (tmp_path / "client.crt").write_bytes((pki / "node-a.crt").read_bytes())
    config["users"][0]["user"]["client-certificate"] = "client.crt"
    path.write_text(yaml.safe_dump(config))
    assert kubeconfig_node(path) == "node-a"


def test_a_user_that_is_not_a_node_falls_back_to_the_hostname(pki: Path, tmp_path: Path) -> None:
    path = tmp_path / "admin"
    write_kubeconfig(path, SERVER, pki, "admin")
    assert kubeconfig_node(path) is None
    assert node_name(None, str(path)) == socket.gethostname().split(".")[0]
    token = tmp_path / "token"
    config = yaml.safe_load(path.read_text())
    config["users"][0]["user"] = {"token": "a-service-account-token"}
    token.write_text(yaml.safe_dump(config))
    assert kubeconfig_node(token) is None


def test_a_broken_certificate_is_a_clear_error_naming_the_kubeconfig(tmp_path: Path) -> None:
    path = tmp_path / "kubeconfig"
    config = {
        "users": [{"name": "u", "user": {"client-certificate-data": "bm90IGEgY2VydA=="}}],
        "contexts": [{"name": "c", "context": {"user": "u", "cluster": "x"}}],
        "current-context": "c",
    }
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(IdentityError, match=f"kubeconfig {path}: the client certificate is not"):
        kubeconfig_node(path)
    config["users"][0]["user"] = {"client-certificate": str(tmp_path / "missing.crt")}
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(IdentityError, match=r"client-certificate: .*missing\.crt"):
        kubeconfig_node(path)


def test_the_cli_refuses_a_broken_certificate_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "kubeconfig"
    pem = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    data = base64.b64encode(pem).decode()
    config = {
        "clusters": [{"name": "x", "cluster": {"server": SERVER}}],
        "users": [{"name": "u", "user": {"client-certificate-data": data}}],
        "contexts": [{"name": "c", "context": {"user": "u", "cluster": "x"}}],
        "current-context": "c",
    }
    path.write_text(yaml.safe_dump(config))
    assert main(["--kubeconfig", str(path)]) == 2
    assert f"kubeconfig {path}: the client certificate" in capsys.readouterr().err

"""Where the console finds the API server: a kubeconfig's cluster part (never its user), or
the pod's environment."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import yaml

from stook_console import settings
from stook_console.kube import Permission


def kubeconfig(path: Path, cluster: dict[str, object]) -> Path:
    path.write_text(yaml.safe_dump({
        "clusters": [{"name": "c", "cluster": cluster}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "x",
        "users": [{"name": "u", "user": {"token": "admin-token"}}],
    }))  # fmt: skip
    return path


def test_a_kubeconfig_gives_the_server_and_its_ca_never_the_user(tmp_path: Path) -> None:
    ca = base64.b64encode(b"PEM").decode()
    path = kubeconfig(tmp_path / "kc", {"server": "https://10.0.0.1:6443",
                                         "certificate-authority-data": ca})  # fmt: skip
    cluster = settings.from_kubeconfig(path)
    assert (cluster.server, cluster.ca_data, cluster.ca_file) == ("https://10.0.0.1:6443", "PEM",
                                                                  None)  # fmt: skip
    assert "admin-token" not in repr(cluster)
    relative = kubeconfig(
        tmp_path / "kc2", {"server": "https://h", "certificate-authority": "ca.crt"}
    )
    assert settings.from_kubeconfig(relative).ca_file == str(tmp_path / "ca.crt")


def test_a_bad_kubeconfig_is_named_with_the_rule(tmp_path: Path) -> None:
    with pytest.raises(settings.SettingsError, match="context 'nope' not found"):
        settings.from_kubeconfig(kubeconfig(tmp_path / "kc", {"server": "https://h"}), "nope")
    with pytest.raises(settings.SettingsError, match="names no cluster with a server"):
        settings.from_kubeconfig(kubeconfig(tmp_path / "kc", {}))
    with pytest.raises(settings.SettingsError, match="cannot read it"):
        settings.from_kubeconfig(tmp_path / "missing")


def test_in_a_pod_the_service_environment_and_the_mounted_ca(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(settings.SettingsError, match="--kubeconfig or --server"):
        settings.in_cluster()
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "fd00::1")
    monkeypatch.setattr(settings, "IN_CLUSTER_CA", tmp_path / "ca.crt")
    with pytest.raises(settings.SettingsError, match=r"kube-root-ca\.crt"):
        settings.in_cluster()
    (tmp_path / "ca.crt").write_text("PEM")
    assert settings.in_cluster().server == "https://[fd00::1]:443"


def test_a_refusal_names_the_user_and_the_verb() -> None:
    refused = Permission(False, "create upgrades.stook.io")
    assert refused.refusal("bob") == (
        "bob may not create upgrades.stook.io: RBAC does not allow it. Ask an administrator."
    )
    assert Permission(True, "create upgrades.stook.io").refusal("bob") == ""

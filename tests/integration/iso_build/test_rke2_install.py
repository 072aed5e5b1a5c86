"""RKE2 from an airgap bundle: iso-build/rke2-install.sh installs it into an image tree the way
RKE2's air-gap docs say (install.sh with INSTALL_RKE2_ARTIFACT_PATH, the image archives in the
agent's images directory), and the node's boot unit (usr/lib/stook/rke2/start) enables
rke2-server or rke2-agent by the role the installer wrote.

RKE2 cannot be downloaded here, so the bundle is a test double made below: the real file names
and checksum list, a tarball laid out like RKE2's (bin/rke2, lib/systemd/system/rke2-*.service)
and an install.sh double that does what the real one does in the tar method (extract into
INSTALL_RKE2_TAR_PREFIX, point the units at that prefix). The chroot is a real one: a small tree
of this host's own tools. What only a real release exercises: RKE2's own install.sh and rke2
itself starting (see docs/decisions.md)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from support.tiers import require_commands, require_root

REPO = Path(__file__).resolve().parents[3]
INSTALL = REPO / "iso-build" / "rke2-install.sh"
START = REPO / "iso-build" / "overlay" / "usr" / "lib" / "stook" / "rke2" / "start"
TOOLS = ("sh", "env", "tar", "gzip", "sed")  # what the install.sh double runs in the chroot

INSTALL_SH_DOUBLE = """#!/bin/sh
# Test double of RKE2's install.sh, tar method with INSTALL_RKE2_ARTIFACT_PATH.
set -e
cd "$INSTALL_RKE2_ARTIFACT_PATH"
tar xzf rke2.linux-amd64.tar.gz -C "$INSTALL_RKE2_TAR_PREFIX"
sed -i "s|/usr/local|$INSTALL_RKE2_TAR_PREFIX|" \\
  "$INSTALL_RKE2_TAR_PREFIX"/lib/systemd/system/rke2-server.service \\
  "$INSTALL_RKE2_TAR_PREFIX"/lib/systemd/system/rke2-agent.service
echo "method=$INSTALL_RKE2_METHOD images=$INSTALL_RKE2_AGENT_IMAGES_DIR" >/install.sh.ran
"""


def unit(kind: str) -> str:
    return (
        f"[Unit]\nDescription=Rancher Kubernetes Engine v2 ({kind})\n[Service]\nType=exec\n"
        f"ExecStart=/usr/local/bin/rke2 {kind}\n[Install]\nWantedBy=multi-user.target\n"
    )


def fake_bundle(folder: Path) -> Path:
    """A test double of an RKE2 release's airgap artifacts (real names, fake contents)."""
    folder.mkdir()
    layout = folder / "layout"
    (layout / "bin").mkdir(parents=True)
    (layout / "lib" / "systemd" / "system").mkdir(parents=True)
    (layout / "bin" / "rke2").write_text("#!/bin/sh\necho 'rke2 test double'\n")
    (layout / "bin" / "rke2").chmod(0o755)
    for kind in ("server", "agent"):
        (layout / "lib" / "systemd" / "system" / f"rke2-{kind}.service").write_text(unit(kind))
    with tarfile.open(folder / "rke2.linux-amd64.tar.gz", "w:gz") as tar:
        for top in ("bin", "lib"):
            tar.add(layout / top, arcname=top)
    shutil.rmtree(layout)
    (folder / "rke2-images-core.linux-amd64.tar.zst").write_bytes(b"core images double")
    (folder / "rke2-images-canal.linux-amd64.tar.zst").write_bytes(b"canal images double")
    (folder / "install.sh").write_text(INSTALL_SH_DOUBLE)
    sums = [
        f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.name}"
        for path in sorted(folder.iterdir())
        if path.name != "install.sh"
    ]
    (folder / "sha256sum-amd64.txt").write_text("\n".join(sums) + "\n")
    return folder


def host_tools_tree(tree: Path) -> Path:
    """A chroot made of this host's own binaries (and the libraries they load)."""
    for tool in TOOLS:
        binary = Path(shutil.which(tool) or "").resolve()
        libraries = subprocess.run(["ldd", str(binary)], capture_output=True, text=True).stdout
        paths = [binary] + [Path(word) for word in libraries.split() if word.startswith("/")]
        for path in paths:
            for name in {path, path.resolve()}:
                target = tree / str(name).lstrip("/")
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path.resolve(), target)
        (tree / "bin").mkdir(exist_ok=True)
        link = tree / "bin" / tool
        if not link.exists():
            link.symlink_to(binary)
    (tree / "tmp").mkdir(exist_ok=True)
    return tree


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    require_root()
    require_commands("chroot", "ldd", "systemctl", *TOOLS)
    return host_tools_tree(tmp_path / "tree")


def run(argv: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, capture_output=True, text=True, env={**os.environ, **env}, check=False
    )


def test_the_bundle_installs_into_the_slot_and_the_role_enables_its_unit(
    tree: Path, tmp_path: Path
) -> None:
    bundle = fake_bundle(tmp_path / "bundle")
    done = run([str(INSTALL), str(tree), str(bundle)])
    assert done.returncode == 0, done.stderr
    assert (tree / "install.sh.ran").read_text() == (
        "method=tar images=/usr/lib/stook/rke2/images\n"
    )
    assert os.access(tree / "usr/bin/rke2", os.X_OK)
    server = (tree / "usr/lib/systemd/system/rke2-server.service").read_text()
    assert "ExecStart=/usr/bin/rke2 server" in server
    images = tree / "usr/lib/stook/rke2/images"
    assert sorted(p.name for p in images.iterdir()) == [
        "rke2-images-canal.linux-amd64.tar.zst",
        "rke2-images-core.linux-amd64.tar.zst",
    ]
    assert not (tree / "tmp/stook-rke2-artifacts").exists()  # no second copy in the image
    assert "installed from an airgap bundle" in (tree / "usr/lib/stook/kubernetes").read_text()

    for role, kind in (("management", "server"), ("worker", "agent")):
        node = tmp_path / f"node-{role}"
        shutil.copytree(tree, node, symlinks=True)
        (node / "etc/stook").mkdir(parents=True)
        (node / "etc/stook/node.env").write_text(f"STOOK_RKE2_TYPE={kind}\nSTOOK_ROLE={role}\n")
        started = run([str(START)], STOOK_ROOT=str(node))
        assert started.returncode == 0, started.stderr
        assert f"enabled rke2-{kind}.service (role {role})" in started.stdout
        wants = node / "etc/systemd/system/multi-user.target.wants"
        assert sorted(p.name for p in wants.iterdir()) == [f"rke2-{kind}.service"]
        agent_images = node / "var/lib/rancher/rke2/agent/images"
        assert {p.name: str(p.readlink()) for p in agent_images.iterdir()} == {
            name: f"/usr/lib/stook/rke2/images/{name}"
            for name in ("rke2-images-canal.linux-amd64.tar.zst",
                         "rke2-images-core.linux-amd64.tar.zst")
        }  # fmt: skip
        # once: an operator's `systemctl disable` afterwards is not undone at the next boot
        (wants / f"rke2-{kind}.service").unlink()
        again = run([str(START)], STOOK_ROOT=str(node))
        assert again.returncode == 0 and "enabled" not in again.stdout, again.stdout
        assert not list(wants.iterdir())


def test_a_node_without_a_role_or_without_rke2_says_so_and_enables_nothing(
    tree: Path, tmp_path: Path
) -> None:
    (tree / "usr/lib/stook").mkdir(parents=True)
    (tree / "usr/lib/stook/kubernetes").write_text(
        "Kubernetes is not installed: this image was built without an RKE2 airgap bundle\n"
    )
    plain = run([str(START)], STOOK_ROOT=str(tree))
    assert plain.returncode == 0, plain.stderr
    assert "stook-rke2: Kubernetes is not installed" in plain.stdout

    assert run([str(INSTALL), str(tree), str(fake_bundle(tmp_path / "b"))]).returncode == 0
    unconfigured = run([str(START)], STOOK_ROOT=str(tree))
    assert unconfigured.returncode == 0, unconfigured.stderr
    assert "the installer did not configure Kubernetes on this node" in unconfigured.stdout
    assert not (tree / "etc/systemd/system/multi-user.target.wants").exists()

    (tree / "etc/stook").mkdir(parents=True)
    (tree / "etc/stook/node.env").write_text("STOOK_RKE2_TYPE=master\n")
    bad = run([str(START)], STOOK_ROOT=str(tree))
    assert bad.returncode == 1
    assert "STOOK_RKE2_TYPE='master' must be server or agent" in bad.stderr


def test_a_bundle_that_is_not_a_release_is_refused_before_anything_is_installed(
    tree: Path, tmp_path: Path
) -> None:
    bundle = fake_bundle(tmp_path / "bundle")
    (bundle / "rke2-images-core.linux-amd64.tar.zst").write_bytes(b"tampered")
    done = run([str(INSTALL), str(tree), str(bundle)])
    assert done.returncode == 1
    assert "rke2-images-core.linux-amd64.tar.zst: sha256" in done.stderr
    assert not (tree / "usr/bin/rke2").exists()

    (bundle / "install.sh").unlink()
    missing = run([str(INSTALL), str(tree), str(bundle)])
    assert missing.returncode == 1
    assert f"{bundle} has no install.sh" in missing.stderr

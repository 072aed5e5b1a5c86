"""Hostname, time (chrony), proxy, the Longhorn data mount and the redacted install config."""

from __future__ import annotations

from stook_core.config import dump_yaml
from stook_core.config.model import InstallConfig, InstallSpec
from stook_installer.engine.nodefile import NodeFile, enable_unit

LONGHORN = "/var/lib/longhorn"
MOUNT_UNIT = "var-lib-longhorn.mount"
RKE2_UNITS = ("rke2-server.service", "rke2-agent.service")


def identity_files(spec: InstallSpec) -> list[NodeFile]:
    hosts = (
        "127.0.0.1\tlocalhost\n"
        f"127.0.1.1\t{spec.hostname}\n"
        "::1\tlocalhost ip6-localhost ip6-loopback\n"
    )
    return [NodeFile("/etc/hostname", f"{spec.hostname}\n"), NodeFile("/etc/hosts", hosts)]


def chrony_files(spec: InstallSpec) -> list[NodeFile]:
    if not spec.ntp_servers:
        return []
    lines = "".join(f"server {server} iburst\n" for server in spec.ntp_servers)
    return [NodeFile("/etc/chrony/sources.d/stook.sources", lines)]


def _no_proxy(spec: InstallSpec) -> list[str]:
    always = ["127.0.0.1", "localhost", ".svc", ".cluster.local"]
    cluster = [str(spec.cluster.pod_cidr), str(spec.cluster.service_cidr)]
    net = spec.management_interface.address
    node = [str(net.network)] if net is not None else []
    vip = [str(spec.vip.address)] if spec.vip and spec.vip.address else []
    seen: dict[str, None] = dict.fromkeys(
        [*spec.proxy.no_proxy, *always, *cluster, *node, *vip] if spec.proxy else []
    )
    return list(seen)


def proxy_files(spec: InstallSpec) -> list[NodeFile]:
    proxy = spec.proxy
    if proxy is None or not (proxy.http_proxy or proxy.https_proxy):
        return []
    values = {"HTTP_PROXY": proxy.http_proxy, "HTTPS_PROXY": proxy.https_proxy}
    values["NO_PROXY"] = ",".join(_no_proxy(spec))
    lines = []
    for key, value in values.items():
        if value:
            lines += [f"{key}={value}", f"{key.lower()}={value}"]
    env = "\n".join(lines) + "\n"
    # A proxy URL may carry a password: it is a secret like the token.
    secrets = tuple(v for v in (proxy.http_proxy, proxy.https_proxy) if v and "@" in v)
    drop_in = "[Service]\nEnvironmentFile=-/etc/stook/proxy.env\n"
    return [
        NodeFile("/etc/stook/proxy.env", env, mode=0o600, secrets=secrets),
        *(NodeFile(f"/etc/systemd/system/{unit}.d/50-proxy.conf", drop_in) for unit in RKE2_UNITS),
    ]


def data_mount_files(data_uuid: str) -> list[NodeFile]:
    unit = (
        "# Written by the Stook installer: the Longhorn data disk.\n"
        "[Unit]\nDescription=Longhorn data disk\nBefore=rke2-server.service rke2-agent.service\n\n"
        f"[Mount]\nWhat=/dev/disk/by-uuid/{data_uuid}\nWhere={LONGHORN}\nType=ext4\n"
        "Options=defaults,noatime\n\n[Install]\nWantedBy=local-fs.target\n"
    )
    return [
        NodeFile(f"/etc/systemd/system/{MOUNT_UNIT}", unit),
        enable_unit(MOUNT_UNIT, "local-fs.target"),
    ]


def config_copy(config: InstallConfig) -> NodeFile:
    """The install config with secrets redacted, so any install can be replayed."""
    return NodeFile("/etc/stook/install-config.yaml", dump_yaml(config), mode=0o600)

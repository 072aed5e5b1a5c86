"""``stook-agent``: run the node agent (on a node: stook-agent.service of the OS image)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from kubernetes.config import ConfigException

from stook_agent import __version__
from stook_agent.agent import Agent
from stook_agent.disks.filters import DEFAULT_EXCLUDE
from stook_agent.identity import IdentityError, node_name
from stook_agent.kube import api_client
from stook_agent.settings import AgentSettings, DiskSettings
from stook_agent.upgrades.download import DOWNLOADS, FOLDER_OPTION, folder_problem
from stook_agent.upgrades.imagehttp import CaFileError, tls_context
from stook_core.door import (
    LOG_LEVELS,
    add_debug_flag,
    guard,
    log_level,
    regex,
    seconds,
    whole_number,
)


def ca_file(value: str) -> str:
    """A readable file of CA certificates (argparse names the option when this refuses)."""
    try:
        with Path(value).open("rb"):
            pass
    except OSError as error:
        raise argparse.ArgumentTypeError(f"cannot read {value}: {error.strerror}") from None
    try:
        tls_context(value)
    except CaFileError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return value


def download_folder(value: str) -> Path:
    """An absolute folder on a writable filesystem (made when it is not there yet)."""
    problem = folder_problem(Path(value))
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return Path(value)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="stook-agent", description=__doc__)
    parser.add_argument("--version", action="version", version=f"stook-agent {__version__}")
    parser.add_argument(
        "--node-name",
        default=os.environ.get("NODE_NAME"),
        help="this node's name (default: $NODE_NAME, else the node of the kubeconfig's "
        "system:node:<name> client certificate, else the hostname)",
    )
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: in-cluster, $KUBECONFIG)")
    parser.add_argument(
        "--controller-kubeconfig",
        default=os.environ.get("STOOK_CONTROLLER_KUBECONFIG"),
        help="the cluster controllers' own credential; with it this process campaigns for the "
        "Lease stook-system/stook-cluster-controllers and runs them while it holds it "
        "(default: $STOOK_CONTROLLER_KUBECONFIG; none: no cluster controllers here)",
    )
    parser.add_argument(
        "--metrics-address",
        "--metrics-host",
        dest="metrics_host",
        default="127.0.0.1",
        help="address of /metrics, /healthz, /readyz (no authentication: default 127.0.0.1; "
        "0.0.0.0 opens it on every address)",
    )
    parser.add_argument("--metrics-port", type=whole_number(0, 65535), default=9808)
    parser.add_argument(
        "--api-timeout", type=seconds, default=30.0, help="read timeout of every API call (s)"
    )
    parser.add_argument("--resync-period", type=seconds, default=300.0, help="seconds")
    parser.add_argument("--heartbeat", type=seconds, default=30.0, help="seconds")
    parser.add_argument("--workers", type=whole_number(1, 1024), default=2)
    parser.add_argument(
        "--upgrade-ca-file",
        type=ca_file,
        help="CA certificates (PEM) that OS images over HTTPS are verified with, e.g. a "
        "private CA's, by this node's downloads and (with --controller-kubeconfig) the rollout "
        "controller's Image pre-check (default: the system's)",
    )
    parser.add_argument(
        FOLDER_OPTION,
        type=download_folder,
        default=DOWNLOADS,
        help="the folder OS images are downloaded to: an absolute path on a writable filesystem "
        "with room for an image (the Space pre-check and each download check its free space; "
        f"default {DOWNLOADS}, on the state partition)",
    )
    disks = parser.add_argument_group("disks")
    disks.add_argument(
        "--host-root",
        default=os.environ.get("STOOK_HOST_ROOT", "/"),
        help="the host's root filesystem as the agent sees it (the chart mounts it at /host)",
    )
    disks.add_argument("--disks-dir", default="/var/lib/stook/disks", help="on the host")
    disks.add_argument(
        "--disk-exclude",
        type=regex,
        default=DEFAULT_EXCLUDE,
        help=f"regex of kernel names never treated as disks (default {DEFAULT_EXCLUDE!r})",
    )
    disks.add_argument(
        "--disk-allow",
        type=regex,
        help="regex: consider only disks whose kernel name or loop backing file matches",
    )
    disks.add_argument("--rescan-period", type=seconds, default=60.0, help="seconds")
    disks.add_argument(
        "--no-udev",
        action="store_true",
        help="no udev monitor: rescan on SIGHUP and every --rescan-period only",
    )
    parser.add_argument(
        "--log-level",
        type=log_level,
        default=os.environ.get("STOOK_LOG_LEVEL", "INFO"),
        help=f"one of {', '.join(LOG_LEVELS)} (default: $STOOK_LOG_LEVEL or INFO)",
    )
    add_debug_flag(parser)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the agent; an unexpected error ends as a report (stook_core.door)."""
    return guard("stook-agent", _main, argv)


def _main(argv: list[str]) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        api = api_client(args.kubeconfig)
        cluster_api = api_client(args.controller_kubeconfig) if args.controller_kubeconfig else None
    except ConfigException as error:
        print(f"stook-agent: {error}", file=sys.stderr)
        return 2
    try:
        node = node_name(args.node_name, args.kubeconfig or os.environ.get("KUBECONFIG"))
    except IdentityError as error:
        print(f"stook-agent: {error}", file=sys.stderr)
        return 2
    settings = AgentSettings(
        node=node,
        metrics_host=args.metrics_host,
        metrics_port=args.metrics_port,
        resync_period=args.resync_period,
        heartbeat=args.heartbeat,
        workers=args.workers,
        api_timeout=(5.0, args.api_timeout),
        upgrade_ca_file=args.upgrade_ca_file,
        upgrade_downloads=args.upgrade_downloads,
        disks=DiskSettings(
            host_root=Path(args.host_root),
            disks_dir=args.disks_dir,
            exclude=args.disk_exclude,
            allow=args.disk_allow,
            rescan_period=args.rescan_period,
            udev=not args.no_udev,
        ),
    )
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        logging.getLogger(__name__).info("received %s", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        agent = Agent(api, settings, cluster_api)
    except OSError as error:
        print(f"stook-agent: cannot listen on port {args.metrics_port}: {error}", file=sys.stderr)
        return 1
    signal.signal(signal.SIGHUP, lambda _s, _f: agent.disks.rescan.rescan("SIGHUP"))
    return agent.run(stop)


if __name__ == "__main__":
    sys.exit(main())

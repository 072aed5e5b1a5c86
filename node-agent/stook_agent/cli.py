"""``stook-agent``: run the node agent (normally as the chart's DaemonSet)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from types import FrameType

from kubernetes.config import ConfigException

from stook_agent import __version__
from stook_agent.agent import Agent, AgentSettings
from stook_agent.kube import api_client


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="stook-agent", description=__doc__)
    parser.add_argument("--version", action="version", version=f"stook-agent {__version__}")
    parser.add_argument(
        "--node-name",
        default=os.environ.get("NODE_NAME"),
        help="this node's name (default: $NODE_NAME, set by the DaemonSet from spec.nodeName)",
    )
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: in-cluster, $KUBECONFIG)")
    parser.add_argument("--metrics-host", default="0.0.0.0")
    parser.add_argument("--metrics-port", type=int, default=9808)
    parser.add_argument("--resync-period", type=float, default=300.0, help="seconds")
    parser.add_argument("--heartbeat", type=float, default=30.0, help="seconds")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--log-level", default=os.environ.get("STOOK_LOG_LEVEL", "INFO"))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if not args.node_name:
        print("stook-agent: no node name: pass --node-name or set NODE_NAME", file=sys.stderr)
        return 2
    try:
        api = api_client(args.kubeconfig)
    except ConfigException as error:
        print(f"stook-agent: {error}", file=sys.stderr)
        return 2
    settings = AgentSettings(
        node=args.node_name,
        metrics_host=args.metrics_host,
        metrics_port=args.metrics_port,
        resync_period=args.resync_period,
        heartbeat=args.heartbeat,
        workers=args.workers,
    )
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        logging.getLogger(__name__).info("received %s", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        agent = Agent(api, settings)
    except OSError as error:
        print(f"stook-agent: cannot listen on port {args.metrics_port}: {error}", file=sys.stderr)
        return 1
    agent.run(stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``stook-console``: serve the web console over HTTPS (docs/console.md)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import uvicorn

from stook_console.app import Console
from stook_console.kube import Cluster, Kube
from stook_console.settings import SettingsError, from_kubeconfig, in_cluster
from stook_console.tls import self_signed


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="stook-console",
        description="The Stook web console. It holds no credentials: users sign in with their "
        "own Kubernetes bearer token and RBAC decides what they may see and do.",
    )
    where = p.add_mutually_exclusive_group()
    where.add_argument("--kubeconfig", type=Path,
                       help="take the API server and its CA from this kubeconfig (development; "
                       "its user credentials are ignored)")  # fmt: skip
    where.add_argument("--server", help="the API server URL (with --ca-file)")
    p.add_argument("--context", help="the kubeconfig context (default: the current one)")
    p.add_argument("--ca-file", help="the API server's CA bundle (with --server)")
    p.add_argument("--address", default="0.0.0.0", help="listen address (default 0.0.0.0)")
    p.add_argument("--port", type=int, default=8443, help="HTTPS port (default 8443)")
    p.add_argument("--tls-cert", type=Path, help="certificate (PEM); default: self-signed")
    p.add_argument("--tls-key", type=Path, help="its private key (PEM)")
    p.add_argument("--tls-name", action="append", default=[],
                   help="a DNS name or IP for the self-signed certificate")  # fmt: skip
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        if args.kubeconfig:
            cluster = from_kubeconfig(args.kubeconfig, args.context)
        elif args.server:
            cluster = Cluster(server=args.server, ca_file=args.ca_file)
        else:
            cluster = in_cluster()
    except SettingsError as error:
        print(f"stook-console: {error}", file=sys.stderr)
        return 2
    if bool(args.tls_cert) != bool(args.tls_key):
        print("stook-console: --tls-cert and --tls-key go together", file=sys.stderr)
        return 2
    for option, path in (("--tls-cert", args.tls_cert), ("--tls-key", args.tls_key)):
        if path is not None and not path.is_file():
            print(f"stook-console: {option} {path}: no such file", file=sys.stderr)
            return 2
    cert, key = (args.tls_cert, args.tls_key) if args.tls_cert else self_signed(
        names=tuple(args.tls_name))  # fmt: skip
    app = Console(Kube(cluster)).app()
    # access_log off: uvicorn's access lines are replaced by the console's own (no query
    # strings, no cookies); nothing the console logs carries a token.
    uvicorn.run(
        app,
        host=args.address,
        port=args.port,
        ssl_certfile=str(cert),
        ssl_keyfile=str(key),
        access_log=False,
        log_level="info",
        timeout_graceful_shutdown=5,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

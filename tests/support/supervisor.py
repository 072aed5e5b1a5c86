"""A stand-in for RKE2's supervisor (port 9345): ``/cacerts`` and ``/ping`` over real TLS.

RKE2 cannot run on these machines. What a joining node's preflight asks of the supervisor is
these two answers: the cluster's CA bundle (unauthenticated, as RKE2 serves it) and ``pong``,
over a serving certificate the cluster CA signed. Tests point it at the test kube-apiserver's
CA (support.apiserver) so the VIP check verifies the API server with the same CA, as on a real
cluster.

Standard library only, so it also runs where the tests are not installed, for example on an
e2e VM: ``python3 supervisor.py --listen 10.0.2.15:9345 --ca ca.crt --cert s.crt --key s.key``.
"""

from __future__ import annotations

import argparse
import http.server
import ssl
import threading
from pathlib import Path
from typing import Any


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        routes = {"/cacerts": self.server.ca, "/ping": b"pong"}
        body = routes.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")
        self.server.requests.append(self.path)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests read ``requests``."""


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], ca: bytes) -> None:
        super().__init__(address, _Handler)
        self.ca = ca
        self.requests: list[str] = []


class Supervisor:
    """Serves *ca* (bytes of a PEM bundle) at /cacerts and pong at /ping, with *cert*/*key*."""

    def __init__(self, host: str, port: int, ca: bytes, cert: Path, key: Path) -> None:
        self._server = _Server((host, port), ca)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(cert), str(key))
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"https://{host!s}:{port}"

    @property
    def requests(self) -> list[str]:
        return self._server.requests

    def __enter__(self) -> Supervisor:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--listen", default="0.0.0.0:9345", help="HOST:PORT")
    parser.add_argument("--ca", type=Path, required=True, help="the cluster CA bundle (PEM)")
    parser.add_argument("--cert", type=Path, required=True, help="serving certificate")
    parser.add_argument("--key", type=Path, required=True, help="its key")
    args = parser.parse_args()
    host, _, port = args.listen.rpartition(":")
    with Supervisor(host, int(port), args.ca.read_bytes(), args.cert, args.key) as supervisor:
        print(f"serving {supervisor.url}", flush=True)
        threading.Event().wait()


if __name__ == "__main__":
    main()

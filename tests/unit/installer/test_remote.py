"""remote.py against real HTTP and HTTPS servers on 127.0.0.1: the RKE2 supervisor stand-in
(support/supervisor.py) with a self-signed cluster CA, and key lists."""

from __future__ import annotations

import http.server
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from stook_installer.remote import RemoteError, check_key_lines, check_server, fetch_keys
from support.join_cluster import full_token
from support.supervisor import Supervisor
from support.tls import self_signed

ED25519 = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl alice@example"
)
NOT_A_KEY = "ssh-rsa not-base64!! bob"


class Routes(http.server.BaseHTTPRequestHandler):
    """Answers from a path -> (status, body) table the test fills in."""

    routes: dict[str, tuple[int, bytes]] = {}

    def do_GET(self) -> None:
        status, body = self.routes.get(self.path, (404, b"not found"))
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # quiet test output
        return


def serve(routes: dict[str, tuple[int, bytes]], tls_dir: Path | None) -> Iterator[str]:
    handler = type("Handler", (Routes,), {"routes": routes})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    scheme = "http"
    if tls_dir is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*self_signed(tls_dir))
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"{scheme}://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def routes() -> dict[str, tuple[int, bytes]]:
    return {}


@pytest.fixture
def https_url(routes: dict[str, tuple[int, bytes]], tmp_path: Path) -> Iterator[str]:
    yield from serve(routes, tmp_path)


@pytest.fixture
def http_url(routes: dict[str, tuple[int, bytes]]) -> Iterator[str]:
    yield from serve(routes, None)


@pytest.fixture
def supervisor(tmp_path: Path) -> Iterator[tuple[Supervisor, bytes]]:
    """The supervisor stand-in on 127.0.0.1 with a self-signed certificate for that address,
    serving that certificate as the cluster CA (so TLS verified with it passes)."""
    cert, key = self_signed(tmp_path, ip="127.0.0.1")
    ca = cert.read_bytes()
    with Supervisor("127.0.0.1", 0, ca, cert, key) as running:
        yield running, ca


def test_a_server_serving_the_tokens_ca_passes(supervisor: tuple[Supervisor, bytes]) -> None:
    server, ca = supervisor
    assert check_server(server.url, full_token(ca, "secret-1")) == ()
    assert server.requests == ["/cacerts", "/ping"]


def test_a_server_with_another_ca_is_refused_naming_the_pin(
    supervisor: tuple[Supervisor, bytes], tmp_path: Path
) -> None:
    """Another cluster (or something in between): its CA is not the one the token names."""
    server, _ = supervisor
    (tmp_path / "other").mkdir()
    other = self_signed(tmp_path / "other")[0].read_bytes()
    with pytest.raises(RemoteError) as raised:
        check_server(server.url, full_token(other, "secret-1"))
    text = str(raised.value)
    assert f"GET {server.url}/cacerts: the server's CA (SHA-256 " in text
    assert "is not the one the token names" in text and "Check install.token" in text
    assert "secret-1" not in text and server.requests == ["/cacerts"]  # never pinged


def test_a_certificate_the_ca_did_not_sign_is_refused(tmp_path: Path) -> None:
    """The right CA at /cacerts (it is public) but a serving key the CA never signed."""
    (tmp_path / "ca").mkdir()
    ca = self_signed(tmp_path / "ca", ip="127.0.0.1")[0].read_bytes()
    cert, key = self_signed(tmp_path, ip="127.0.0.1")
    with (
        Supervisor("127.0.0.1", 0, ca, cert, key) as server,
        pytest.raises(RemoteError, match=r"/ping: .*certificate"),
    ):
        check_server(server.url, full_token(ca, "secret-1"))


def test_a_token_without_a_ca_hash_warns_that_the_ca_is_trusted_as_first_seen(
    supervisor: tuple[Supervisor, bytes],
) -> None:
    server, _ = supervisor
    (warning,) = check_server(server.url, "short-token")
    assert "not RKE2's full form" in warning and "trusted as first seen" in warning


def test_a_server_that_is_no_supervisor_is_refused(
    https_url: str, routes: dict[str, tuple[int, bytes]]
) -> None:
    with pytest.raises(RemoteError, match="HTTP 404 to /cacerts: it is not an RKE2 supervisor"):
        check_server(https_url, "short-token")


def test_server_that_does_not_listen_is_refused(tmp_path: Path) -> None:
    url = next(serve({}, None))  # start and stop a server: its port is now closed
    port = url.rsplit(":", 1)[1]
    with pytest.raises(RemoteError, match="Connection refused"):
        check_server(f"https://127.0.0.1:{port}", "short-token", timeout=5)


def test_server_url_must_be_https() -> None:
    with pytest.raises(RemoteError, match="not an https"):
        check_server("http://127.0.0.1:9345", "short-token")


def test_fetch_keys_keeps_keys_and_reports_bad_lines(
    http_url: str, routes: dict[str, tuple[int, bytes]]
) -> None:
    routes["/alice.keys"] = (200, f"# team keys\n{ED25519}\n\n{NOT_A_KEY}\n".encode())
    fetched = fetch_keys(f"{http_url}/alice.keys")
    assert fetched.keys == [ED25519]
    assert fetched.rejected == [(4, NOT_A_KEY, "has a key that is not valid base64")]


def test_fetch_keys_http_error(http_url: str) -> None:
    with pytest.raises(RemoteError, match="HTTP 404"):
        fetch_keys(f"{http_url}/missing.keys")


def test_fetch_keys_empty_list_is_an_error(
    http_url: str, routes: dict[str, tuple[int, bytes]]
) -> None:
    routes["/empty"] = (200, b"\n# nothing\n")
    with pytest.raises(RemoteError, match="holds no keys"):
        fetch_keys(f"{http_url}/empty")


def test_fetch_keys_refuses_binary_and_huge_answers(
    http_url: str, routes: dict[str, tuple[int, bytes]]
) -> None:
    routes["/binary"] = (200, b"\xff\xfe\x00")
    routes["/huge"] = (200, b"x" * (1024 * 1024 + 1))
    with pytest.raises(RemoteError, match="not UTF-8"):
        fetch_keys(f"{http_url}/binary")
    with pytest.raises(RemoteError, match="larger than"):
        fetch_keys(f"{http_url}/huge")


def test_fetch_keys_needs_http_url() -> None:
    with pytest.raises(RemoteError, match="not an http"):
        fetch_keys("ftp://example.org/keys")


def test_check_key_lines_numbers_lines_from_one() -> None:
    fetched = check_key_lines(f"{NOT_A_KEY}\n{ED25519}")
    assert fetched.keys == [ED25519]
    assert [line for line, _, _ in fetched.rejected] == [1]

"""remote.py against real HTTP and HTTPS servers on 127.0.0.1 (self-signed TLS, like RKE2)."""

from __future__ import annotations

import http.server
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from stook_installer.remote import RemoteError, check_key_lines, check_server, fetch_keys
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


def test_server_that_answers_pong_passes_despite_self_signed_tls(
    https_url: str, routes: dict[str, tuple[int, bytes]]
) -> None:
    routes["/ping"] = (200, b"pong\n")
    check_server(https_url)


def test_server_with_wrong_answer_is_refused(
    https_url: str, routes: dict[str, tuple[int, bytes]]
) -> None:
    routes["/ping"] = (200, b"<html>hello</html>")
    with pytest.raises(RemoteError, match="not 'pong'"):
        check_server(https_url)


def test_server_with_http_error_is_refused(https_url: str) -> None:
    with pytest.raises(RemoteError, match="HTTP 404"):
        check_server(https_url)


def test_server_that_does_not_listen_is_refused(tmp_path: Path) -> None:
    url = next(serve({}, None))  # start and stop a server: its port is now closed
    port = url.rsplit(":", 1)[1]
    with pytest.raises(RemoteError, match="could not be reached"):
        check_server(f"https://127.0.0.1:{port}", timeout=5)


def test_server_url_must_be_https() -> None:
    with pytest.raises(RemoteError, match="not an https"):
        check_server("http://127.0.0.1:9345")


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

"""Fetching ``config_url`` from real HTTP(S) servers on 127.0.0.1 that misbehave on purpose."""

from __future__ import annotations

import hashlib
import http.server
import logging
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from stook_core.config.fetch import Fetcher, Location
from stook_core.config.sources import Sources
from stook_core.problems import ConfigError
from stook_installer import cli
from support.configs import create_document
from support.install_engine import PROFILES, document
from support.tls import self_signed

BODY = yaml.safe_dump(create_document()).encode()
Route = Callable[[http.server.BaseHTTPRequestHandler], None]


@dataclass
class Server:
    """A local HTTP server; *routes* map a path to what the handler does, *hits* count requests."""

    base: str
    routes: dict[str, Route] = field(default_factory=dict)
    hits: list[str] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)


def _serve(tls: ssl.SSLContext | None = None) -> Iterator[Server]:
    state = Server("")

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            state.hits.append(self.path)
            state.headers.append(dict(self.headers))
            route = state.routes.get(self.path.split("?")[0])
            if route is None:
                self.send_error(404)
                return
            route(self)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    scheme = "https" if tls else "http"
    state.base = f"{scheme}://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    yield from _serve()


def ok(body: bytes = BODY) -> Route:
    def route(handler: http.server.BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return route


def status(code: int) -> Route:
    def route(handler: http.server.BaseHTTPRequestHandler) -> None:
        handler.send_error(code)

    return route


def redirect(to: str) -> Route:
    def route(handler: http.server.BaseHTTPRequestHandler) -> None:
        handler.send_response(302)
        handler.send_header("Location", to)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return route


def fetcher(attempts: int = 3, timeout: float = 5.0) -> Fetcher:
    return Fetcher(attempts=attempts, timeout=timeout, sleep=lambda _: None)


def failure(fetch: Fetcher, location: Location) -> str:
    with pytest.raises(ConfigError) as caught:
        fetch(location)
    return caught.value.report()


def finishes_within(seconds: float, work: Callable[[], object]) -> object:
    """Run *work* in a thread; fail the test if it is still running after *seconds* (a hang)."""
    result: dict[str, object] = {}

    def run() -> None:
        try:
            result["value"] = work()
        except BaseException as error:  # the test inspects it
            result["value"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"the fetch was still running after {seconds} s"
    return result["value"]


def drip_body(handler: http.server.BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Length", "100000")
    handler.end_headers()
    for _ in range(100):
        handler.wfile.write(b"#")
        handler.wfile.flush()
        time.sleep(0.3)


def drip_headers(handler: http.server.BaseHTTPRequestHandler) -> None:
    handler.wfile.write(b"HTTP/1.1 200 OK\r\n")
    for _ in range(100):
        handler.wfile.write(b"X-Slow: 1\r\n")
        handler.wfile.flush()
        time.sleep(0.3)


@pytest.mark.parametrize("drip", [drip_body, drip_headers])
def test_a_server_dripping_bytes_is_cut_off_at_the_deadline(server: Server, drip: Route) -> None:
    server.routes["/c.yaml"] = drip
    fetch = fetcher(attempts=2, timeout=1.0)
    error = finishes_within(15, lambda: fetch(Location(f"{server.base}/c.yaml")))
    assert isinstance(error, ConfigError)
    assert "after 2 attempt(s): no complete answer before the deadline" in error.report()


def test_a_truncated_body_is_retried_and_then_reported(server: Server) -> None:
    def truncated(handler: http.server.BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", "1000")
        handler.end_headers()
        handler.wfile.write(BODY[:10])
        handler.close_connection = True

    server.routes["/c.yaml"] = truncated
    text = failure(fetcher(attempts=2), Location(f"{server.base}/c.yaml"))
    assert "after 2 attempt(s): the body ended early: 10 of 1000 bytes arrived" in text
    assert len(server.hits) == 2


def test_a_404_is_tried_once_and_its_status_is_shown(server: Server) -> None:
    text = failure(fetcher(attempts=5), Location(f"{server.base}/missing.yaml"))
    assert "after 1 attempt(s): HTTP 404 Not Found" in text
    assert len(server.hits) == 1


def test_a_500_then_a_200_is_retried_with_growing_delays(server: Server) -> None:
    answers = [status(500), status(503), ok()]
    server.routes["/c.yaml"] = lambda handler: answers.pop(0)(handler)
    delays: list[float] = []
    fetch = Fetcher(attempts=5, timeout=5, first_delay=1.0, max_delay=30.0, sleep=delays.append)
    config = Sources(config_url=f"{server.base}/c.yaml", fetch=fetch).load()
    assert config.install.hostname == "node1"
    assert delays == [1.0, 2.0]
    assert fetch.tried == ["HTTP 500 Internal Server Error", "HTTP 503 Service Unavailable"]


def test_429_and_408_are_retried(server: Server) -> None:
    answers = [status(429), status(408), ok()]
    server.routes["/c.yaml"] = lambda handler: answers.pop(0)(handler)
    assert fetcher(attempts=3)(Location(f"{server.base}/c.yaml")) == BODY


def test_a_redirect_loop_is_not_retried(server: Server) -> None:
    server.routes["/a"] = redirect("/b")
    server.routes["/b"] = redirect("/a")
    text = failure(fetcher(attempts=5), Location(f"{server.base}/a"))
    assert "after 1 attempt(s): HTTP 302" in text and "redirect loop" in text


def test_a_redirect_is_followed(server: Server) -> None:
    server.routes["/a"] = redirect("/c.yaml")
    server.routes["/c.yaml"] = ok()
    assert fetcher()(Location(f"{server.base}/a")) == BODY


@pytest.mark.parametrize("target", ["file:///etc/shadow", "ftp://127.0.0.1/c.yaml"])
def test_a_redirect_to_another_scheme_is_refused(server: Server, target: str) -> None:
    server.routes["/a"] = redirect(target)
    text = failure(fetcher(attempts=5), Location(f"{server.base}/a"))
    assert "after 1 attempt(s): redirects to" in text and "which is not http(s)" in text


@pytest.mark.parametrize(
    "url", ["file:///etc/hostname", "ftp://127.0.0.1/c", "data:text/plain,x", "gopher://h/", "x"]
)
def test_only_http_and_https_are_fetched(url: str) -> None:
    fetch = fetcher(attempts=5)
    text = failure(fetch, Location(url))
    assert "install.config_url" in text and "must be an http:// or https:// URL" in text
    assert fetch.tried == []


def test_an_oversize_body_is_refused_by_its_declared_length(server: Server) -> None:
    server.routes["/big"] = ok(b"#" * (2 << 20))
    text = failure(fetcher(attempts=5), Location(f"{server.base}/big"))
    assert "after 1 attempt(s): is 2097152 bytes, more than the 1048576 allowed" in text


def test_an_oversize_body_without_a_length_is_cut_at_the_cap(server: Server) -> None:
    def endless(handler: http.server.BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Connection", "close")
        handler.end_headers()
        chunk = b"#" * 65536
        for _ in range(64):
            handler.wfile.write(chunk)
        handler.close_connection = True

    server.routes["/big"] = endless
    text = failure(fetcher(attempts=5), Location(f"{server.base}/big"))
    assert "after 1 attempt(s): is more than the 1048576 bytes allowed" in text


def test_sha256_pin_accepts_the_right_document_and_refuses_another(server: Server) -> None:
    server.routes["/c.yaml"] = ok()
    right = hashlib.sha256(BODY).hexdigest()
    assert fetcher()(Location(f"{server.base}/c.yaml", sha256=right.upper())) == BODY
    server.hits.clear()
    text = failure(fetcher(attempts=5), Location(f"{server.base}/c.yaml", sha256="0" * 64))
    assert f"does not match the document fetched ({len(BODY)} bytes, SHA-256 {right})" in text
    assert len(server.hits) == 1


def test_a_malformed_sha256_is_refused_before_fetching(server: Server) -> None:
    text = failure(fetcher(), Location(f"{server.base}/c.yaml", sha256="abc"))
    assert "install.config_sha256" in text and "64 hex digits" in text
    assert server.hits == []


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[Server, Path]]:
    cert, key = self_signed(tmp_path, ip="127.0.0.1")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    for state in _serve(context):
        state.routes["/c.yaml"] = ok()
        yield state, cert


def test_https_with_the_site_ca_is_fetched(tls_server: tuple[Server, Path]) -> None:
    server, ca = tls_server
    assert fetcher()(Location(f"{server.base}/c.yaml", ca_file=ca)) == BODY


def test_https_with_an_unknown_certificate_is_not_retried(tls_server: tuple[Server, Path]) -> None:
    server, _ = tls_server
    text = failure(fetcher(attempts=5), Location(f"{server.base}/c.yaml"))
    assert "after 1 attempt(s): the server's TLS certificate does not verify" in text


def test_a_ca_file_that_is_not_a_certificate_is_a_problem(
    tls_server: tuple[Server, Path], tmp_path: Path
) -> None:
    server, _ = tls_server
    bogus = tmp_path / "bogus.pem"
    bogus.write_text("not a certificate\n")
    text = failure(fetcher(), Location(f"{server.base}/c.yaml", ca_file=bogus))
    assert "install.config_ca" in text and "holds no usable CA certificate" in text
    missing = failure(fetcher(), Location(f"{server.base}/c.yaml", ca_file=tmp_path / "none"))
    assert "install.config_ca" in missing and "is not a readable file" in missing
    assert server.hits == []


def test_credentials_and_query_tokens_never_reach_messages_or_logs(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server.routes["/c.yaml"] = status(503)
    url = f"http://ops:pa55w0rd@{server.base.removeprefix('http://')}/c.yaml?token=t0ken"
    text = failure(fetcher(attempts=2), Location(url))
    assert server.headers[0]["Authorization"] == "Basic b3BzOnBhNTV3MHJk"  # ops:pa55w0rd
    for output in (text, caplog.text):
        assert "pa55w0rd" not in output and "t0ken" not in output
    assert "http://<redacted>@127.0.0.1:" in text and "/c.yaml?<redacted>" in text


def test_a_body_that_is_not_utf8_is_a_problem_naming_the_url(server: Server) -> None:
    server.routes["/c.yaml"] = ok(b"apiVersion: \xff\n")
    with pytest.raises(ConfigError) as caught:
        Sources(config_url=f"{server.base}/c.yaml", fetch=fetcher()).load()
    assert caught.value.source == f"{server.base}/c.yaml"
    assert "(document): is not UTF-8 text (line 1, byte 12)" in caught.value.report()


def test_a_port_with_no_server_is_retried(server: Server) -> None:
    url = f"{server.base}/c.yaml".replace(server.base.rsplit(":", 1)[1], "1")
    text = failure(fetcher(attempts=2), Location(url))
    assert "after 2 attempt(s)" in text and "refused" in text


def test_config_url_flag_and_kernel_config_url_together(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """As docs/install-config.md says: --config-url wins, the kernel's URL is not fetched."""
    server.routes["/flag.yaml"] = ok(yaml.safe_dump(document(automatic=True)).encode())
    cmdline = tmp_path / "cmdline"
    cmdline.write_text(
        f"quiet stook.install.config_url={server.base}/kernel.yaml "
        f"stook.install.config_sha256={'0' * 64} stook.install.hostname=from-kernel\n"
    )
    argv = ["--config-url", f"{server.base}/flag.yaml", "--cmdline", str(cmdline),
            "--machine", str(PROFILES / "os-and-data.json"), "--dry-run"]  # fmt: skip
    assert cli.main(argv) == 0, capsys.readouterr().err
    assert server.hits == ["/flag.yaml"]
    assert "from-kernel" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1/a b?token=t0ken", "has white space or control characters"),
        ("http://127.0.0.1/\x07", "has white space or control characters"),
        ("http://127.0.0.1/ü", "has non-ASCII characters"),
        ("http://[::1/c.yaml", "is not a valid URL"),
        ("http://127.0.0.1:99999/c.yaml", "is not a valid URL"),
        ("http:///c.yaml", "names no host"),
    ],
)
def test_a_url_that_cannot_be_requested_is_refused_at_once(url: str, expected: str) -> None:
    fetch = fetcher(attempts=5)
    text = failure(fetch, Location(url))
    assert expected in text and "t0ken" not in text
    assert fetch.tried == []


def test_more_than_five_redirects_are_not_followed(server: Server) -> None:
    for hop in range(8):
        server.routes[f"/{hop}"] = redirect(f"/{hop + 1}")
    server.routes["/8"] = ok()
    text = failure(fetcher(attempts=5), Location(f"{server.base}/0"))
    assert "after 1 attempt(s): HTTP 302: a redirect loop or more than 5 redirects" in text
    assert len(server.hits) == 6


def test_credentials_are_not_sent_on_to_another_host(server: Server) -> None:
    for other in _serve():
        other.routes["/c.yaml"] = ok()
        server.routes["/a"] = redirect(f"{other.base}/c.yaml")
        server.routes["/b"] = redirect("/c.yaml")
        server.routes["/c.yaml"] = ok()
        authority = server.base.removeprefix("http://")
        assert fetcher()(Location(f"http://ops:pa55w0rd@{authority}/a")) == BODY
        assert "Authorization" in server.headers[0]
        assert "Authorization" not in other.headers[0]
        assert fetcher()(Location(f"http://ops:pa55w0rd@{authority}/b")) == BODY
        assert "Authorization" in server.headers[-1]  # the same host keeps them

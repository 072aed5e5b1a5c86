"""A real HTTP server on 127.0.0.1 serving one OS image, with byte ranges (RFC 9110) as a CDN
or nginx serves them; it records every request and can hold a response after N bytes (so a
test can kill the client mid-download) or ignore ranges (as some servers do)."""

from __future__ import annotations

import contextlib
import http.server
import re
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

RANGE = re.compile(r"^bytes=(\d+)-$")


@dataclass
class ImageServer:
    data: bytes
    path: str = "/os.img"
    honour_ranges: bool = True
    hold_after: int | None = None  # bytes of a response sent before it waits for `release`
    release: threading.Event = field(default_factory=threading.Event)
    requests: list[dict[str, str]] = field(default_factory=list)
    sent: list[int] = field(default_factory=list)  # bytes of each response's body sent
    tls: tuple[Path, Path] | None = None  # certificate and key: HTTPS (support/tls.py)
    port: int = 0

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}{self.path}"


def _handler(state: ImageServer) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            state.requests.append(dict(self.headers.items()))
            if self.path != state.path:
                self.send_error(404)
                return
            start = 0
            asked = RANGE.match(self.headers.get("Range", ""))
            if asked and state.honour_ranges:
                start = int(asked.group(1))
                if start >= len(state.data):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(state.data)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                end = len(state.data) - 1
                self.send_header("Content-Range", f"bytes {start}-{end}/{len(state.data)}")
            else:
                self.send_response(200)
            body = state.data[start:]
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            sent = 0
            with contextlib.suppress(OSError):
                for offset in range(0, len(body), 65536):
                    if state.hold_after is not None and sent >= state.hold_after:
                        state.release.wait(60)
                    chunk = body[offset : offset + 65536]
                    self.wfile.write(chunk)
                    self.wfile.flush()
                    sent += len(chunk)
            state.sent.append(sent)

    return Handler


@contextlib.contextmanager
def serve_image(state: ImageServer) -> Iterator[ImageServer]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    if state.tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*state.tls)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    state.port = int(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()

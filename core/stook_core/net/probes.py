"""Connectivity probes of a management-network change (kubernetes-nmstate's idea): the default
gateway answers a ping, a DNS server answers a query, the API server accepts a TCP connection,
the VIP answers a ping. Only probes that pass before a change are used to judge it (a probe
that already fails proves nothing about the change: nmstate #1063)."""

from __future__ import annotations

import secrets
import socket
import struct
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Literal

ProbeKind = Literal["gateway", "dns", "apiserver", "vip"]
PING_TIMEOUT = 2.0
CONNECT_TIMEOUT = 2.0


@dataclass(frozen=True)
class Probe:
    kind: ProbeKind
    host: str
    port: int = 0  # apiserver: the TCP port; dns: 53

    @property
    def name(self) -> str:
        """``gateway 10.0.2.2``, ``apiserver 10.0.2.2:6443``: how status and logs name it."""
        return (
            f"{self.kind} {self.host}:{self.port}"
            if self.kind == "apiserver"
            else (f"{self.kind} {self.host}")
        )

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Probe:
        kind, host, port = data.get("kind"), data.get("host"), data.get("port", 0)
        if kind not in ("gateway", "dns", "apiserver", "vip") or not isinstance(host, str):
            raise ValueError(f"not a probe: {data!r}")
        return cls(kind, host, int(port) if isinstance(port, int) else 0)


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return int(~total & 0xFFFF)


def ping(host: str, timeout: float = PING_TIMEOUT) -> bool:
    """One ICMP echo answered within *timeout* (a raw socket: root or CAP_NET_RAW)."""
    ident, payload = secrets.randbits(16), secrets.token_bytes(16)
    header = struct.pack("!BBHHH", 8, 0, 0, ident, 1)
    packet = struct.pack("!BBHHH", 8, 0, _checksum(header + payload), ident, 1) + payload
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP) as sock:
            sock.settimeout(timeout)
            sock.sendto(packet, (host, 0))
            deadline = time.monotonic() + timeout
            while (left := deadline - time.monotonic()) > 0:
                sock.settimeout(left)
                reply, sender = sock.recvfrom(1024)
                if sender[0] != host:
                    continue
                icmp = reply[(reply[0] & 0x0F) * 4 :]  # after the IP header
                if len(icmp) >= 8 and icmp[0] == 0 and struct.unpack("!H", icmp[4:6])[0] == ident:
                    return icmp[8:] == payload
    except OSError:
        return False
    return False


def tcp_connect(host: str, port: int, timeout: float = CONNECT_TIMEOUT) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def dns_query(server: str, timeout: float = CONNECT_TIMEOUT) -> bool:
    """Any answer to a query for the root's NS records: the server is reachable (NXDOMAIN or
    SERVFAIL from a resolver without upstream still proves the path to it)."""
    ident = secrets.randbits(16)
    query = struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0) + b"\x00" + struct.pack("!HH", 2, 1)
    family = socket.AF_INET6 if ":" in server else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.sendto(query, (server, 53))
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                answer, _ = sock.recvfrom(512)
                if len(answer) >= 2 and struct.unpack("!H", answer[:2])[0] == ident:
                    return True
        except OSError:
            return False
    return False


def run_probe(probe: Probe) -> bool:
    if probe.kind == "apiserver":
        return tcp_connect(probe.host, probe.port)
    if probe.kind == "dns":
        return dns_query(probe.host)
    return ping(probe.host)


Runner = Callable[[Probe], bool]
SETTLE_SECONDS = 5.0  # networkd has reconfigured the links (it takes about a second)


def passing(candidates: Iterable[Probe], runner: Runner = run_probe, tries: int = 2) -> list[Probe]:
    """The candidates that pass now (each given *tries* chances): the ones a change is judged by."""
    return [p for p in candidates if any(runner(p) for _ in range(tries))]


def wait_until_all_pass(
    probes: list[Probe],
    timeout: float,
    runner: Runner = run_probe,
    interval: float = 1.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    settle: float = SETTLE_SECONDS,
) -> list[Probe]:
    """After *settle* seconds, poll every *interval* until one round in which every probe
    passes, for up to *timeout* seconds; the probes that failed the last round (empty: all
    passed together). A probe run in the instant after ``networkctl reload`` still sees the
    old network (networkd reconfigures the links after it returns): it must not judge."""
    deadline = clock() + timeout
    sleep(min(settle, timeout))
    while True:
        failed = [p for p in probes if not runner(p)]
        if not failed or clock() >= deadline:
            return failed
        sleep(interval)

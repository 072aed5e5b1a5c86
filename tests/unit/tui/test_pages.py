"""Every page of the installer TUI, driven with the keyboard at 80x24: valid answers go on,
invalid ones show the model's message and keep Next blocked. The engine runs for real, dry."""

from __future__ import annotations

import dataclasses
import http.server
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Button, Checkbox, Input, Select, SelectionList, Static

from stook_installer import remote
from stook_installer.tui.app import InstallerApp, Outcome
from stook_installer.tui.cluster import ServerPage, VipPage
from stook_installer.tui.disks import DisksPage
from stook_installer.tui.fields import DnsPage, HostnamePage, NtpPage, ProxyPage, TokenPage
from stook_installer.tui.final import FinalPage
from stook_installer.tui.login import PasswordPage, SshKeysPage
from stook_installer.tui.network import NetworkPage
from stook_installer.tui.page import Remote
from stook_installer.tui.progress import ProgressPage
from stook_installer.tui.start import ModePage, RolePage
from stook_installer.tui.summary import SummaryPage
from support.join_cluster import full_token
from support.pilot import (
    assert_blocked,
    assert_goes_on,
    choose,
    fill,
    go_next,
    go_to,
    problems,
    status,
    type_text,
)
from support.supervisor import Supervisor as StandIn
from support.tls import self_signed

ED25519 = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl alice@example"
)
NOT_A_KEY = "ssh-rsa nonsense bob"
KEY_MESSAGE = "has a truncated key"

Drive = Callable[[InstallerApp, Callable[[Pilot[Any]], Any]], None]
P = Pilot[Any]


# --- mode and role --------------------------------------------------------------------------------


def test_mode_create_leads_to_disks(make_app: Any, drive: Drive) -> None:
    async def scenario(pilot: P) -> None:
        assert isinstance(pilot.app.screen, ModePage)
        assert not pilot.app.screen.query_one("#back").display  # nothing before the first page
        await assert_goes_on(pilot, DisksPage)

    drive(make_app(), scenario)


def test_mode_join_asks_for_the_role(make_app: Any, drive: Drive) -> None:
    async def scenario(pilot: P) -> None:
        title = pilot.app.screen.query_one("#title", Static)
        assert "step 1 of 12" in str(title.content)  # create: no role, no server page
        await choose(pilot, "#mode", 1)
        assert "step 1 of 13" in str(title.content)  # the title follows the answer at once
        await assert_goes_on(pilot, RolePage)
        await choose(pilot, "#role", 2)  # worker
        assert pilot.app.wizard.get("install.role") == "worker"
        await assert_goes_on(pilot, DisksPage)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(pilot.app.screen, RolePage)

    drive(make_app(), scenario)


def test_mode_create_refuses_a_worker_role(make_app: Any, drive: Drive) -> None:
    async def scenario(pilot: P) -> None:
        await assert_blocked(pilot, 'install.role: "worker" needs mode join')
        await choose(pilot, "#mode", 1)  # join: a worker is fine
        await assert_goes_on(pilot, RolePage)

    drive(make_app(seed={"install": {"mode": "create", "role": "worker"}}), scenario)


# --- disks ----------------------------------------------------------------------------------------


def test_disks_shared_disk_with_a_state_size(make_app: Any, drive: Drive) -> None:
    async def scenario(pilot: P) -> None:
        await go_to(pilot, DisksPage)
        assert pilot.app.screen.query_one("#persistent-size", Input).value == "268Gi"
        await fill(pilot, "#persistent-size", "10Gi")
        await assert_blocked(pilot, 'install.persistent_size: "10Gi" is below the minimum 32Gi')
        await fill(pilot, "#persistent-size", "lots")
        await assert_blocked(pilot, '"lots" is not a size')
        await fill(pilot, "#persistent-size", "")
        await assert_blocked(pilot, "install.persistent_size: is required when the install disk")
        await fill(pilot, "#persistent-size", "100Gi")
        assert pilot.app.wizard.get("install.install_disk") == {"serial": "S6PTNM0T100001A"}
        await assert_goes_on(pilot, NetworkPage)

    drive(make_app("one-disk"), scenario)


def test_disks_separate_data_disk_and_wiping_an_old_install(make_app: Any, drive: Drive) -> None:
    async def scenario(pilot: P) -> None:
        await go_to(pilot, DisksPage)
        screen = pilot.app.screen
        # Install on the 4 TB disk; the 480 GB disk holds an old Stook install: offer to wipe it.
        screen.query_one("#install-disk", Select).focus()
        await pilot.press("enter", "down", "enter")
        await pilot.pause()
        assert pilot.app.wizard.get("install.install_disk") == {"serial": "WJG1A2B3"}
        wipe = screen.query_one("#wipe", SelectionList)
        assert wipe.display
        assert wipe.option_count == 1
        wipe.focus()
        await pilot.press("space")
        await pilot.pause()
        assert pilot.app.wizard.get("install.wipe_disks") == [{"serial": "2013263F1001"}]
        # A separate data disk: no state size then.
        screen.query_one("#data-disk", Select).focus()
        await pilot.press("enter", "down", "enter")
        await pilot.pause()
        assert not screen.query_one("#persistent-row").display
        assert pilot.app.wizard.get("install.persistent_size") is None
        data = pilot.app.wizard.get("install.data_disk")
        assert data == {"serial": "2013263F1001"}
        assert not screen.query_one("#wipe").display  # the data disk is erased anyway
        await assert_goes_on(pilot, NetworkPage)

    drive(make_app("os-and-data"), scenario)


def test_disks_too_small_for_the_layout_blocks_next(make_app: Any, drive: Drive) -> None:
    async def scenario(pilot: P) -> None:
        await go_to(pilot, DisksPage)
        await assert_blocked(pilot, "install.install_disk: /dev/sda has", "need at least")

    drive(make_app("no-usable-disk"), scenario)


# --- management network ---------------------------------------------------------------------------


def test_network_dhcp_on_the_first_linked_nic(make_app: Any, drive: Drive) -> None:
    async def scenario(pilot: P) -> None:
        await go_to(pilot, NetworkPage)
        assert pilot.app.screen.query_one("#nics", SelectionList).selected == ["ens1f0"]
        assert not pilot.app.screen.query_one("#address-row").display
        await assert_goes_on(pilot, HostnamePage)
        net = pilot.app.wizard.get("install.management_interface")
        assert net == {"nics": [{"name": "ens1f0", "mac": "b4:96:91:30:00:10"}], "method": "dhcp"}

    drive(make_app("four-nics"), scenario)


def test_network_rules_show_inline(make_app: Any, drive: Drive) -> None:
    async def scenario(pilot: P) -> None:
        await go_to(pilot, NetworkPage)
        screen = pilot.app.screen
        nics = screen.query_one("#nics", SelectionList)
        nics.focus()
        await pilot.press("space")  # unmark the only marked NIC
        await pilot.pause()
        await assert_blocked(pilot, "install.management_interface.nics: needs at least one NIC")
        await pilot.press("space", "down", "space")  # eno1 and eno2 both: a bond
        await pilot.pause()
        await fill(pilot, "#vlan", "5000")
        await assert_blocked(pilot, "install.management_interface.vlan_id: 5000 is outside 1-4094")
        await fill(pilot, "#vlan", "12")
        await fill(pilot, "#mtu", "100")
        await assert_blocked(pilot, "mtu: 100 is outside 576-9000")
        await fill(pilot, "#mtu", "9000")
        await choose(pilot, "#method", 1)  # static
        assert screen.query_one("#address-row").display
        await assert_blocked(
            pilot,
            "install.management_interface.address: is required for method static",
            "install.management_interface.gateway: is required for method static",
        )
        await fill(pilot, "#address", "192.168.1.10")
        await assert_blocked(pilot, "needs a prefix length, for example 192.168.1.10/24")
        await fill(pilot, "#address", "10.52.0.7/24")
        await fill(pilot, "#gateway", "192.168.1.1")
        await assert_blocked(
            pilot,
            'install.management_interface.gateway: "192.168.1.1" is outside the node\'s subnet',
            'install.management_interface.address: "10.52.0.7/24" has the subnet 10.52.0.0/24, '
            "which overlaps the pod CIDR 10.52.0.0/16",
        )
        await fill(pilot, "#address", "192.168.1.255/24")
        await assert_blocked(pilot, "is the network or broadcast address of its subnet")
        await fill(pilot, "#address", "192.168.1.10/24")
        await assert_goes_on(pilot, HostnamePage)
        net = pilot.app.wizard.get("install.management_interface")
        assert [n["name"] for n in net["nics"]] == ["eno1", "eno2"]
        assert (net["vlan_id"], net["mtu"], net["method"]) == (12, 9000, "static")

    drive(make_app("one-disk"), scenario)


def test_network_warns_about_a_nic_without_link_but_goes_on(make_app: Any, drive: Drive) -> None:
    async def scenario(pilot: P) -> None:
        await go_to(pilot, NetworkPage)
        nics = pilot.app.screen.query_one("#nics", SelectionList)
        nics.focus()
        await pilot.press("space", "down", "down", "down", "space")  # ens1f0 off, eno2 on
        await pilot.pause()
        assert nics.selected == ["eno2"]
        assert "warning: install.management_interface.nics[0]: eno2 has no link" in problems(pilot)
        assert not pilot.app.screen.query_one("#next", Button).disabled
        await go_next(pilot)
        assert isinstance(pilot.app.screen, HostnamePage)

    drive(make_app("four-nics"), scenario)


# --- hostname, DNS, NTP, proxy --------------------------------------------------------------------


def test_hostname(make_app: Any, drive: Drive, seed: Any) -> None:
    async def scenario(pilot: P) -> None:
        assert isinstance(pilot.app.screen, HostnamePage)
        await assert_blocked(pilot, "install.hostname: is required")
        await type_text(pilot, "Node_1")
        await assert_blocked(pilot, 'install.hostname: "Node_1" is not a valid hostname')
        await fill(pilot, "#install-hostname", "node1.example.org")
        await assert_blocked(pilot, "(a single name, not an FQDN)")
        await fill(pilot, "#install-hostname", "node-1")
        await assert_goes_on(pilot, DnsPage)

    drive(make_app(seed=seed(hostname=None), first_page=HostnamePage), scenario)


def test_dns_servers(make_app: Any, drive: Drive, seed: Any) -> None:
    async def scenario(pilot: P) -> None:
        assert isinstance(pilot.app.screen, DnsPage)
        assert pilot.app.screen.query_one(Input).value == "192.168.1.53"
        await fill(pilot, "#install-dns_servers", "")
        await assert_blocked(
            pilot, "install.dns_servers: needs at least one server for method static"
        )
        await fill(pilot, "#install-dns_servers", "192.168.1.53 1.2.3")
        await assert_blocked(pilot, 'install.dns_servers[1]: "1.2.3" is not an IP')
        await fill(pilot, "#install-dns_servers", "192.168.1.53, 2001:db8::53")
        await assert_goes_on(pilot, VipPage)
        assert pilot.app.wizard.get("install.dns_servers") == ["192.168.1.53", "2001:db8::53"]

    drive(make_app(seed=seed(), first_page=DnsPage), scenario)


def test_ntp_servers(make_app: Any, drive: Drive, seed: Any) -> None:
    async def scenario(pilot: P) -> None:
        assert isinstance(pilot.app.screen, NtpPage)
        await assert_goes_on(pilot, ProxyPage)  # optional
        await pilot.press("escape")
        await pilot.pause()
        await fill(pilot, "#install-ntp_servers", "pool.ntp.org bad_host!")
        await assert_blocked(pilot, 'install.ntp_servers[1]: "bad_host!" is not an IP address or')
        await fill(pilot, "#install-ntp_servers", "pool.ntp.org 192.168.1.1")
        await assert_goes_on(pilot, ProxyPage)

    drive(make_app(seed=seed(), first_page=NtpPage), scenario)


def test_proxy(make_app: Any, drive: Drive, seed: Any) -> None:
    async def scenario(pilot: P) -> None:
        assert isinstance(pilot.app.screen, ProxyPage)
        await fill(pilot, "#install-proxy-http_proxy", "ftp://proxy")
        await assert_blocked(pilot, "install.proxy.http_proxy: is not an http:// or https:// proxy")
        await fill(pilot, "#install-proxy-http_proxy", "http://proxy.example:3128")
        await fill(pilot, "#install-proxy-no_proxy", "localhost, 10.0.0.0/8")
        await assert_goes_on(pilot, SshKeysPage)
        assert pilot.app.wizard.get("install.proxy") == {
            "http_proxy": "http://proxy.example:3128",
            "no_proxy": ["localhost", "10.0.0.0/8"],
        }
        await pilot.press("escape")
        await pilot.pause()
        for field in ("#install-proxy-http_proxy", "#install-proxy-no_proxy"):
            await fill(pilot, field, "")
        assert pilot.app.wizard.get("install.proxy") is None  # no empty proxy: {} left behind

    drive(make_app(seed=seed(), first_page=ProxyPage), scenario)


# --- VIP, server URL, token -----------------------------------------------------------------------


def test_vip(make_app: Any, drive: Drive, seed: Any) -> None:
    async def scenario(pilot: P) -> None:
        assert isinstance(pilot.app.screen, VipPage)
        await assert_blocked(pilot, "install.vip.address: is required for a static VIP")
        await fill(pilot, "#vip-address", "192.168.1.10")
        await assert_blocked(
            pilot, 'install.vip.address: "192.168.1.10" is the node\'s own address'
        )
        await fill(pilot, "#vip-address", "10.9.9.9")
        await assert_blocked(pilot, "is outside the node's subnet 192.168.1.0/24")
        await fill(pilot, "#vip-address", "192.168.1.1")
        await assert_blocked(pilot, "is the gateway's address")
        await fill(pilot, "#vip-address", "192.168.1.300")
        await assert_blocked(pilot, 'install.vip.address: "192.168.1.300" is not an IPv4 address')
        await choose(pilot, "#vip-mode", 1)  # DHCP
        await fill(pilot, "#vip-hw-addr", "52:54:00:12:34")
        await assert_blocked(pilot, "is not a MAC address such as 52:54:00:12:34:56")
        await fill(pilot, "#vip-hw-addr", "52:54:00:12:34:56")
        await assert_goes_on(pilot, TokenPage)
        vip = pilot.app.wizard.get("install.vip")
        assert vip == {"mode": "dhcp", "hw_addr": "52:54:00:12:34:56"}

    drive(make_app(seed=seed(vip=None), first_page=VipPage), scenario)


def serve_in_background(server: http.server.ThreadingHTTPServer) -> None:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()


@dataclass
class Cluster:
    """A supervisor stand-in (support/supervisor.py) on 127.0.0.1 with a certificate for that
    address, serving it as the cluster CA, and the real check aimed at it.

    The model fixes the supervisor port to 9345, which a test cannot count on having free, so
    the check is ``remote.check_server`` with the URL's port pointed at this server.
    """

    server: StandIn
    ca: bytes
    checked: list[str] = dataclasses.field(default_factory=list)

    def check(self, url: str, token: str) -> tuple[str, ...]:
        self.checked.append(url)
        port = self.server.url.rsplit(":", 1)[1]
        return remote.check_server(url.replace(":9345", f":{port}"), token, timeout=5)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    cert, key = self_signed(tmp_path, ip="127.0.0.1")
    with StandIn("127.0.0.1", 0, cert.read_bytes(), cert, key) as server:
        yield Cluster(server, cert.read_bytes())


async def check_server_page(pilot: P, url: str) -> None:
    """From the first page to the join server's, *url* in it, Next, its check finished."""
    await choose(pilot, "#mode", 1)
    await go_to(pilot, ServerPage)
    await fill(pilot, "#server-url", url)
    await go_next(pilot)
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def test_a_server_serving_the_tokens_ca_goes_on(
    make_app: Any, drive: Drive, seed: Any, cluster: Cluster
) -> None:
    async def scenario(pilot: P) -> None:
        await check_server_page(pilot, "127.0.0.1")
        assert isinstance(pilot.app.screen, NtpPage), status(pilot)
        assert pilot.app.wizard.get("install.server_url") == "127.0.0.1"
        assert cluster.checked == ["https://127.0.0.1:9345"]
        assert cluster.server.requests == ["/cacerts", "/ping"]

    token = full_token(cluster.ca, "secret-1")
    app = make_app(seed=seed(vip=None, token=token), remote=Remote(check_server=cluster.check))
    drive(app, scenario)


def test_a_server_with_another_ca_than_the_token_names_stays(
    make_app: Any, drive: Drive, seed: Any, cluster: Cluster, tmp_path: Path
) -> None:
    (tmp_path / "other").mkdir()
    other = self_signed(tmp_path / "other")[0].read_bytes()

    async def scenario(pilot: P) -> None:
        await check_server_page(pilot, "127.0.0.1")
        assert isinstance(pilot.app.screen, ServerPage)
        shown = status(pilot)
        assert "The server did not answer as expected" in shown
        assert "is not the one the token names" in shown and "Check install.token" in shown
        assert "secret-1" not in shown
        assert cluster.server.requests == ["/cacerts"]  # not trusted: never pinged

    token = full_token(other, "secret-1")
    app = make_app(seed=seed(vip=None, token=token), remote=Remote(check_server=cluster.check))
    drive(app, scenario)


def test_a_token_without_a_ca_hash_asks_to_trust_the_ca_seen(
    make_app: Any, drive: Drive, seed: Any, cluster: Cluster
) -> None:
    async def scenario(pilot: P) -> None:
        await check_server_page(pilot, "127.0.0.1")
        assert isinstance(pilot.app.screen, ServerPage)
        assert "trusted as first seen" in status(pilot) and "Next again" in status(pilot)
        await go_next(pilot)
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(pilot.app.screen, NtpPage), status(pilot)

    drive(make_app(seed=seed(vip=None), remote=Remote(check_server=cluster.check)), scenario)


def test_server_url_must_answer(make_app: Any, drive: Drive, seed: Any) -> None:
    """An unreachable server: the check's message shows and the page stays."""
    checked: list[str] = []

    def unreachable(url: str, token: str) -> tuple[str, ...]:
        checked.append(url)
        return remote.check_server("https://127.0.0.1:1", token, timeout=2)  # nothing on 1

    async def scenario(pilot: P) -> None:
        await choose(pilot, "#mode", 1)
        await go_to(pilot, ServerPage)
        await assert_blocked(pilot, "install.server_url: is required in mode join")
        await fill(pilot, "#server-url", "http://10.0.0.5")
        await assert_blocked(pilot, 'install.server_url: "http://10.0.0.5" must use https://')
        await fill(pilot, "#server-url", "https://10.0.0.5:443")
        await assert_blocked(pilot, "must use port 9345, the RKE2 supervisor port")
        await fill(pilot, "#server-url", "10.0.0.5")
        await go_next(pilot)
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        assert checked == ["https://10.0.0.5:9345"]
        assert isinstance(pilot.app.screen, ServerPage)
        assert "The server did not answer as expected" in status(pilot)
        assert "Connection refused" in status(pilot)

    drive(make_app(seed=seed(vip=None), remote=Remote(check_server=unreachable)), scenario)


def test_token(make_app: Any, drive: Drive, seed: Any) -> None:
    async def scenario(pilot: P) -> None:
        assert isinstance(pilot.app.screen, TokenPage)
        token = pilot.app.screen.query_one("#install-token", Input)
        assert token.password  # hidden while typed
        await assert_blocked(pilot, "install.token: is required")
        await type_text(pilot, "two words")
        await assert_blocked(pilot, "install.token: must be printable ASCII without spaces")
        assert "two words" not in problems(pilot)  # a secret's value is never shown
        pilot.app.screen.query_one("#generate", Button).focus()
        await pilot.press("enter")
        await pilot.pause()
        assert len(token.value) == 48
        assert not token.password  # generated: shown, so it can be written down
        await assert_goes_on(pilot, NtpPage)

    drive(make_app(seed=seed(token=None), first_page=TokenPage), scenario)


# --- SSH keys and password ------------------------------------------------------------------------


def test_ssh_keys_pasted(make_app: Any, drive: Drive, seed: Any) -> None:
    async def scenario(pilot: P) -> None:
        assert isinstance(pilot.app.screen, SshKeysPage)
        area = pilot.app.screen.query_one("#keys")
        area.focus()
        await type_text(pilot, NOT_A_KEY)
        await assert_blocked(pilot, f"install.ssh_authorized_keys[0]: {KEY_MESSAGE}"[:30])
        assert KEY_MESSAGE in problems(pilot)
        area.load_text(f"# mine\n{ED25519}\n")  # as if cleared and pasted
        await pilot.pause()
        await assert_goes_on(pilot, PasswordPage)
        assert pilot.app.wizard.get("install.ssh_authorized_keys") == [ED25519]

    drive(make_app(seed=seed(), first_page=SshKeysPage), scenario)


@pytest.fixture
def key_server() -> Iterator[str]:
    class Keys(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = f"{ED25519}\n{NOT_A_KEY}\n".encode() if self.path == "/me.keys" else b""
            self.send_response(200 if body else 404)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Keys)
    serve_in_background(server)
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_ssh_keys_fetched_from_a_url(
    make_app: Any, drive: Drive, seed: Any, key_server: str
) -> None:
    async def scenario(pilot: P) -> None:
        assert isinstance(pilot.app.screen, SshKeysPage)
        await fill(pilot, "#keys-url", f"{key_server}/missing.keys")
        await pilot.press("enter")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        assert "No keys fetched" in status(pilot)
        assert "HTTP 404" in status(pilot)
        await fill(pilot, "#keys-url", f"{key_server}/me.keys")
        await pilot.press("enter")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        assert "Added 1 key(s)" in status(pilot)
        assert f"line 2: {KEY_MESSAGE}" in status(pilot)
        assert pilot.app.wizard.get("install.ssh_authorized_keys") == [ED25519]
        await assert_goes_on(pilot, PasswordPage)

    drive(make_app(seed=seed(), first_page=SshKeysPage), scenario)


def test_password(make_app: Any, drive: Drive, seed: Any) -> None:
    async def scenario(pilot: P) -> None:
        assert isinstance(pilot.app.screen, PasswordPage)
        await assert_blocked(
            pilot, "install.password: is required unless install.ssh_authorized_keys has a key"
        )
        await fill(pilot, "#password", "short")
        await fill(pilot, "#confirm", "short")
        await assert_blocked(pilot, "install.password: must have at least 8 characters")
        assert "short" not in problems(pilot)
        await fill(pilot, "#password", "long enough")
        await fill(pilot, "#confirm", "long enougH")
        await assert_blocked(pilot, "The two passwords differ")
        await fill(pilot, "#confirm", "long enough")
        await assert_goes_on(pilot, SummaryPage)

    drive(make_app(seed=seed(password=None), first_page=PasswordPage), scenario)


def test_password_optional_with_an_ssh_key(make_app: Any, drive: Drive, seed: Any) -> None:
    async def scenario(pilot: P) -> None:
        assert isinstance(pilot.app.screen, PasswordPage)
        await assert_goes_on(pilot, SummaryPage)

    drive(
        make_app(seed=seed(password=None, ssh_authorized_keys=[ED25519]), first_page=PasswordPage),
        scenario,
    )


# --- summary, progress, final ---------------------------------------------------------------------


def test_summary_shows_masked_yaml_and_erased_disks(make_app: Any, drive: Drive, seed: Any) -> None:
    async def scenario(pilot: P) -> None:
        assert isinstance(pilot.app.screen, SummaryPage)
        screen = pilot.app.screen
        yaml = str(screen.query_one("#yaml", Static).content)
        assert "token: <redacted>" in yaml
        assert "password: <redacted>" in yaml
        assert "s3cr3t-token" not in yaml
        assert "correct-horse" not in yaml
        erase = str(screen.query_one("#erase", Static).content)
        assert "These disks will be erased; everything on them is lost:" in erase
        assert "/dev/sda 894 GiB (960 GB)" in erase
        # Install stays blocked until the explicit confirmation is ticked.
        assert screen.query_one("#next", Button).disabled
        await go_next(pilot)
        assert pilot.app.screen is screen
        screen.query_one("#confirm", Checkbox).focus()
        await pilot.press("space")
        await pilot.pause()
        assert not screen.query_one("#next", Button).disabled

    drive(make_app(seed=seed(), first_page=SummaryPage), scenario)


def test_summary_reports_problems_no_page_asks_about(
    make_app: Any, drive: Drive, seed: Any
) -> None:
    bad = seed(cluster={"dns": "10.99.0.10"})

    async def scenario(pilot: P) -> None:
        assert isinstance(pilot.app.screen, SummaryPage)
        await assert_blocked(
            pilot, 'install.cluster.dns: "10.99.0.10" is outside the service CIDR 10.53.0.0/16'
        )
        assert not pilot.app.screen.query_one("#confirm").display

    drive(make_app(seed=bad, first_page=SummaryPage), scenario)


def test_install_runs_the_engine_dry_and_ends_on_the_final_page(
    make_app: Any, drive: Drive, seed: Any
) -> None:
    async def scenario(pilot: P) -> None:
        await go_to(pilot, SummaryPage)
        pilot.app.screen.query_one("#confirm", Checkbox).focus()
        await pilot.press("space")
        await go_next(pilot)
        assert isinstance(pilot.app.screen, ProgressPage)
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        progress = pilot.app.screen
        assert isinstance(progress, ProgressPage)
        assert progress.done
        assert progress.failure is None, progress.failure
        assert "Dry run finished" in status(pilot)
        assert progress.rows  # one row (name, bar, state) per engine step
        for row in progress.rows.values():
            assert str(row.query_one(".step-state", Static).content) == "done"
        await go_next(pilot)
        assert isinstance(pilot.app.screen, FinalPage)
        await choose(pilot, "#after", 1)  # power off
        await go_next(pilot)

    app = make_app(seed=seed())
    drive(app, scenario)
    assert app.return_value == Outcome("poweroff", installed=True)


def test_quit_is_refused_while_installing(make_app: Any, seed: Any) -> None:
    app = make_app(seed=seed())
    app.installing = True
    assert app.check_action("quit", ()) is False
    app.installing = False
    assert app.check_action("quit", ()) is True


def test_whole_flow_with_the_keyboard_only(make_app: Any, drive: Drive) -> None:
    """No seed, no widget poked from code: keys only, from the first page to the final one."""

    async def scenario(pilot: P) -> None:
        async def keys(*pressed: str) -> None:
            await pilot.press(*pressed)
            await pilot.pause()
            await pilot.app.workers.wait_for_complete()
            await pilot.pause()

        await keys("ctrl+n")  # mode: create
        assert isinstance(pilot.app.screen, DisksPage)
        await keys("ctrl+n")  # the first disk, shared, default state size
        assert isinstance(pilot.app.screen, NetworkPage)
        await keys("ctrl+n")  # eno1 by DHCP
        assert isinstance(pilot.app.screen, HostnamePage)
        await keys(*"node1", "enter")  # Enter in the last field means Next
        assert isinstance(pilot.app.screen, DnsPage)
        await keys("enter")
        assert isinstance(pilot.app.screen, VipPage)
        await keys("tab", *"192.168.1.5", "enter")
        assert isinstance(pilot.app.screen, TokenPage)
        await keys("tab", "tab", "enter", "ctrl+n")  # Generate
        assert isinstance(pilot.app.screen, NtpPage)
        await keys("enter")
        assert isinstance(pilot.app.screen, ProxyPage)
        await keys("ctrl+n")
        assert isinstance(pilot.app.screen, SshKeysPage)
        await keys("ctrl+n")
        assert isinstance(pilot.app.screen, PasswordPage)
        await keys(*"password1", "enter", *"password1", "enter")
        assert isinstance(pilot.app.screen, SummaryPage), problems(pilot)
        await keys("tab", "space", "ctrl+n")  # tick the confirmation, Install
        assert isinstance(pilot.app.screen, ProgressPage)
        await keys("enter")  # Continue (focused when the dry run is done)
        assert isinstance(pilot.app.screen, FinalPage)
        await keys("ctrl+n")  # the config's after_install: reboot

    app = make_app("os-and-data")
    drive(app, scenario)
    assert app.return_value == Outcome("reboot", installed=True)
    config, problems_left = app.wizard.validate()
    assert problems_left == []
    assert config is not None
    assert config.install.vip is not None
    assert str(config.install.vip.address) == "192.168.1.5"

"""Config sources: kernel command line, file, URL with retries, and their merge order."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from stook_core.config.sources import Fetcher, Sources, deep_merge, parse_cmdline
from stook_core.problems import ConfigError
from support.configs import TOKEN, create_document


def test_cmdline_keys_nest_repeat_into_lists_and_ignore_other_words() -> None:
    parsed = parse_cmdline(
        "BOOT_IMAGE=/vmlinuz quiet stook.install.automatic "
        "stook.install.management_interface.nics=eno1 stook.install.management_interface.nics=eno2 "
        "'stook.install.ssh_authorized_keys=ssh-ed25519 AAAA a@b' stookfoo=1"
    )
    assert parsed == {
        "install": {
            "automatic": "true",
            "management_interface": {"nics": ["eno1", "eno2"]},
            "ssh_authorized_keys": "ssh-ed25519 AAAA a@b",
        }
    }


def test_cmdline_key_conflicting_with_shorter_key_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"stook\.install\.vip\.address: conflicts"):
        parse_cmdline("stook.install.vip=dhcp stook.install.vip.address=10.0.0.1")


def test_deep_merge_merges_mappings_and_replaces_lists() -> None:
    base = {"a": {"b": 1, "c": [1, 2]}, "d": 1}
    assert deep_merge(base, {"a": {"c": [3]}, "e": 2}) == {"a": {"b": 1, "c": [3]}, "d": 1, "e": 2}
    assert base == {"a": {"b": 1, "c": [1, 2]}, "d": 1}


def test_a_config_from_the_kernel_command_line_alone() -> None:
    key = create_document()["install"]["ssh_authorized_keys"][0]
    cmdline = (
        "stook.install.mode=join stook.install.hostname=node7 stook.install.token=abc123XYZ "
        "stook.install.server_url=10.0.0.5 stook.install.install_disk=/dev/vda "
        "stook.install.persistent_size=64Gi stook.install.management_interface.nics=ens3 "
        f"'stook.install.ssh_authorized_keys={key}' "
        "stook.install.automatic=true stook.install.dns_servers=1.1.1.1,9.9.9.9"
    )
    config = Sources(cmdline=cmdline).load()
    spec = config.install
    assert (spec.mode, spec.hostname, spec.automatic) == ("join", "node7", True)
    assert spec.server_url == "https://10.0.0.5:9345"
    assert [str(d) for d in spec.dns_servers] == ["1.1.1.1", "9.9.9.9"]
    assert spec.install_disk.path == "/dev/vda"


def _write(tmp_path: Path, name: str, document: dict[str, object]) -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(document))
    return path


def test_merge_order_is_file_then_url_then_cmdline(tmp_path: Path) -> None:
    file_doc = create_document()
    file_doc["install"]["hostname"] = "from-file"
    url_doc = {"apiVersion": "stook.io/v1beta1", "kind": "InstallConfig"}
    url_doc["install"] = {"hostname": "from-url", "ntp_servers": ["ntp.url"]}
    served: list[str] = []

    def fetch(url: str) -> str:
        served.append(url)
        return yaml.safe_dump(url_doc)

    sources = Sources(
        file=_write(tmp_path, "c.yaml", file_doc),
        cmdline="stook.install.config_url=http://cfg/x stook.install.hostname=from-cmdline",
        fetch=fetch,
    )
    config = sources.load()
    assert served == ["http://cfg/x"]
    assert config.install.hostname == "from-cmdline"
    assert config.install.ntp_servers == ["ntp.url"]
    assert config.install.management_interface.vlan_id == 10  # from the file, untouched


def test_a_file_must_name_its_version(tmp_path: Path) -> None:
    document = create_document()
    del document["apiVersion"]
    with pytest.raises(ConfigError, match="apiVersion: and kind are required"):
        Sources(file=_write(tmp_path, "c.yaml", document)).load()


def test_yaml_errors_say_where(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("apiVersion: x\ninstall: [unclosed\n")
    with pytest.raises(ConfigError, match=r"is not valid YAML at line \d+"):
        Sources(file=path).load()


def test_unreadable_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot be read"):
        Sources(file=tmp_path / "missing.yaml").load()


class _FlakyHandler(http.server.BaseHTTPRequestHandler):
    failures_left = 0
    status = 503
    body = b""

    def do_GET(self) -> None:
        cls = type(self)
        if cls.failures_left > 0:
            cls.failures_left -= 1
            self.send_error(cls.status)
            return
        self.send_response(200)
        self.end_headers()
        self.wfile.write(cls.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def flaky_server() -> Iterator[tuple[str, type[_FlakyHandler]]]:
    handler = type("Handler", (_FlakyHandler,), {})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/config.yaml", handler
    server.shutdown()
    server.server_close()


def test_url_fetch_retries_with_growing_delays(
    flaky_server: tuple[str, type[_FlakyHandler]],
) -> None:
    url, handler = flaky_server
    handler.failures_left, handler.body = 3, yaml.safe_dump(create_document()).encode()
    delays: list[float] = []
    fetch = Fetcher(attempts=5, first_delay=1.0, max_delay=3.0, sleep=delays.append, timeout=5)
    config = Sources(config_url=url, fetch=fetch).load()
    assert config.install.hostname == "node1"
    assert delays == [1.0, 2.0, 3.0]


def test_url_fetch_gives_up_with_the_last_error(
    flaky_server: tuple[str, type[_FlakyHandler]],
) -> None:
    url, handler = flaky_server
    handler.failures_left = 99
    fetch = Fetcher(attempts=3, sleep=lambda _: None, timeout=5)
    with pytest.raises(ConfigError, match="could not be fetched after 3 attempt"):
        fetch(url)


def test_url_fetch_does_not_retry_a_missing_document(
    flaky_server: tuple[str, type[_FlakyHandler]],
) -> None:
    url, handler = flaky_server
    handler.failures_left, handler.status = 99, 404
    fetch = Fetcher(attempts=5, sleep=lambda _: None, timeout=5)
    with pytest.raises(ConfigError, match="after 1 attempt"):
        fetch(url)


def test_token_given_on_the_cmdline_never_shows_in_errors() -> None:
    with pytest.raises(ConfigError) as caught:
        Sources(cmdline=f"stook.install.token={TOKEN} stook.install.mode=bogus").load()
    assert TOKEN not in str(caught.value)

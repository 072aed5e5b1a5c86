"""Config sources: kernel command line, file, URL with retries, and their merge order."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from stook_core.config import load_document
from stook_core.config.fetch import scrub
from stook_core.config.sources import Location, Sources, deep_merge, parse_cmdline
from stook_core.crypt import verify
from stook_core.kernel_cmdline import split
from stook_core.problems import ConfigError
from support.configs import TOKEN, create_document


def test_cmdline_keys_nest_repeat_into_lists_and_ignore_other_words() -> None:
    parsed = parse_cmdline(
        "BOOT_IMAGE=/vmlinuz quiet stook.install.automatic "
        "stook.install.management_interface.nics=eno1 stook.install.management_interface.nics=eno2 "
        '"stook.install.ssh_authorized_keys=ssh-ed25519 AAAA a@b" stookfoo=1'
    )
    assert parsed == {
        "install": {
            "automatic": "true",
            "management_interface": {"nics": ["eno1", "eno2"]},
            "ssh_authorized_keys": "ssh-ed25519 AAAA a@b",
        }
    }


def test_cmdline_key_conflicting_with_shorter_key_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"stook\.install\.vip\.address: conflicts with"):
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
        f'stook.install.ssh_authorized_keys="{key}" '
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
    served: list[Location] = []

    def fetch(location: Location) -> bytes:
        served.append(location)
        return yaml.safe_dump(url_doc).encode()

    sources = Sources(
        file=_write(tmp_path, "c.yaml", file_doc),
        cmdline="stook.install.config_url=http://cfg/x stook.install.hostname=from-cmdline",
        fetch=fetch,
    )
    config = sources.load()
    assert served == [Location("http://cfg/x")]
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


def test_token_given_on_the_cmdline_never_shows_in_errors() -> None:
    with pytest.raises(ConfigError) as caught:
        Sources(cmdline=f"stook.install.token={TOKEN} stook.install.mode=bogus").load()
    assert TOKEN not in str(caught.value)


# --- the kernel's own quoting rules ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("cmdline", "words"),
    [
        ('a b="x y" "c=d e" f', ["a", "b=x y", "c=d e", "f"]),
        ("f='g h'", ["f='g", "h'"]),  # a single quote is an ordinary character
        ("p=a\\b\\ c", ["p=a\\b\\", "c"]),  # so is a backslash
        ('q=a"b c"d', ['q=a"b c"d']),  # quotes inside a value group but stay
        ("  tab\there\nnl  ", ["tab", "here", "nl"]),
        ('k="unterminated and on', ["k=unterminated and on"]),
        ("=x=y", ["=x=y"]),
    ],
)
def test_words_split_and_unquote_as_the_kernel_does(cmdline: str, words: list[str]) -> None:
    assert [str(arg) for arg in split(cmdline)] == words


def test_a_lone_double_quote_groups_the_rest_of_the_line_as_the_kernel_does() -> None:
    assert parse_cmdline('quiet x="y stook.install.hostname=n1') == {}


def test_a_backslash_and_a_quote_in_a_password_are_kept_as_typed() -> None:
    password = "pa\\ss'w\\\\rd"
    document = create_document()
    del document["install"]["password"]
    parsed = parse_cmdline(f"quiet stook.install.password={password} it's\\ fine")
    assert parsed == {"install": {"password": password}}
    config = load_document(deep_merge(document, parsed))
    assert config.install.password is not None
    assert verify(password, config.install.password.get_secret_value())


@pytest.mark.parametrize(
    "noise",
    [
        "it's", "'", "\\", "a\\", "x='y", "\xff\xfe", "stookfoo=1", "stook", "=", '""',
        "initrd=\\EFI\\x.img", "stook.slot=B", "stook.state=UUID=1", "stook.boot=exhausted",
    ],
)  # fmt: skip
def test_words_without_an_install_key_never_matter(noise: str) -> None:
    line = f"BOOT_IMAGE=/vmlinuz {noise} stook.install.hostname=n1"
    assert parse_cmdline(line.encode("utf-8", "surrogateescape")) == {"install": {"hostname": "n1"}}


@pytest.mark.parametrize(
    ("cmdline", "expected"),
    [
        ("stook.install", "stook.install: names no field"),
        ("stook.install=x", "stook.install: names no field"),
        ("stook.", "stook.: is not an install key"),
        ("stook.=1", "stook.: is not an install key"),
        ("stook.instal.hostname=a", "stook.instal.hostname: is not an install key"),
        ("stook.install..hostname=a", "stook.install..hostname: has an empty part"),
        ("stook.install.hostname.=a", "stook.install.hostname.: has an empty part"),
        (
            "stook.install.config_url=http://a/ stook.install.config_url=http://b/",
            "stook.install.config_url: is given 2 times; give it once",
        ),
        ("stook.install.hostname=a stook.install.hostname=b", "stook.install.hostname: is given 2"),
        (
            "stook.install.management_interface stook.install.management_interface.nics=e",
            "stook.install.management_interface.nics: conflicts with "
            "stook.install.management_interface",
        ),
    ],
)
def test_a_bad_install_key_names_its_word(cmdline: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_cmdline(f"quiet {cmdline} splash")
    assert caught.value.source == "kernel command line"
    assert any(str(p).startswith(expected) for p in caught.value.problems), caught.value.report()


def test_every_bad_word_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_cmdline("stook.install stook. stook.install..x=1")
    assert len(caught.value.problems) == 3


def test_a_list_field_may_repeat_and_a_secret_never_shows() -> None:
    parsed = parse_cmdline("stook.install.wipe_disks=/dev/sdb stook.install.wipe_disks=/dev/sdc")
    assert parsed == {"install": {"wipe_disks": ["/dev/sdb", "/dev/sdc"]}}
    with pytest.raises(ConfigError) as caught:
        parse_cmdline(f"stook.install.token={TOKEN} stook.install.token={TOKEN}x")
    assert TOKEN not in caught.value.report()


def test_a_value_that_is_not_utf8_is_named_not_shown() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_cmdline(b"stook.install.hostname=\xff\xfe")
    assert [str(p) for p in caught.value.problems] == [
        "stook.install.hostname: has a value that is not UTF-8 text"
    ]
    with pytest.raises(ConfigError) as caught:
        parse_cmdline(b"stook.install.host\xffname=a")
    assert [str(p) for p in caught.value.problems] == [
        "stook.install.host\ufffdname: is not UTF-8 text"
    ]
    caught.value.report().encode()  # printable: no lone surrogates


def test_config_url_from_the_flag_and_the_kernel_together() -> None:
    """--config-url wins; the kernel's key never reaches the document (it is not a field)."""
    seen: list[Location] = []

    def fetch(location: Location) -> bytes:
        seen.append(location)
        return yaml.safe_dump(create_document()).encode()

    kernel = (
        "stook.install.config_url=http://kernel/c.yaml stook.install.config_sha256=" + "a" * 64
        + " stook.install.config_ca=/etc/ssl/site.pem stook.install.hostname=from-kernel"
    )  # fmt: skip
    sources = Sources(config_url="http://flag/c.yaml", cmdline=kernel, fetch=fetch)
    assert sources.load().install.hostname == "from-kernel"
    assert seen == [Location("http://flag/c.yaml", None, Path("/etc/ssl/site.pem"))]
    seen.clear()
    Sources(config_url="http://kernel/c.yaml", cmdline=kernel, fetch=fetch).load()
    assert seen == [Location("http://kernel/c.yaml", "a" * 64, Path("/etc/ssl/site.pem"))]
    seen.clear()
    Sources(cmdline=kernel, fetch=fetch).load()
    assert seen[0].url == "http://kernel/c.yaml"


def test_a_pin_without_a_url_is_a_problem() -> None:
    with pytest.raises(ConfigError, match=r"install\.config_sha256: needs a config_url"):
        Sources(cmdline="stook.install.config_sha256=" + "a" * 64).load()


def test_no_repr_shows_a_secret_of_the_sources() -> None:
    cmdline = f"stook.install.token={TOKEN} stook.install.password=hunter2hunter2"
    url = "http://ops:pa55w0rd@cfg.lan/c.yaml?token=t0ken"
    shown = [
        repr(Sources(cmdline=cmdline, config_url=url)),
        repr(split(cmdline)),
        repr(Location(url)),
    ]
    for text in shown:
        assert TOKEN not in text and "hunter2" not in text
        assert "pa55w0rd" not in text and "t0ken" not in text


def test_error_texts_are_scrubbed_of_credentials_and_queries() -> None:
    text = "ValueError: proxy http://u:pw@proxy:3128/ refused https://h/c?token=t0k"
    assert scrub(text) == (
        "ValueError: proxy http://<redacted>@proxy:3128/ refused https://h/c?<redacted>"
    )

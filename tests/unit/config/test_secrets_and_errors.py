"""All problems at once, field paths in every message, and secrets kept out of every output."""

from __future__ import annotations

import logging

import pytest

from stook_core.config import dump_yaml, load_document, validate_document
from stook_core.crypt import is_sha512_crypt, verify
from stook_core.problems import ConfigError
from support.configs import PASSWORD, TOKEN, create_document


def test_three_mistakes_are_reported_together_with_field_paths() -> None:
    document = create_document()
    document["install"]["hostname"] = "Bad_Host"
    document["install"]["management_interface"]["vlan_id"] = 5000
    document["install"]["management_interface"]["gateway"] = "10.9.9.1"
    with pytest.raises(ConfigError) as caught:
        load_document(document, "site.yaml")
    text = str(caught.value)
    assert text.startswith("site.yaml: 3 problem(s)")
    assert "install.management_interface.vlan_id: 5000 is outside 1-4094" in text
    assert 'install.hostname: "Bad_Host" is not a valid hostname' in text
    assert 'install.management_interface.gateway: "10.9.9.1" is outside the node\'s subnet' in text


def test_cross_field_problems_are_not_hidden_by_a_field_problem() -> None:
    document = create_document()
    document["install"]["hostname"] = 42  # a type problem in one field ...
    document["install"]["mode"] = "create"
    document["install"]["server_url"] = "10.0.0.1"  # ... and a cross-field problem elsewhere
    _, problems = validate_document(document)
    assert {p.path for p in problems} == {"install.hostname", "install.server_url"}


def test_a_rule_reading_a_broken_field_stays_silent() -> None:
    document = create_document()
    document["install"]["management_interface"]["address"] = "nonsense/24"
    _, problems = validate_document(document)
    # vip-placement and gateway-in-subnet read the address: no guesses from them
    assert [p.path for p in problems] == ["install.management_interface.address"]


def test_unknown_field_suggests_the_closest_name() -> None:
    document = create_document()
    document["install"]["management_interface"]["vlanid"] = 3
    _, problems = validate_document(document)
    assert [str(p) for p in problems] == [
        "install.management_interface.vlanid: is not a known field; did you mean vlan_id?"
    ]


def test_plain_password_is_stored_as_sha512_crypt() -> None:
    config = load_document(create_document())
    assert config.install.password is not None
    stored = config.install.password.get_secret_value()
    assert is_sha512_crypt(stored)
    assert verify(PASSWORD, stored)


def test_secrets_stay_out_of_repr_str_dump_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    config = load_document(create_document())
    stored_hash = config.install.password.get_secret_value()  # type: ignore[union-attr]
    logging.getLogger("test").info("config %s %r %s", config, config, config.install)
    outputs = [repr(config), str(config), repr(config.install), dump_yaml(config), caplog.text]
    for text in outputs:
        assert TOKEN not in text
        assert stored_hash not in text
        assert PASSWORD not in text
    assert TOKEN in dump_yaml(config, reveal_secrets=True)


def test_invalid_secrets_are_not_echoed_in_problems() -> None:
    document = create_document()
    document["install"]["token"] = "secret with spaces"
    document["install"]["password"] = "short!"
    with pytest.raises(ConfigError) as caught:
        load_document(document)
    text = str(caught.value)
    assert "secret with spaces" not in text and "short!" not in text
    assert "install.token: must be printable ASCII" in text


def test_proxy_password_is_redacted_in_dumps() -> None:
    document = create_document()
    document["install"]["proxy"] = {"https_proxy": "http://alice:s3cr3t@proxy.lan:3128"}
    config = load_document(document)
    assert "s3cr3t" not in dump_yaml(config)
    assert "http://alice:<redacted>@proxy.lan:3128" in dump_yaml(config)
    assert "s3cr3t" in dump_yaml(config, reveal_secrets=True)


def test_a_redacted_dump_cannot_be_replayed_by_accident() -> None:
    import yaml

    redacted = yaml.safe_load(dump_yaml(load_document(create_document())))
    _, problems = validate_document(redacted)
    assert {p.path for p in problems} == {"install.token", "install.password"}
    assert all("redaction placeholder" in p.message for p in problems)


@pytest.mark.parametrize(
    "url",
    [
        "http://alice:s3cr3t@proxy lan:3128",
        "ftp://alice:s3cr3t@proxy.lan:21",
        "http://alice:s3cr3t@[::1:3128",
        "http://alice:s3cr3t@proxy.lan:99999",
        "http://alice:s3cr3t@proxy.lan:port",
        "alice:s3cr3t@proxy.lan:3128",
        "http://alice:s3cr3t@",
    ],
)
@pytest.mark.parametrize("field", ["http_proxy", "https_proxy"])
def test_a_broken_proxy_url_never_shows_its_password(url: str, field: str) -> None:
    document = create_document()
    document["install"]["proxy"] = {field: url}
    config, problems = validate_document(document)
    assert config is None
    assert [p.path for p in problems] == [f"install.proxy.{field}"]
    assert all("s3cr3t" not in str(p) and p.value is None for p in problems)


def test_a_proxy_given_as_a_list_or_number_never_shows_its_value() -> None:
    document = create_document()
    document["install"]["proxy"] = {"http_proxy": ["http://a:s3cr3t@p"], "https_proxy": 7}
    _, problems = validate_document(document)
    assert {p.path for p in problems} == {"install.proxy.http_proxy", "install.proxy.https_proxy"}
    assert all("s3cr3t" not in str(p) and p.value is None for p in problems)

"""The upgrade kinds: defaults, the rules people hit first, and the columns kubectl shows."""

from __future__ import annotations

import pytest

from stook_agent.api import NodeUpgrade, OSVersion, Upgrade
from stook_agent.api.crd import custom_resource_definition
from stook_agent.api.meta import InvalidObjectError

SHA = "ab" * 32


def os_version(**spec: object) -> dict[str, object]:
    return {
        "metadata": {"name": "v2"},
        "spec": {"version": "2.0", "imageURL": "https://images.example/v2.img", "sha256": SHA,
                 "size": 1 << 30} | spec,
    }  # fmt: skip


def test_an_upgrade_has_safe_defaults() -> None:
    upgrade = Upgrade.parse({"metadata": {"name": "u"}, "spec": {"version": "v2"}})
    spec = upgrade.spec
    assert spec.max_unavailable == 1 and not spec.paused and not spec.abort
    assert spec.drain.force is False and spec.drain.timeout_seconds == 600
    assert spec.timeouts.download_seconds == 3600 and spec.timeouts.reboot_seconds == 900
    assert spec.uncordon_on_failure is False
    assert upgrade.status.phase == "Pending"


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("imageURL", "https://user:secret@images.example/v2.img", "spec.imageURL"),
        ("imageURL", "ftp://images.example/v2.img", "spec.imageURL"),
        ("sha256", "AB" * 32, "spec.sha256"),
        ("size", 0, "spec.size"),
        ("version", "2.0 beta", "spec.version"),
    ],
)
def test_a_bad_os_version_names_the_field(field: str, value: object, words: str) -> None:
    with pytest.raises(InvalidObjectError) as error:
        OSVersion.parse(os_version(**{field: value}))
    assert words in str(error.value)
    assert "secret" not in str(error.value)


def test_the_columns_people_read() -> None:
    def columns(model: type[Upgrade] | type[NodeUpgrade]) -> dict[str, str]:
        version = custom_resource_definition(model)["spec"]["versions"][0]
        return {c["name"]: c["jsonPath"] for c in version["additionalPrinterColumns"]}

    upgrade = columns(Upgrade)
    assert upgrade["Phase"] == ".status.phase" and upgrade["Node"] == ".status.current"
    assert upgrade["Progress"] == ".status.progress" and upgrade["Version"] == ".spec.version"
    node = columns(NodeUpgrade)
    assert node["Phase"] == ".status.phase" and node["Downloaded"] == ".status.bytesDownloaded"

"""YAML is read strictly: duplicate keys, booleans for numbers, hostile nesting and bytes."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from stook_core.config import validate_document
from stook_core.config.model import PASSWORD_MAX_LENGTH
from stook_core.config.sources import Sources
from stook_core.problems import ConfigError
from support.configs import create_document

HEAD = "apiVersion: stook.io/v1beta1\nkind: InstallConfig\n"


def problems_of(tmp_path: Path, data: bytes | str) -> list[str]:
    path = tmp_path / "c.yaml"
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    with pytest.raises(ConfigError) as caught:
        Sources(file=path).load()
    assert caught.value.source == str(path)
    return [str(problem) for problem in caught.value.problems]


def test_a_duplicate_key_names_the_field_and_both_lines(tmp_path: Path) -> None:
    text = HEAD + "install:\n  hostname: a\n  mode: create\n  hostname: b\n"
    assert problems_of(tmp_path, text) == [
        "install.hostname: is given twice (lines 4 and 6); remove one "
        "(YAML would silently keep the last)"
    ]


def test_a_duplicate_key_deep_in_a_list_is_found(tmp_path: Path) -> None:
    text = HEAD + "install:\n  wipe_disks:\n  - {path: /dev/sdb, path: /dev/sdc}\n"
    (problem,) = problems_of(tmp_path, text)
    assert problem.startswith("install.wipe_disks[0].path: is given twice (lines 5 and 5)")


def test_a_duplicate_top_level_key_is_found(tmp_path: Path) -> None:
    (problem,) = problems_of(tmp_path, HEAD + "kind: InstallConfig\n")
    assert problem.startswith("kind: is given twice (lines 2 and 3)")


def test_yaml_merge_keys_still_override_without_complaint(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, HEAD + "install: {<<: {mode: join, role: x}, mode: create}\n")
    assert not any("given twice" in p for p in problems)
    assert any(p.startswith('install.role: "x"') for p in problems)
    assert not any(p.startswith("install.mode") for p in problems)


@pytest.mark.parametrize("field", ["vlan_id", "mtu", "bond.miimon"])
@pytest.mark.parametrize("word", ["yes", "no", "on", "true", "false"])
def test_a_yaml_boolean_is_never_a_number(field: str, word: str) -> None:
    document = create_document()
    target = document["install"]["management_interface"]
    *parents, leaf = field.split(".")
    for part in parents:
        target = target[part]
    target[leaf] = yaml.safe_load(f"v: {word}")["v"]
    _, problems = validate_document(document)
    shown = "true" if word in ("yes", "on", "true") else "false"
    assert f"install.management_interface.{field}: {shown} is true/false, not a whole number" in [
        str(p) for p in problems
    ]


def test_a_boolean_is_not_a_size() -> None:
    document = create_document()
    document["install"]["persistent_size"] = True
    _, problems = validate_document(document)
    assert "install.persistent_size: true is true/false, not a size" in [str(p) for p in problems]


def test_numbers_as_text_still_work_for_kernel_arguments() -> None:
    document = create_document()
    document["install"]["management_interface"] |= {"vlan_id": "100", "mtu": "9000"}
    config, problems = validate_document(document)
    assert problems == [] and config is not None
    assert config.install.management_interface.vlan_id == 100


@pytest.mark.parametrize(
    "text",
    [
        "[" * 5000 + "]" * 5000,
        "a: " + "{b: " * 2000 + "1" + "}" * 2000,
        "- " * 3000 + "x",
    ],
)
def test_pathological_nesting_is_a_problem(tmp_path: Path, text: str) -> None:
    (problem,) = problems_of(tmp_path, text)
    assert problem.startswith("(document): nests deeper than 32 levels")


def test_a_billion_laughs_is_refused_quickly(tmp_path: Path) -> None:
    lines = ['a0: &a0 ["lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    (problem,) = problems_of(tmp_path, HEAD + "\n".join(lines) + "\n")
    assert problem == "(document): expands to more than 100000 values (YAML aliases?)"


def test_a_recursive_alias_is_refused(tmp_path: Path) -> None:
    (problem,) = problems_of(tmp_path, HEAD + "install: &x {mode: create, x: *x}\n")
    assert "nests deeper than 32 levels" in problem


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (HEAD.encode() + b"install: {hostname: \xff\xfe}\n", "is not UTF-8 text (line 3, byte 69)"),
        (b"- a\n- b\n", "(document): is not a mapping of fields"),
        (b"just text\n", "(document): is not a mapping of fields"),
        (b"", "(document): is not a mapping of fields"),
        (b"a: !!python/object:os.system x\n", "(document): is not valid YAML at line 1"),
        (b"a: \x07\n", "(document): is not valid YAML (a character YAML does not allow"),
        (HEAD.encode() + b"install: {vlan: " + b"9" * 5000 + b"}\n", "cannot read"),
        (b"x: 1\n" * 300_000, "bytes, more than the 1048576 allowed"),
    ],
)
def test_hostile_bytes_are_problems_not_tracebacks(
    tmp_path: Path, data: bytes, expected: str
) -> None:
    (problem,) = problems_of(tmp_path, data)
    assert expected in problem


def test_a_byte_order_mark_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + yaml.safe_dump(create_document()).encode())
    assert Sources(file=path).load().install.hostname == "node1"


def test_a_password_longer_than_the_cap_is_refused_before_hashing() -> None:
    document = create_document()
    document["install"]["password"] = "p" * (PASSWORD_MAX_LENGTH + 1)
    _, problems = validate_document(document)
    assert [str(p) for p in problems] == [
        f"install.password: must have at most {PASSWORD_MAX_LENGTH} characters "
        f"(it has {PASSWORD_MAX_LENGTH + 1})"
    ]
    document["install"]["password"] = "p" * PASSWORD_MAX_LENGTH
    assert validate_document(document)[1] == []


def test_a_long_value_is_cut_in_the_report() -> None:
    document = create_document()
    document["install"]["hostname"] = "x" * 100_000
    _, problems = validate_document(document)
    (problem,) = problems
    assert problem.value is not None and len(problem.value) < 100
    assert "(100002 characters)" in problem.value


@pytest.mark.parametrize(
    "path",
    [
        "cluster.dns", "cluster.pod_cidr", "cluster.service_cidr", "vip.address",
        "management_interface.gateway", "management_interface.address", "dns_servers",
    ],
)  # fmt: skip
@pytest.mark.parametrize(("value", "shown"), [(True, "true/false"), (167772161, "a number")])
def test_a_yaml_boolean_or_number_is_never_an_address(path: str, value: object, shown: str) -> None:
    document = create_document()
    *parents, leaf = path.split(".")
    target = document["install"]
    for part in parents:
        target = target.setdefault(part, {})
    target[leaf] = [value] if leaf == "dns_servers" else value
    _, problems = validate_document(document)
    where = f"install.{path}" + ("[0]" if leaf == "dns_servers" else "")
    assert any(p.path == where and f"is {shown}, not an address" in p.message for p in problems), [
        str(p) for p in problems
    ]


@pytest.mark.parametrize(
    ("key", "path"),
    [(".", 'install["."]'), ("", 'install[""]'), ("a b", 'install["a b"]'), ("x_1", "install.x_1")],
)
def test_an_odd_key_is_quoted_in_the_path(tmp_path: Path, key: str, path: str) -> None:
    text = HEAD + f"install:\n  {key!r}: 1\n  {key!r}: 2\n"
    (problem,) = problems_of(tmp_path, text)
    assert problem.startswith(f"{path}: is given twice")
    _, problems = validate_document({"apiVersion": "stook.io/v1beta1", "kind": "InstallConfig",
                                     "install": {key: 1}})  # fmt: skip
    assert path in [p.path for p in problems]

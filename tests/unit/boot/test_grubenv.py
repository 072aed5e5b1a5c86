"""GRUB environment blocks: format, validation, and interop with the real grub-editenv."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stook_core.boot import grubenv
from support.tiers import require_commands

names = st.text(
    st.characters(min_codepoint=33, max_codepoint=126, exclude_characters="=\\#"), min_size=1
).filter(lambda n: not n.startswith("#"))
values = st.text(st.characters(min_codepoint=1, max_codepoint=0x2FF), max_size=40)


def test_block_is_1024_bytes_header_lines_and_hash_padding() -> None:
    block = grubenv.render({"ORDER": "A B", "A_OK": "1"})
    assert len(block) == 1024
    head = grubenv.HEADER + grubenv.WARNING + b"ORDER=A B\nA_OK=1\n"
    assert block.startswith(head)
    assert set(block[len(head) :]) == {ord("#")}


@given(st.dictionaries(names, values, max_size=8))
def test_render_parse_roundtrip(env: dict[str, str]) -> None:
    try:
        block = grubenv.render(env)
    except grubenv.GrubEnvError:
        return  # too large for 1024 bytes: refused, never truncated
    assert grubenv.parse(block) == env


def test_backslash_and_newline_are_escaped_like_grub() -> None:
    block = grubenv.render({"k": "a\\b\nc"})
    assert block.startswith(grubenv.HEADER + grubenv.WARNING + b"k=a\\\\b\\\nc\n#")


def test_too_large_is_refused() -> None:
    with pytest.raises(grubenv.GrubEnvError, match="needs"):
        grubenv.render({"k": "x" * 1000})


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"# GRUB Environment Block\n" + b"#" * 998, "1023 bytes"),
        (b"# GRUB Environment Bloc\n" + b"#" * 1000, "header"),
        (b"# GRUB Environment Block\nnoequals\n" + b"#" * 990, "broken line"),
        (b"# GRUB Environment Block\n" + b"#" * 990 + b"garbage!!", "padding"),
        (b"# GRUB Environment Block\nk=" + b"v" * 997, "no newline"),
    ],
)
def test_invalid_blocks_are_rejected(data: bytes, match: str) -> None:
    with pytest.raises(grubenv.GrubEnvError, match=match):
        grubenv.parse(data)


def test_invalid_names_are_rejected() -> None:
    for name in ("", "a=b", "#x", "a\nb"):
        with pytest.raises(grubenv.GrubEnvError):
            grubenv.render({name: "v"})


def test_write_atomic_leaves_only_the_block(tmp_path: Path) -> None:
    path = tmp_path / "grubenv"
    grubenv.write_atomic(path, {"a": "1"})
    grubenv.write_atomic(path, {"a": "2"})
    assert grubenv.read(path) == {"a": "2"}
    assert [p.name for p in tmp_path.iterdir()] == ["grubenv"]


def test_write_overwrites_in_place_like_grub(tmp_path: Path) -> None:
    """Same inode, same size: nothing is allocated on the ESP's FAT after the install."""
    path = tmp_path / "grubenv"
    grubenv.write(path, {"a": "1"})  # none yet: created
    inode = path.stat().st_ino
    grubenv.write(path, {"a": "2", "b": "x" * 100})
    assert path.stat().st_ino == inode and path.stat().st_size == grubenv.SIZE
    assert grubenv.read(path) == {"a": "2", "b": "x" * 100}
    path.write_bytes(b"short")  # damaged: replaced whole
    grubenv.write(path, {"a": "3"})
    assert grubenv.read(path) == {"a": "3"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grubenv"]


def _editenv(*args: str) -> str:
    return subprocess.run(
        ["grub-editenv", *args], check=True, capture_output=True, text=True
    ).stdout


def test_grub_editenv_reads_what_we_write(tmp_path: Path) -> None:
    require_commands("grub-editenv")
    path = tmp_path / "grubenv"
    env = {"ORDER": "B A", "A_VERSION": "2026.1.0", "odd": "back\\slash and spaces"}
    grubenv.write_atomic(path, env)
    assert _editenv(str(path), "list").splitlines() == [f"{k}={v}" for k, v in env.items()]


def test_we_read_what_grub_editenv_writes_byte_for_byte(tmp_path: Path) -> None:
    require_commands("grub-editenv")
    path = tmp_path / "grubenv"
    _editenv(str(path), "create")
    _editenv(str(path), "set", "ORDER=A B", "A_OK=0", "odd=back\\slash")
    _editenv(str(path), "set", "A_OK=1")  # an in-place update, as GRUB's save_env does
    data = path.read_bytes()
    expected = {"ORDER": "A B", "A_OK": "1", "odd": "back\\slash"}
    assert grubenv.parse(data) == expected
    assert grubenv.render(expected) == data


def test_grub_editenv_unset_keeps_the_block_valid(tmp_path: Path) -> None:
    require_commands("grub-editenv")
    path = tmp_path / "grubenv"
    grubenv.write_atomic(path, {"a": "1", "b": "2", "c": "3"})
    _editenv(str(path), "unset", "b")
    assert grubenv.read(path) == {"a": "1", "c": "3"}

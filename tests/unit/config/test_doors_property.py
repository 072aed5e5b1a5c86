"""Property: generated kernel command lines and config documents, fed through the doors
(``Sources(...).load()``, ``stook-installer validate``, the unattended ``--dry-run`` CLI and
``stook-os status``, in process), never raise, never print a traceback or an internal error,
never show a secret, and every refusal names a field path or the input it came from."""

from __future__ import annotations

import contextlib
import io
import re
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stook_core.config.fetch import Location
from stook_core.config.sources import Sources
from stook_core.problems import ConfigError, Problem
from stook_installer import cli
from support.fake_node import FAKE_CMDLINE_A, FakeNode, booted_a
from support.install_engine import PROFILES, document

MACHINE = str(PROFILES / "os-and-data.json")
TOKEN = "Tok3n-Marker-Zq8x"  # nothing generated below can spell it by chance
PROXY_PASSWORD = "Pr0xy-Marker-Wv7"  # nor this
PASSWORD_HASH = document()["install"]["password"]
SETTINGS = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# Where a problem may point: a field path (what pydantic or a rule names), a kernel word, or
# the input itself. A field path is plain names joined by dots, [index] and ["odd key"] parts.
INPUTS = ("(document)", "(file)", "(profile)")
_PART = r'(?:\[\d+\]|\["(?:[^"\\]|\\.)*"\])'
FIELD_PATH = re.compile(rf"^(?:[\w-]+|{_PART})(?:\.[\w-]+|{_PART})*$")

FIELDS = [
    "mode", "role", "automatic", "confirm_erase", "hostname", "password", "token", "vip",
    "vip.address", "vip.mode", "server_url", "install_disk", "install_disk.serial", "data_disk",
    "wipe_disks", "persistent_size", "management_interface", "management_interface.nics",
    "management_interface.vlan_id", "management_interface.mtu", "management_interface.method",
    "management_interface.address", "management_interface.gateway",
    "management_interface.bond.mode", "management_interface.bond.miimon",
    "management_interface.bond.options.lacp_rate", "dns_servers", "ntp_servers",
    "ssh_authorized_keys", "proxy.http_proxy", "proxy.https_proxy", "proxy.no_proxy",
    "cluster.pod_cidr", "cluster.service_cidr", "cluster.dns", "after_install", "skip_checks",
]  # fmt: skip
SPECIALS = ['"', "'", "\\", "=", ".", ",", " ", "yes", "no", "on", "100", "-1", "1e999", "",
            "true", "null", "~", "&a", "*a", "!!int", "{", "[", "#", "\xa0", "é", "\U0001f600",
            "http://u:p@h:99999/", "/dev/sda", "largest", "10.0.0.1", "eno1"]  # fmt: skip

texts = st.one_of(
    st.sampled_from(SPECIALS),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=12),
    st.lists(st.sampled_from(SPECIALS), max_size=4).map("".join),
)
keys = st.one_of(
    st.sampled_from(FIELDS).map(lambda f: f"stook.install.{f}"),
    st.sampled_from(
        [
            "stook.",
            "stook.install",
            "stook.install..x",
            "stook.slot",
            "stook.x.y",
            "stookish",
            "stook.install.nope",
            "stook.install.hostname.x",
        ]
    ),
    texts,
)


@st.composite
def kernel_words(draw: st.DrawFn) -> bytes:
    key = draw(keys)
    word = key if draw(st.booleans()) else f"{key}={draw(texts)}"
    if draw(st.integers(0, 5)) == 0:
        word = f'"{word}"'
    raw = word.encode()
    if draw(st.integers(0, 9)) == 0:
        raw += draw(st.binary(min_size=1, max_size=3))
    return raw


cmdlines = st.lists(kernel_words(), max_size=8).flatmap(
    lambda words: st.lists(
        st.sampled_from([b" ", b"  ", b"\t", b"\n"]), min_size=len(words), max_size=len(words)
    ).map(lambda gaps: b"".join(w + g for w, g in zip(words, gaps, strict=True)))
)
values = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), texts,
        st.sampled_from(["1" * 5000, "x" * 300]),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(texts, children, max_size=3)
    ),
    max_leaves=6,
)  # fmt: skip


def _base() -> dict[str, Any]:
    return document(token=TOKEN, proxy={"https_proxy": f"http://ops:{PROXY_PASSWORD}@proxy:3128"})


def _put(data: dict[str, Any], field: str, value: Any) -> None:
    node: Any = data["install"]
    *parents, leaf = field.split(".")
    for part in parents:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[leaf] = value


@st.composite
def documents(draw: st.DrawFn) -> bytes:
    """The bundled example with generated values in some fields, then maybe raw text damage."""
    data = _base()
    for field in draw(st.lists(st.sampled_from(FIELDS), max_size=4)):
        _put(data, field, draw(values))
    if draw(st.integers(0, 9)) == 0:
        data = draw(values)
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    damage = draw(st.integers(0, 5))
    if damage == 0 and text:
        lines = text.splitlines(keepends=True)
        line = draw(st.sampled_from(lines))
        text += line  # often a duplicate key
    elif damage == 1:
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(texts) + text[at:]
    raw = text.encode()
    if draw(st.integers(0, 14)) == 0:
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + draw(st.binary(min_size=1, max_size=4)) + raw[at:]
    return raw


def check_problems(problems: list[Problem], source: str) -> None:
    assert problems, "a refusal without a problem"
    for problem in problems:
        assert problem.message, problem
        if source == "kernel command line":  # the problem names the kernel word's key
            assert problem.path.startswith("stook."), problem
        else:
            assert problem.path in INPUTS or FIELD_PATH.match(problem.path), problem


def check_text(text: str) -> None:
    assert "Traceback" not in text and "internal error" not in text, text
    assert TOKEN not in text and PASSWORD_HASH not in text and PROXY_PASSWORD not in text, text
    text.encode("utf-8")  # printable on a UTF-8 console: no lone surrogates


@SETTINGS
@given(cmdline=cmdlines, body=documents(), fetched=documents())
def test_sources_load_never_raises_anything_but_a_config_error(
    cmdline: bytes, body: bytes, fetched: bytes
) -> None:
    def fetch(location: Location) -> bytes:  # test double of the network: the generated body
        return fetched

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "c.yaml"
        path.write_bytes(body)
        try:
            Sources(file=path, cmdline=cmdline, fetch=fetch).load()
        except ConfigError as error:
            check_problems(error.problems, error.source)
            check_text(error.report())


def run_cli(*argv: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(list(argv))
    return code, out.getvalue() + err.getvalue()


@SETTINGS
@given(cmdline=cmdlines, body=documents())
def test_the_cli_doors_report_and_exit(cmdline: bytes, body: bytes) -> None:
    cmdline = b" ".join(w for w in cmdline.split(b" ") if b"config_" not in w)  # no network
    with tempfile.TemporaryDirectory() as folder:
        config, kernel = Path(folder) / "c.yaml", Path(folder) / "cmdline"
        config.write_bytes(body)
        kernel.write_bytes(cmdline)
        code, output = run_cli("validate", str(config))
        assert code in (0, 2), output
        check_text(output)
        argv = ["--config", str(config), "--cmdline", str(kernel), "--machine", MACHINE]
        code, output = run_cli(*argv, "--automatic", "--dry-run")
        assert code in (0, 2), output
        check_text(output)


@SETTINGS
@given(cmdline=cmdlines)
def test_stook_os_reads_any_kernel_command_line(cmdline: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        node = FakeNode(Path(folder), booted_a(), FAKE_CMDLINE_A, "1.0")
        node.cmdline.write_bytes(FAKE_CMDLINE_A.encode() + b" " + cmdline)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = node.run("status")
        assert code in (0, 3), err.getvalue()
        check_text(out.getvalue() + err.getvalue())

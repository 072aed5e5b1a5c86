"""The fresh-machine promise: every external command the code and the tests run comes from a
Debian package that ``scripts/bootstrap.sh`` installs (or is Essential, so on every Debian).

A command installed by hand on a developer's machine hides a missing install step until a new
machine runs the test command (it happened with sfdisk and xorriso). This test finds the
commands three ways and maps each one to its package with ``dpkg -S``:

- Python: argv literals passed to ``subprocess.*``, the engine's ``Run``/``_run`` and
  ``require_commands``/``shutil.which`` names, and module-level ``*TOOLS`` tuples;
- the install engine's plans, built for every bundled example on every bundled machine profile
  (the commands it runs are computed, not literal);
- shell scripts: the commands they check with ``command -v``.

The engine's commands must also be in the live medium's image (iso-build/packages.txt).
"""

from __future__ import annotations

import ast
import functools
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from stook_core.hardware import load_profile
from stook_core.problems import ConfigError
from stook_installer.engine.actions import Run
from stook_installer.engine.plan import build_plan
from support.install_engine import make_config
from support.tiers import require_tier

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
PYTHON_TREES = ("core", "installer", "node-agent", "tests", "bench", "tools")
SHELL_TREES = ("scripts", "iso-build", "tools")
INSTALLER = ROOT / "installer" / "stook_installer"
# Calls whose list/tuple arguments are command lines.
RUNNERS = frozenset({"run", "Popen", "check_call", "check_output", "call", "Run", "_run"})
NAME_CALLS = frozenset({"require_commands", "which"})
COMMAND = re.compile(r"^[a-z][a-z0-9.+_-]*$")
# Commands that do not come from a Debian package, and who provides them instead.
NOT_FROM_DEBIAN = {
    "go": "scripts/ensure-go.sh (the Go toolchain from the Go module proxy when Debian's is old)",
    "helm": "tools/k8s/build.sh chart (built from pinned Go modules)",
    "kubeconform": "tools/k8s/build.sh chart (built from pinned Go modules)",
    "kube-apiserver": "tools/k8s/build.sh apiserver (built from pinned Go modules)",
    "etcd": "tools/k8s/build.sh apiserver (built from pinned Go modules)",
    "stook-agent": "this project (pip install -e . into .venv)",
    "stook-installer": "this project (pip install -e . into .venv)",
    "stook-os": "this project (pip install -e . into .venv)",
}
# Commands that run only inside a guest or the built image, never on the test host.
GUEST_ONLY = frozenset({"systemctl", "stook-os"})
# Commands the code uses only when present (``shutil.which`` first), and why that is right.
OPTIONAL = {
    "udevadm": "the test host runs no udev; the engine settles udev where it runs (live medium)",
    "ethtool": "a fallback for the permanent MAC where netlink lacks IFLA_PERM_ADDRESS (kernels "
    "before 5.6); Debian 12's kernel answers through pyroute2 first",
}
# Where a command must come from: Debian's directories, not a shim or /usr/local.
SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


def _literal_command(node: ast.expr) -> str | None:
    if isinstance(node, (ast.List, ast.Tuple)) and node.elts:
        first = node.elts[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            return first.value
    return None


def _call_name(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def python_commands(path: Path) -> Iterator[tuple[str, str]]:
    """(command, where) for every command literal in one Python file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    where = str(path.relative_to(ROOT))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _call_name(node)
            if name in RUNNERS:
                for arg in node.args:
                    command = _literal_command(arg)
                    if command:
                        yield command, f"{where}:{node.lineno}"
            elif name in NAME_CALLS:
                for arg in node.args:
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        yield arg.value, f"{where}:{node.lineno}"
        elif isinstance(node, ast.Assign) and isinstance(node.value, (ast.Tuple, ast.List)):
            names = [t.id for t in node.targets if isinstance(t, ast.Name)]
            if any(n.endswith("TOOLS") for n in names):
                for element in node.value.elts:
                    if isinstance(element, ast.Constant) and isinstance(element.value, str):
                        yield element.value, f"{where}:{node.lineno}"


SHELL_CHECK = re.compile(r"command -v\s+\"?([A-Za-z0-9.+_-]+)\"?")
SHELL_LOOP = re.compile(r"for\s+cmd\s+in\s+([^;]+);")


def shell_commands(path: Path) -> Iterator[tuple[str, str]]:
    """Commands a shell script checks for with ``command -v`` (its declared needs)."""
    where = str(path.relative_to(ROOT))
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        for match in SHELL_CHECK.finditer(line):
            if not match.group(1).startswith("$"):
                yield match.group(1), f"{where}:{number}"
        loop = SHELL_LOOP.search(line)
        if loop and "command -v" in "".join(path.read_text().splitlines()[number : number + 2]):
            for command in loop.group(1).split():
                yield command, f"{where}:{number}"


def engine_commands() -> Iterator[tuple[str, str]]:
    """argv[0] of every Run action the engine plans for the bundled examples and profiles."""
    image = Path("/nonexistent/os.squashfs")  # the plan reads no image it cannot find
    for example in sorted((INSTALLER / "examples").glob("*.yaml")):
        for profile in sorted((INSTALLER / "profiles").glob("*.json")):
            try:
                config = make_config(example.stem)
                plan = build_plan(config, load_profile(profile), image)
            except ConfigError:
                continue  # a profile this example cannot install on
            for step in plan.steps:
                for action in step.actions():
                    if isinstance(action, Run):
                        yield action.argv[0], f"engine plan {example.name} on {profile.name}"


def all_commands() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    sources: list[Iterator[tuple[str, str]]] = [engine_commands()]
    for tree in PYTHON_TREES:
        sources += [python_commands(p) for p in sorted((ROOT / tree).rglob("*.py"))]
    for tree in SHELL_TREES:
        sources += [shell_commands(p) for p in sorted((ROOT / tree).rglob("*.sh"))]
    for source in sources:
        for command, where in source:
            if COMMAND.match(command) and "/" not in command:
                found.setdefault(command, []).append(where)
    return found


@functools.cache
def bootstrap_packages(*profiles: str) -> frozenset[str]:
    listed = subprocess.run(
        ["bash", str(ROOT / "scripts" / "bootstrap.sh"), "--list", *profiles],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return frozenset(listed.stdout.split())


def image_packages() -> frozenset[str]:
    text = (ROOT / "iso-build" / "packages.txt").read_text(encoding="utf-8")
    return frozenset(w for line in text.splitlines() for w in line.split("#")[0].split())


def owning_package(path: str) -> str | None:
    """The Debian package that ships *path* (trying the merged-/usr spellings), or None."""
    real = os.path.realpath(path)
    candidates = {path, real}
    for p in list(candidates):
        candidates.add(p.removeprefix("/usr") if p.startswith("/usr/") else "/usr" + p)
    for candidate in sorted(candidates):
        done = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
        if done.returncode == 0:
            return done.stdout.split(":")[0].split(",")[0].strip()
    return None


def with_dependencies(roots: frozenset[str]) -> frozenset[str]:
    """*roots* and everything they depend on (Depends, Pre-Depends; every installed alternative),
    as the host's dpkg database knows it: what installing *roots* brings along."""
    done = subprocess.run(
        ["dpkg-query", "-W", "-f=${Package}\t${Depends}, ${Pre-Depends}\n"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    depends: dict[str, set[str]] = {}
    for line in done.stdout.splitlines():
        name, _, rest = line.partition("\t")
        names = {re.split(r"[\s(:]", alt.strip())[0] for alt in re.split(r"[,|]", rest)}
        depends[name] = {n for n in names if n}
    closure, todo = set(roots), list(roots)
    while todo:
        for dep in depends.get(todo.pop(), ()):
            if dep not in closure:
                closure.add(dep)
                todo.append(dep)
    return frozenset(closure)


@functools.cache
def is_essential(package: str) -> bool:
    done = subprocess.run(
        ["dpkg-query", "-W", "-f=${Essential}", package], capture_output=True, text=True
    )
    return done.stdout.strip() == "yes"


def _which(command: str) -> str | None:
    return shutil.which(command, path=SYSTEM_PATH)


def test_the_scan_finds_the_commands_we_know_of() -> None:
    """The scanner itself must work, or the check below could never fail."""
    found = all_commands()
    for known in ("sgdisk", "mksquashfs", "losetup", "xorriso", "mmdebstrap", "wipefs"):
        assert known in found, f"the scan no longer finds {known}"


def test_every_command_comes_from_a_package_the_bootstrap_installs() -> None:
    require_tier(shutil.which("dpkg") is not None, "dpkg (a Debian machine)", "run on Debian 12")
    wanted = with_dependencies(bootstrap_packages("base", "test"))
    problems = []
    for command, places in sorted(all_commands().items()):
        if command in NOT_FROM_DEBIAN or command in GUEST_ONLY or command in OPTIONAL:
            continue
        where = places[0] + (f" (+{len(places) - 1} more)" if len(places) > 1 else "")
        path = _which(command)
        if path is None:
            problems.append(
                f"{command} (used at {where}) is not installed in {SYSTEM_PATH}: add its Debian "
                "package to the test profile in scripts/bootstrap.sh"
            )
            continue
        package = owning_package(path)
        if package is None:
            problems.append(f"{command} ({path}, used at {where}) comes from no Debian package")
        elif package not in wanted and not is_essential(package):
            problems.append(
                f"{command} (used at {where}) is in Debian package {package}, which "
                "scripts/bootstrap.sh does not install, nor any package it installs depends on "
                "(installed by hand?)"
            )
    assert not problems, "\n".join(problems)


def test_the_engine_commands_are_in_the_live_image() -> None:
    """The engine runs on the live medium: its commands' packages must be in the image."""
    require_tier(shutil.which("dpkg") is not None, "dpkg (a Debian machine)", "run on Debian 12")
    in_image = with_dependencies(image_packages())
    problems = []
    for command, places in _engine():
        path = _which(command)
        package = owning_package(path) if path else None
        if package is None:
            problems.append(f"cannot tell the package of engine command {command} ({places})")
        elif package not in in_image and not is_essential(package):
            problems.append(
                f"engine command {command} ({places}) is in {package}, missing from "
                "iso-build/packages.txt"
            )
    assert not problems, "\n".join(problems)


def _engine() -> list[tuple[str, str]]:
    seen: dict[str, str] = {}
    for command, where in engine_commands():
        seen.setdefault(command, where)
    assert seen, "the engine planned no commands: the scan is broken"
    return sorted(seen.items())


def test_the_main_job_profile_installs_what_iso_build_checks_for() -> None:
    """scripts/main.sh sets up with ``bootstrap.sh base build``: iso-build's tools must be there."""
    require_tier(shutil.which("dpkg") is not None, "dpkg (a Debian machine)", "run on Debian 12")
    wanted = with_dependencies(bootstrap_packages("base", "build"))
    problems = []
    for command, places in sorted(all_commands().items()):
        build_places = [p for p in places if p.startswith(("iso-build/", "scripts/main.sh"))]
        if not build_places or command in NOT_FROM_DEBIAN:
            continue
        path = _which(command)
        package = owning_package(path) if path else None
        if package is None or (package not in wanted and not is_essential(package)):
            problems.append(
                f"{command} (checked at {build_places[0]}) comes from {package or 'no package'}, "
                "which the build profile of scripts/bootstrap.sh does not install"
            )
    assert not problems, "\n".join(problems)

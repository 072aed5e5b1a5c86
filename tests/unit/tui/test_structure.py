"""The TUI's modules form no import circle, and the pages are leaves: a page module imports only
the shared frame (page.py), the shared widgets (widgets.py) and the answers (state.py), never
the app, the flow or another page. Imports inside functions and TYPE_CHECKING blocks count."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import stook_installer.tui

TUI = Path(stook_installer.tui.__file__).parent
PACKAGE = "stook_installer.tui"
SHARED = {"page", "widgets", "state"}
PAGES = ("start", "disks", "network", "fields", "cluster", "login", "summary", "progress", "final")


def tui_imports(module: str) -> set[str]:
    """The stook_installer.tui modules *module* imports, by short name, wherever the import is."""
    tree = ast.parse((TUI / f"{module}.py").read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            if name.startswith(PACKAGE + "."):
                short = name.removeprefix(PACKAGE + ".").split(".")[0]
                if (TUI / f"{short}.py").exists():
                    found.add(short)
    return found - {module}


def modules() -> list[str]:
    return sorted(p.stem for p in TUI.glob("*.py") if p.stem != "__init__")


def test_every_module_is_known_as_page_or_shared_or_wiring() -> None:
    assert set(modules()) == {*PAGES, *SHARED, "app", "flow", "widgets"}


@pytest.mark.parametrize("page", PAGES)
def test_a_page_imports_no_other_page_nor_the_app(page: str) -> None:
    assert tui_imports(page) <= SHARED, f"{page} imports {sorted(tui_imports(page) - SHARED)}"


def test_the_shared_modules_import_no_page() -> None:
    for module in SHARED:
        assert tui_imports(module) <= SHARED - {"page"}, module


def test_there_is_no_import_circle() -> None:
    graph = {module: tui_imports(module) for module in modules()}
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, "import circle: " + " -> ".join([*path, module])
        if module in done:
            return
        for imported in sorted(graph[module]):
            visit(imported, (*path, module))
        done.add(module)

    for module in graph:
        visit(module, ())


def test_each_page_module_imports_alone() -> None:
    """In a fresh interpreter, importing one page pulls in neither the app nor the flow."""
    code = (
        "import importlib, sys\n"
        f"for page in {PAGES!r}:\n"
        f"    importlib.import_module('{PACKAGE}.' + page)\n"
        f"assert '{PACKAGE}.app' not in sys.modules and '{PACKAGE}.flow' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    importlib.import_module(f"{PACKAGE}.app")  # and the whole assembles

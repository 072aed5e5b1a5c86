"""Shared set-up for the TUI tests: machine profiles (the only test double) and an app factory."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

import stook_installer
from stook_core.hardware import Machine, load_profile
from stook_installer.tui.app import InstallerApp
from stook_installer.tui.state import Wizard, new_document

PROFILES = Path(stook_installer.__file__).parent / "profiles"
SIZE = (80, 24)

# A complete, valid create-mode answer set for the one-disk profile.
VALID_CREATE: dict[str, Any] = {
    "install": {
        "mode": "create",
        "hostname": "node1",
        "token": "s3cr3t-token",
        "password": "correct-horse",
        "install_disk": {"serial": "S6PTNM0T100001A"},
        "persistent_size": "64Gi",
        "management_interface": {
            "nics": [{"name": "eno1", "mac": "3c:ec:ef:10:00:01"}],
            "method": "static",
            "address": "192.168.1.10/24",
            "gateway": "192.168.1.1",
        },
        "dns_servers": ["192.168.1.53"],
        "vip": {"mode": "static", "address": "192.168.1.5"},
    }
}

AppFactory = Callable[..., InstallerApp]


def machine(profile: str) -> Machine:
    return load_profile(PROFILES / f"{profile}.json")


@pytest.fixture
def make_app() -> AppFactory:
    """``make_app(profile, seed, **app_kwargs)``: the real app on a profiled machine, dry run."""

    def build(
        profile: str = "one-disk", seed: dict[str, Any] | None = None, **kwargs: Any
    ) -> InstallerApp:
        wizard = Wizard(machine(profile), dry_run=True, document=new_document(seed))
        return InstallerApp(wizard, **kwargs)

    return build


def valid_create(**install: Any) -> dict[str, Any]:
    """VALID_CREATE with some install fields replaced (None removes one)."""
    seed = copy.deepcopy(VALID_CREATE)
    for key, value in install.items():
        if value is None:
            seed["install"].pop(key, None)
        else:
            seed["install"][key] = value
    return seed


@pytest.fixture
def seed() -> Callable[..., dict[str, Any]]:
    """``seed(**install)``: the valid create answers with some fields replaced or removed."""
    return valid_create


Scenario = Callable[[Pilot[Any]], Awaitable[None]]


def run_scenario(app: InstallerApp, scenario: Scenario, size: tuple[int, int] = SIZE) -> None:
    """Run *app* headless (80x24 unless *size*) and let *scenario* drive it with the keyboard."""

    async def main() -> None:
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            await scenario(pilot)

    asyncio.run(main())


@pytest.fixture
def drive() -> Callable[..., None]:
    return run_scenario

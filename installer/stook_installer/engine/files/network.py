"""The management network of an InstallConfig as systemd-networkd files: the model is
``stook_core.net.management``'s (the agent's safe-change path renders the same one), the
files ``stook_core.net.networkd``'s."""

from __future__ import annotations

from stook_core.config.model import InstallSpec, ManagementInterface
from stook_core.hardware import Machine
from stook_core.net import NetworkSetup, management, render
from stook_installer.engine.nodefile import NodeFile

BOND, BRIDGE = management.BOND, management.BRIDGE


def ip_interface(net: ManagementInterface) -> str:
    """The interface that carries the node IP (kube-vip and RKE2 use it too)."""
    return management.ip_interface(net)


def network_setup(spec: InstallSpec, machine: Machine | None = None) -> NetworkSetup:
    """The core network model of *spec*'s management interface (on *machine*'s NICs)."""
    nics = machine.nics if machine is not None else None
    return management.network_setup(spec.management_interface, spec.dns_servers, nics)


def network_files(spec: InstallSpec, machine: Machine | None = None) -> list[NodeFile]:
    """The networkd files of *spec*, for *machine*'s NICs when given (else as configured)."""
    return [NodeFile(unit.path, unit.text) for unit in render(network_setup(spec, machine))]

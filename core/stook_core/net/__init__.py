"""Node networking in one place: typed models of ports, bonds, VLAN-filtering bridges and
VLANs (``model``), the one table of kernel bonding options (``bond``), and the
systemd-networkd renderer (``networkd``). The installer maps an InstallConfig onto these
models; the agent's network controllers will build the same models from cluster objects."""

from stook_core.net.bond import BOND_MODES, BOND_OPTIONS, BondOption, parse_bond_option
from stook_core.net.model import Bond, Bridge, BridgePort, IpConfig, NetworkSetup, Port, Vlan
from stook_core.net.networkd import UnitFile, render

__all__ = [
    "BOND_MODES",
    "BOND_OPTIONS",
    "Bond",
    "BondOption",
    "Bridge",
    "BridgePort",
    "IpConfig",
    "NetworkSetup",
    "Port",
    "UnitFile",
    "Vlan",
    "parse_bond_option",
    "render",
]

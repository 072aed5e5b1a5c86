"""Fleet installs: an Ansible-style inventory -> one validated InstallConfig per node.

``render_inventory(hosts, cluster)`` is what the playbooks' filter calls; ``load_inventory``
gives the typed result. Every problem of the inventory is raised at once as a FleetError,
each naming its hosts, the inventory variable and the config field. See docs/fleet.md.
"""

from stook_core.fleet.inventory import CLUSTER_VAR, NODE_VAR, ClusterVars, NodeVars
from stook_core.fleet.problems import FleetError, FleetProblem
from stook_core.fleet.render import Fleet, FleetNode, load_inventory, render_inventory

__all__ = [
    "CLUSTER_VAR",
    "NODE_VAR",
    "ClusterVars",
    "Fleet",
    "FleetError",
    "FleetNode",
    "FleetProblem",
    "NodeVars",
    "load_inventory",
    "render_inventory",
]

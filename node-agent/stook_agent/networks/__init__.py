"""Networks as Kubernetes resources (docs/networks.md): the cluster side (``cluster*``: NADs,
VLAN IDs, node labels, the management-change rollout; leader only) and the node side (``node*``,
``mgmt*``: bonds, bridges, VLANs and management changes through pyroute2)."""

"""OS upgrades of the cluster (docs/upgrades.md): the node side (download, write the passive
slot, reboot, report) and the cluster side (pre-checks, one node at a time, cordon, drain,
health gate)."""

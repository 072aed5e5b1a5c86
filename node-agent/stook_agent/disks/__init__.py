"""Disks as Kubernetes resources (docs/disks.md).

filters: which block devices are the node's disks. scanner: probe them (the installer's
``stook_core.hardware`` model) and name them (``stook_core.diskid``). triggers: what wakes a
rescan (udev on nodes, an explicit trigger where udev is absent, a period). inventory: the
latest scan. status: a BlockDevice's status from a disk. mounts, longhorn, passthrough: the
provisioners. The BlockDevice reconciler (``stook_agent.blockdevice``) ties them together.
"""

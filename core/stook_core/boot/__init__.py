"""A/B slot logic shared by the node's stook-os CLI and the agent's upgrade controller.

- grubenv: GRUB environment blocks, byte-compatible with grub-editenv
- store: the two locked copies of the boot environment on the ESP (Mender's scheme)
- slots: the slot state model (ORDER, <S>_OK, <S>_LEFT, <S>_VERSION, BOOTED) and its transitions
- booted: what the running system booted, and whether it matches the boot environment
- grubcfg: the grub.cfg fragment that makes the same choice in GRUB script
- cli: stook-os status | set-next SLOT | mark-good

See docs/ab-boot.md.
"""

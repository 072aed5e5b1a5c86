"""verify.yml's test: the shared checks (stook_node_checks.py) against one installed node.

verify.yml passes the node (``STOOK_VERIFY_HOST``, ssh://user@address), the SSH key and ssh
options, and what the inventory says the node is (``STOOK_EXPECTED``: JSON of ``Expected``, the
token only as its SHA-256). The host is built here rather than with ``--hosts`` because
pytest-testinfra's command line drops ``--ssh-extra-args``.
"""

from __future__ import annotations

import os

import stook_node_checks as checks
import testinfra


def test_installed_node() -> None:
    host = testinfra.get_host(
        os.environ["STOOK_VERIFY_HOST"],
        ssh_identity_file=os.environ.get("STOOK_VERIFY_KEY") or None,
        ssh_extra_args=os.environ.get("STOOK_VERIFY_SSH_ARGS") or None,
        sudo=True,
    )
    checks.installed_node(host, checks.Expected.from_json(os.environ["STOOK_EXPECTED"]))

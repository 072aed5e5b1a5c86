"""Stook node agent: reconciles this node's Stook resources (BlockDevice, NodeStatus, ...).

The runtime (list + watch, work queue, status, finalizers, events, metrics, health) lives in
stook_agent.runtime; controllers plug reconcilers into it. See docs/agent-runtime.md.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("stook")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

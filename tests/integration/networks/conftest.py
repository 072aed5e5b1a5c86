"""Fixtures for the network tests: the session's real kube-apiserver with Stook's CRDs."""

from __future__ import annotations

from integration.agent.conftest import api, cluster, node  # noqa: F401 (shared fixtures)

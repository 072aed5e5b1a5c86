"""Prometheus metrics of the rollout: per-node upgrade duration (cordon to health gate passed)
and failures, in the agent's registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class UpgradeMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.duration = Histogram(
            "stook_upgrade_node_duration_seconds",
            "Time from a node's cordon to its health gate passed.",
            buckets=(60, 120, 300, 600, 900, 1200, 1800, 2700, 3600, 7200),
            registry=registry,
        )
        self.last = Gauge(
            "stook_upgrade_node_last_duration_seconds",
            "The last upgrade duration of each node.",
            ["node"],
            registry=registry,
        )
        self.failures = Counter(
            "stook_upgrade_node_failures_total",
            "Node upgrades that failed (fallback, timeout, refused image...).",
            ["node"],
            registry=registry,
        )

    def done(self, node: str, seconds: float) -> None:
        self.duration.observe(seconds)
        self.last.labels(node).set(seconds)

    def failed(self, node: str) -> None:
        self.failures.labels(node).inc()

"""Prometheus metrics of the runtime, in a registry of their own (one per agent)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.reconciles = Counter(
            "stook_agent_reconcile_total",
            "Reconciles by controller and result (success, requeue, error).",
            ["controller", "result"],
            registry=r,
        )
        self.errors = Counter(
            "stook_agent_reconcile_errors_total",
            "Reconciles that raised an error (the key is requeued with back-off).",
            ["controller"],
            registry=r,
        )
        self.duration = Histogram(
            "stook_agent_reconcile_duration_seconds",
            "Time spent in one reconcile.",
            ["controller"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=r,
        )
        self.queue_depth = Gauge(
            "stook_agent_workqueue_depth",
            "Keys waiting to be reconciled now.",
            ["controller"],
            registry=r,
        )
        self.queue_delayed = Gauge(
            "stook_agent_workqueue_delayed",
            "Keys waiting for a requeue delay to pass.",
            ["controller"],
            registry=r,
        )
        self.watch_events = Counter(
            "stook_agent_watch_events_total",
            "Watch events received, by type.",
            ["controller", "type"],
            registry=r,
        )
        self.relists = Counter(
            "stook_agent_relists_total",
            "Full lists, by reason (initial, expired = 410 Gone, error).",
            ["controller", "reason"],
            registry=r,
        )
        self.watch_errors = Counter(
            "stook_agent_watch_errors_total",
            "Watch connections that failed (API server down, network); resumed after back-off.",
            ["controller"],
            registry=r,
        )
        self.leader = Gauge(
            "stook_agent_leader",
            "1 while this process holds the cluster controllers' Lease (runs them).",
            registry=r,
        )
        self.info = Gauge(
            "stook_agent_info", "The agent's version and node.", ["version", "node"], registry=r
        )

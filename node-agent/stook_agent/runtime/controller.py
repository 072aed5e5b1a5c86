"""A controller: an informer feeding a work queue drained by workers that call a Reconciler.

Level-triggered: a worker gets only a key and reads the object's current state from the cache,
so however many events arrived, one reconcile sees the latest. The queue guarantees one worker
per key at a time; an error requeues the key with exponential back-off; success forgets it.
"""

from __future__ import annotations

import copy
import logging
import random
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from stook_agent.runtime.client import Object, ResourceClient
from stook_agent.runtime.conditions import find_condition, set_condition
from stook_agent.runtime.errors import describe, is_final, is_status, reason_of
from stook_agent.runtime.events import EventRecorder
from stook_agent.runtime.informer import Informer
from stook_agent.runtime.metrics import Metrics
from stook_agent.runtime.ratelimit import ExponentialBackoff
from stook_agent.runtime.watchdog import Watchdog
from stook_agent.runtime.workqueue import ShutDownError, WorkQueue

log = logging.getLogger(__name__)

ACCEPTED = "Accepted"  # False while the API server rejects what the reconcile writes
# A 409 Conflict (the object changed since our cache's copy, e.g. an operator's write raced
# ours) is the optimistic concurrency working: the retry reads the new version. Only a conflict
# that this many attempts in a row did not cure is a Warning (someone keeps overwriting us).
CONFLICTS_BEFORE_WARNING = 3


@dataclass(frozen=True)
class Result:
    """What a reconcile asks for next: nothing, or another look after *requeue_after* s."""

    requeue_after: float | None = None


class Reconciler(ABC):
    """Brings one object's real state towards its spec. Must be idempotent: it can be called
    any number of times for the same state (resync, restarts, relists)."""

    @abstractmethod
    def reconcile(self, obj: Object) -> Result:
        """Act on a live object (a copy: change it freely). Raise to be retried with back-off."""

    def finalize(self, obj: Object) -> Result:
        """Clean up before deletion; the finalizer is removed once this returns without error
        and without asking for a requeue."""
        return Result()

    def absent(self, key: str) -> Result:
        """The object is not (or no longer) there."""
        return Result()


@dataclass(frozen=True)
class ControllerOptions:
    label_selector: str | None = None
    finalizer: str | None = None
    workers: int = 2
    resync_period: float = 300.0
    backoff_base: float = 0.5
    backoff_cap: float = 300.0
    watch_timeout: int = 120
    watch_max_backoff: float = 10.0
    seed_keys: tuple[str, ...] = ()
    stuck_after: float = 300.0  # a reconcile running longer fails /healthz
    needs_leader: bool = False  # a cluster controller: runs only while holding the lease


class Controller:
    def __init__(
        self,
        name: str,
        client: ResourceClient,
        reconciler: Reconciler,
        metrics: Metrics,
        recorder: EventRecorder | None = None,
        options: ControllerOptions | None = None,
    ) -> None:
        self.name = name
        self.client = client
        self.reconciler = reconciler
        self.options = options or ControllerOptions()
        self.metrics = metrics
        self.recorder = recorder
        self.queue = WorkQueue(
            ExponentialBackoff(self.options.backoff_base, self.options.backoff_cap)
        )
        self.informer = Informer(
            name,
            client,
            self._on_change,
            metrics,
            label_selector=self.options.label_selector,
            watch_timeout=self.options.watch_timeout,
            max_backoff=self.options.watch_max_backoff,
            on_recovered=self._on_recovered,
        )
        self.watchdog = Watchdog(self.options.stuck_after)
        self._recovery_hooks: list[Callable[[], None]] = []
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        metrics.queue_depth.labels(name).set_function(self.queue.depth)
        metrics.queue_delayed.labels(name).set_function(self.queue.delayed)

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        targets = [(self.informer.run, "informer"), (self._resync_loop, "resync")]
        targets += [(self._work, f"worker-{i}") for i in range(self.options.workers)]
        for target, role in targets:
            thread = threading.Thread(target=target, name=f"{self.name}-{role}", daemon=True)
            thread.start()
            self._threads.append(thread)
        for key in self.options.seed_keys:
            self.queue.add(key)

    def stop(self, drain_timeout: float = 10.0) -> None:
        """Stop taking work, let reconciles in flight finish (up to *drain_timeout*), stop."""
        self._stopping.set()
        self.informer.stop()
        if not self.queue.shutdown(drain_timeout):
            log.warning("%s: reconciles still running after %.0f s", self.name, drain_timeout)
        for thread in self._threads:
            thread.join(timeout=max(0.1, drain_timeout))

    @property
    def needs_leader(self) -> bool:
        return self.options.needs_leader

    def healthy(self) -> bool:
        if self._stopping.is_set():
            return True
        stuck = self.watchdog.stuck()
        for worker, key, seconds in stuck:
            log.error("%s: %s has been reconciling %s for %.0f s", self.name, worker, key, seconds)
        return not stuck and all(t.is_alive() for t in self._threads)

    def ready(self) -> bool:
        return self.informer.synced.is_set() and not self._stopping.is_set()

    # -- events -> queue -------------------------------------------------------------------

    def _on_change(self, key: str, old: Object | None, new: Object | None) -> None:
        if old is not None and new is not None and not _worth_reconciling(old, new):
            return  # only status or resourceVersion moved (often our own status write)
        self.queue.add(key)

    def _on_recovered(self) -> None:
        """The API server is back: keys waiting out a back-off from the outage go now, not
        after a delay that grew while nothing could succeed (or at the next resync)."""
        retried = self.queue.retry_failed_now()
        if retried:
            log.info("%s: API server reachable again; retrying %d key(s) now", self.name, retried)
        for hook in self._recovery_hooks:
            hook()

    def when_recovered(self, hook: Callable[[], None]) -> None:
        """Call *hook* whenever this controller reaches the API server again after failures
        (e.g. to rescan disks whose objects could not be written meanwhile)."""
        self._recovery_hooks.append(hook)

    def _resync_loop(self) -> None:
        """Re-queue every cached key now and then: level-triggered repair of missed work."""
        period = self.options.resync_period
        while not self._stopping.wait(period * random.uniform(0.9, 1.1)):
            for key in set(self.informer.keys()) | set(self.options.seed_keys):
                self.queue.add(key)

    # -- workers ---------------------------------------------------------------------------

    def _work(self) -> None:
        worker = threading.current_thread().name
        while not self.informer.synced.wait(0.5):
            if self._stopping.is_set():
                return
        while True:
            try:
                key = self.queue.get()
            except ShutDownError:
                return
            self.watchdog.begin(worker, key)
            try:
                self._process(key)
            except Exception:  # a bug in the runtime itself: keep the worker alive, retry
                log.exception("%s: unexpected failure processing %s", self.name, key)
                self.queue.add_rate_limited(key)
            finally:
                self.watchdog.end(worker)
                self.queue.done(key)

    def _process(self, key: str) -> None:
        started = time.perf_counter()
        obj = self.informer.get(key)
        try:
            result = self._dispatch(key, copy.deepcopy(obj) if obj is not None else None)
        except Exception as error:
            self.metrics.errors.labels(self.name).inc()
            self.metrics.reconciles.labels(self.name, "error").inc()
            if obj is not None and is_final(error):
                self._rejected(key, obj, error)
                return
            delay = self.queue.add_rate_limited(key)
            retried = self._retried_conflict(key, error)
            log.log(
                logging.INFO if retried else logging.WARNING,
                "%s: reconcile of %s failed (%s); retrying in %.2f s",
                self.name, key, describe(error), delay,
            )  # fmt: skip
            if obj is not None and self.recorder is not None:
                self._record_failure(obj, error, retried)
        else:
            if obj is not None and (find_condition(obj, ACCEPTED) or {}).get("status") == "False":
                self._accepted(key)
            self.queue.forget(key)
            if result.requeue_after is not None:
                self.queue.add_after(key, result.requeue_after)
            outcome = "requeue" if result.requeue_after is not None else "success"
            self.metrics.reconciles.labels(self.name, outcome).inc()
        finally:
            self.metrics.duration.labels(self.name).observe(time.perf_counter() - started)

    def _retried_conflict(self, key: str, error: Exception) -> bool:
        """A 409 that fewer than CONFLICTS_BEFORE_WARNING attempts in a row have met (the log
        line is INFO and the event Normal); every other failure is a warning in both."""
        return is_status(error, 409) and (
            self.queue.backoff.failures(key) < CONFLICTS_BEFORE_WARNING
        )

    def _record_failure(self, obj: Object, error: Exception, retried: bool) -> None:
        assert self.recorder is not None
        message = describe(error)
        if retried:
            self.recorder.record(obj, "Normal", "ReconcileRetried", f"{message}; retrying")
        else:
            self.recorder.record(obj, "Warning", "ReconcileFailed", message)

    def _rejected(self, key: str, obj: Object, error: Exception) -> None:
        """The API server refused what this reconcile wrote (a 4xx no retry cures): say so on
        the object (``Accepted=False``) and wait for its next change (or the resync)."""
        message = describe(error)
        log.warning("%s: %s rejected by the API server (%s); not retrying", self.name, key, message)
        if self.recorder is not None:
            self.recorder.record(obj, "Warning", "Rejected", message)
        self.queue.forget(key)
        try:
            self._set_accepted(key, "False", reason_of(error), message)
        except Exception as write_error:
            delay = self.queue.add_rate_limited(key)
            log.warning(
                "%s: could not record the rejection on %s (%s); retrying in %.2f s",
                self.name, key, describe(write_error), delay,
            )  # fmt: skip

    def _accepted(self, key: str) -> None:
        try:
            self._set_accepted(key, "True", "Reconciled", "the API server accepted the changes")
        except Exception as error:
            log.warning("%s: could not clear Accepted=False on %s (%s)", self.name, key,
                        describe(error))  # fmt: skip

    def _set_accepted(self, key: str, status: Any, reason: str, message: str) -> None:
        # Read afresh: the reconcile may have written other conditions after our cache's copy.
        fresh = self.client.get(key)
        meta = fresh["metadata"]
        conditions = set_condition(
            (fresh.get("status") or {}).get("conditions"),
            ACCEPTED,
            status,
            reason,
            message,
            int(meta.get("generation") or 1),
        )
        self.client.patch_status(key, {"conditions": conditions}, meta["resourceVersion"])

    def _dispatch(self, key: str, obj: Object | None) -> Result:
        if obj is None:
            return self.reconciler.absent(key)
        finalizer = self.options.finalizer
        meta = obj["metadata"]
        finalizers: list[str] = list(meta.get("finalizers") or [])
        if meta.get("deletionTimestamp"):
            if finalizer is None or finalizer not in finalizers:
                return Result()  # someone else's finalizer holds it; nothing for us to do
            result = self.reconciler.finalize(obj)
            if result.requeue_after is not None:
                return result
            self._set_finalizers(key, obj, [f for f in finalizers if f != finalizer])
            if self.recorder is not None:
                self.recorder.record(obj, "Normal", "Finalized", f"{self.name}: cleaned up")
            return Result()
        if finalizer is not None and finalizer not in finalizers:
            obj = self._set_finalizers(key, obj, [*finalizers, finalizer])
        return self.reconciler.reconcile(obj)

    def _set_finalizers(self, key: str, obj: Object, finalizers: list[str]) -> Object:
        # resourceVersion makes this a conditional write: a stale cache gets 409 and a retry.
        patch = {
            "metadata": {
                "finalizers": finalizers,
                "resourceVersion": obj["metadata"]["resourceVersion"],
            }
        }
        return self.client.patch(key, patch)


def _worth_reconciling(old: Object, new: Object) -> bool:
    old_meta: dict[str, Any] = old.get("metadata") or {}
    new_meta: dict[str, Any] = new.get("metadata") or {}
    fields: Iterable[str] = (
        "generation",
        "labels",
        "annotations",
        "finalizers",
        "deletionTimestamp",
    )
    return any(old_meta.get(f) != new_meta.get(f) for f in fields)

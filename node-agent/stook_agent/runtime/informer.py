"""List + watch one resource into a local cache and report every change (a reflector).

The cache is filled by a LIST; a WATCH then resumes from the list's resourceVersion and from the
last event's (or bookmark's) resourceVersion after any disconnect, so an API server restart loses
nothing. When the server answers 410 Gone (the resourceVersion was compacted or fell out of the
watch cache) the informer lists again and reports every key that changed or vanished meanwhile.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any

import urllib3
from kubernetes.client.exceptions import ApiException

from stook_agent.runtime.client import Object, ResourceClient, object_key, watch_events
from stook_agent.runtime.errors import describe
from stook_agent.runtime.metrics import Metrics

log = logging.getLogger(__name__)

# handler(key, old, new): old is None for a new object, new is None for a deleted one.
Handler = Callable[[str, Object | None, Object | None], None]

# Errors after which the watch is resumed (from the same resourceVersion) after a back-off.
TRANSIENT: tuple[type[BaseException], ...] = (
    ApiException,
    urllib3.exceptions.HTTPError,
    OSError,
    ValueError,  # a truncated JSON line when the connection drops mid-event
)


class ExpiredError(Exception):
    """The server answered 410 Gone: the resourceVersion is too old; list again."""


class ShortWatchError(Exception):
    """A watch ended cleanly at once with no event (a proxy, a server going away): reopening
    it at once would spin, so it is retried with the same back-off as a failure."""


RETRIED: tuple[type[BaseException], ...] = (*TRANSIENT, ShortWatchError)


class Informer:
    def __init__(
        self,
        name: str,
        client: ResourceClient,
        handler: Handler,
        metrics: Metrics,
        label_selector: str | None = None,
        watch_timeout: int = 300,
        max_backoff: float = 10.0,
        on_recovered: Callable[[], None] | None = None,
        min_watch: float = 1.0,
    ) -> None:
        self.name = name
        self.client = client
        self.label_selector = label_selector
        self._handler = handler
        self._metrics = metrics
        self._watch_timeout = watch_timeout
        self._max_backoff = max_backoff
        self._on_recovered = on_recovered
        self._min_watch = min_watch
        self._failing = False
        self.opened = 0  # watches opened (tests and metrics count reopen rates)
        self._store: dict[str, Object] = {}
        self._lock = threading.Lock()
        self._resource_version: str | None = None
        self._stop = threading.Event()
        self._response: urllib3.BaseHTTPResponse | None = None
        self.synced = threading.Event()

    # -- cache -----------------------------------------------------------------------------

    def get(self, key: str) -> Object | None:
        with self._lock:
            return self._store.get(key)

    def keys(self) -> list[str]:
        with self._lock:
            return list(self._store)

    @property
    def resource_version(self) -> str | None:
        return self._resource_version

    # -- loop ------------------------------------------------------------------------------

    def run(self) -> None:
        """List and watch until ``stop``; never raises for API or network errors."""
        failures = 0
        reason = "initial"
        while not self._stop.is_set():
            try:
                if self._resource_version is None:
                    self._relist(reason)
                self._watch()
                failures = 0
            except ExpiredError as error:
                log.info("%s: watch expired (%s), listing again", self.name, error)
                self._resource_version = None
                reason = "expired"
            except RETRIED as error:
                if self._stop.is_set():
                    break
                failures += 1
                self._failing = True
                self._metrics.watch_errors.labels(self.name).inc()
                if self._resource_version is None:
                    reason = "error"
                delay = min(self._max_backoff, 0.2 * 2 ** min(failures, 10)) * random.uniform(
                    0.5, 1.0
                )
                log.warning(
                    "%s: list/watch failed (%s); retrying in %.1f s",
                    self.name,
                    describe(error),
                    delay,
                )
                self._stop.wait(delay)

    def stop(self) -> None:
        self._stop.set()
        response = self._response
        if response is not None:
            # Unblocks a read in progress in the informer thread.
            shutdown = getattr(response, "shutdown", None)
            # EBADF: the informer thread closed it first, which stops the read just as well.
            with contextlib.suppress(OSError):
                if shutdown is not None:
                    shutdown()
                response.close()

    # -- internals -------------------------------------------------------------------------

    def _relist(self, reason: str) -> None:
        items, resource_version = self.client.list_objects(self.label_selector)
        self._metrics.relists.labels(self.name, reason).inc()
        fresh = {object_key(item): _trim(item) for item in items}
        with self._lock:
            old, self._store = self._store, fresh
        self._resource_version = resource_version
        self._reachable()
        for key, obj in fresh.items():
            previous = old.get(key)
            if previous is None or _rv(previous) != _rv(obj):
                self._handler(key, previous, obj)
        for key in old.keys() - fresh.keys():
            self._handler(key, old[key], None)
        self.synced.set()

    def _watch(self) -> None:
        assert self._resource_version is not None
        timeout = int(self._watch_timeout * random.uniform(1.0, 1.5))
        try:
            response = self.client.watch(self._resource_version, self.label_selector, timeout)
        except ApiException as error:
            if error.status == 410:
                raise ExpiredError(str(error.reason)) from error
            raise
        self._response = response
        self.opened += 1
        self._reachable()
        started = time.monotonic()
        events = 0
        try:
            for event in watch_events(response):
                if self._stop.is_set():
                    return
                events += 1
                self._apply(event)
        except Exception:
            if self._stop.is_set():
                return  # stop() closed the connection under this read (urllib3 then fails oddly)
            raise
        finally:
            self._response = None
            response.release_conn()
        if events == 0 and time.monotonic() - started < self._min_watch:
            raise ShortWatchError("the watch ended at once without an event")

    def _reachable(self) -> None:
        """The API server answers again after failures: let the controller retry now."""
        if self._failing:
            self._failing = False
            if self._on_recovered is not None:
                self._on_recovered()

    def _apply(self, event: Object) -> None:
        kind = str(event.get("type"))
        obj: Object = _trim(event.get("object") or {})
        self._metrics.watch_events.labels(self.name, kind).inc()
        if kind == "ERROR":
            code = obj.get("code")
            message = f"{obj.get('reason')}: {obj.get('message')}"
            if code == 410:
                raise ExpiredError(message)
            raise ApiException(status=code, reason=message)
        self._resource_version = _rv(obj) or self._resource_version
        if kind == "BOOKMARK":
            return
        key = object_key(obj)
        with self._lock:
            old = self._store.get(key)
            if kind == "DELETED":
                self._store.pop(key, None)
            else:
                self._store[key] = obj
        self._handler(key, old, None if kind == "DELETED" else obj)


def _trim(obj: Object) -> Object:
    """Drop what no reconciler reads but every object carries: ``managedFields`` (server-side
    apply bookkeeping) is often the biggest part of a small object (client-go's informers
    offer the same trim as a transform)."""
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        meta.pop("managedFields", None)
    return obj


def _rv(obj: Object) -> str | None:
    meta: dict[str, Any] = obj.get("metadata") or {}
    version = meta.get("resourceVersion")
    return str(version) if version else None

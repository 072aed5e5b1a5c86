"""An informer of a cluster-wide kind as a manager runnable: every change wakes the controller
keys registered with ``wakes`` (the node side's networks and upgrade requests)."""

from __future__ import annotations

import threading

from stook_agent.runtime.client import Object, ResourceClient
from stook_agent.runtime.controller import Controller
from stook_agent.runtime.informer import Informer
from stook_agent.runtime.metrics import Metrics


class Watched:
    """An informer of a cluster-wide kind whose every change wakes one controller key."""

    needs_leader = False

    def __init__(self, name: str, client: ResourceClient, metrics: Metrics) -> None:
        self.name = name
        self._wake: list[tuple[Controller, str]] = []
        self.informer = Informer(name, client, self._changed, metrics)
        self._thread: threading.Thread | None = None

    def wakes(self, controller: Controller, key: str) -> None:
        self._wake.append((controller, key))

    def _changed(self, _key: str, _old: Object | None, _new: Object | None) -> None:
        for controller, key in self._wake:
            controller.queue.add(key)

    def objects(self) -> list[Object]:
        keys = self.informer.keys()
        return [obj for key in keys if (obj := self.informer.get(key)) is not None]

    def start(self) -> None:
        self._thread = threading.Thread(target=self.informer.run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, drain_timeout: float = 10.0) -> None:
        self.informer.stop()
        if self._thread is not None:
            self._thread.join(timeout=drain_timeout)

    def healthy(self) -> bool:
        return self._thread is None or self._thread.is_alive()

    def ready(self) -> bool:
        return self.informer.synced.is_set()

"""The upgrade rollout controller (the cluster side) as a process of its own on this host, as
the leader's stook-agent runs it: ``stook_agent.upgrades.setup.rollout_controller`` over a
kubeconfig (in the e2e tier the chart's stook-controller ServiceAccount token, so its RBAC is
the real one). ``RolloutProcess.kill()`` is SIGKILL: nothing is flushed or cleaned up, as when
the leader's node loses power; the next process continues from the Upgrade's status.

    python -m support.rollout_process KUBECONFIG   (from tests/, as the e2e tier starts it)
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from kubernetes import config

from stook_agent.runtime.client import ResourceClient
from stook_agent.runtime.events import EventRecorder
from stook_agent.runtime.metrics import Metrics
from stook_agent.upgrades.setup import rollout_controller

TESTS = Path(__file__).resolve().parents[1]
READY = "rollout controller ready"


class RolloutProcess:
    """One controller process; its output goes to *log*."""

    def __init__(self, kubeconfig: Path, log: Path) -> None:
        self.kubeconfig = kubeconfig
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> None:
        env = os.environ | {"PYTHONPATH": str(TESTS)}
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "support.rollout_process", str(self.kubeconfig)],
                stdout=subprocess.PIPE, stderr=out, env=env, cwd=TESTS,
            )  # fmt: skip
        assert self.process.stdout is not None
        ready = threading.Event()

        def read() -> None:
            assert self.process is not None and self.process.stdout is not None
            for line in self.process.stdout:
                if READY.encode() in line:
                    ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(timeout):
            self.kill()
            raise AssertionError(f"the rollout controller did not start: {self.tail()}")

    def kill(self) -> None:
        """SIGKILL (no graceful stop)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"


def main(kubeconfig: str) -> None:
    api = config.new_client_from_config(config_file=kubeconfig)
    controller = rollout_controller(
        lambda resource: ResourceClient(api, resource),
        Metrics(),
        EventRecorder(api, "stook-controller", ""),
        resync_period=30.0,
    )
    controller.start()
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    while not controller.ready():
        if stopped.wait(0.2):
            break
    print(READY, flush=True)
    stopped.wait()
    controller.stop(drain_timeout=10)


if __name__ == "__main__":
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    main(sys.argv[1])

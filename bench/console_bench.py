#!/usr/bin/env python3
"""Bench the web console in Debian's chromium against a real kube-apiserver (tests/support).

Measures (1) page load time (navigation start to the load event, from the browser's
Navigation Timing) of the overview, the OS versions page and an upgrade's progress page, with
``--nodes`` nodes (Node, NodeStatus, NodeUpgrade each) and a running upgrade over all of them;
and (2) the time from a status change written to the API server (just before the PATCH) to the
browser showing it (a MutationObserver on the progress page stamps the moment the new message
appears; both clocks are this machine's), over ``--samples`` changes.
Usage: .venv/bin/python bench/console_bench.py [--nodes 20] [--loads 20] [--samples 30]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from kubernetes import client as k8s  # noqa: E402
from kubernetes import config  # noqa: E402
from playwright.sync_api import Page  # noqa: E402

from integration.agent.kubehelpers import install_crds  # noqa: E402
from integration.console.conftest import NAMESPACE  # noqa: E402
from integration.upgrades.test_rollout import Rig  # noqa: E402
from stook_agent.upgrades.resources import UPGRADE  # noqa: E402
from support.apiserver import running_cluster  # noqa: E402
from support.browser import chromium, running_console, service_account_user, sign_in  # noqa: E402
from support.chart import apply_chart  # noqa: E402

LOAD_TIME = """() => { const n = performance.getEntriesByType('navigation')[0];
                       return n.loadEventEnd - n.startTime; }"""
OBSERVE = """() => { window.seen = {};
  new MutationObserver(() => {
    const text = document.querySelector('[data-testid=message]')?.textContent || '';
    const m = text.match(/bench-\\d+/);
    if (m && !(m[0] in window.seen)) window.seen[m[0]] = Date.now();
  }).observe(document.querySelector('#live'),
             {childList: true, subtree: true, characterData: true});
}"""
LIVE = "() => document.querySelector('[data-live-state]').textContent.includes('on')"
SEEN = "(marker) => window.seen && window.seen[marker]"


def figures(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"median {statistics.median(ordered):7.1f} ms, p95 {p95:7.1f} ms, n={len(ordered)}"


def page_loads(page: Page, path: str, loads: int) -> list[float]:
    times = []
    for _ in range(loads):
        page.goto(path, wait_until="load")
        times.append(float(page.evaluate(LOAD_TIME)))
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=20)
    parser.add_argument("--loads", type=int, default=20)
    parser.add_argument("--samples", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, running_cluster(Path(tmp)) as cluster:
        api = config.new_client_from_config(config_file=str(cluster.kubeconfig))
        install_crds(api)
        apply_chart(api)
        k8s.CoreV1Api(api).create_namespace({"metadata": {"name": NAMESPACE}})
        admin = service_account_user(api, NAMESPACE, "bench-admin", "stook-upgrade-operator")
        rig = Rig(api, uuid.uuid4().hex[:8], "http://127.0.0.1:9/image")
        names = [rig.node(f"n{i:03d}", control_plane=i < 3) for i in range(args.nodes)]
        upgrade = rig.upgrade(rig.os_version())
        nodes = [{"name": n, "step": "Downloading", "totalBytes": 1 << 30,
                  "bytesDownloaded": 1 << 29, "times": {"Draining": "2026-12-01T10:00:00Z"}}
                 for n in names]  # fmt: skip
        rig.client(UPGRADE).patch_status(upgrade, {"phase": "Running", "nodes": nodes,
                                                   "progress": f"0/{len(names)}"})  # fmt: skip
        with (
            running_console(Path(tmp), "--kubeconfig", str(cluster.kubeconfig)) as console,
            chromium() as browser,
        ):
            context = browser.new_context(base_url=console.url, ignore_https_errors=True,
                                          viewport={"width": 1280, "height": 800})  # fmt: skip
            page = context.new_page()
            sign_in(page, admin)
            print(f"page load, {args.nodes} nodes, a running upgrade over all of them "
                  "(navigation start to load event):")  # fmt: skip
            for path in ("/", "/versions", f"/upgrades/{upgrade}"):
                name = path.split("/")[1] or "overview"
                print(f"  {name:9} {figures(page_loads(page, path, args.loads))}")
            page.goto(f"/upgrades/{upgrade}")
            page.wait_for_function(LIVE)
            page.evaluate(OBSERVE)
            latencies = []
            for i in range(args.samples):
                marker = f"bench-{i}"
                written = time.time() * 1000
                rig.client(UPGRADE).patch_status(upgrade, {"message": marker})
                page.wait_for_function(SEEN, arg=marker, timeout=30_000)
                latencies.append(float(page.evaluate(SEEN, marker)) - written)
                time.sleep(0.3)
            print("status change in the API server -> shown in the browser (watch, SSE, DOM):")
            print(f"            {figures(latencies)}")
            context.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The whole console at rest: ``manage.py serve`` (daphne, the q2 cluster, the ticker)
in embedded mode at the default 15 s collection interval, no browser open. After 30 s
to settle, CPU of the whole process tree over 90 s as a share of one core (target under
2 %) and its total PSS (target under 200 MiB). The reference beside it: Debian's
prometheus-node-exporter over the same window, scraped every 15 s as Prometheus would.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ServedConsole, free_port
from bench_collector import NODE_EXPORTER

SETTLE, WINDOW = 30, 90


def _cpu(processes) -> float:
    total = 0.0
    for process in processes:
        with contextlib.suppress(Exception):
            times = process.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
    return total


def run():
    import subprocess

    import httpx
    import psutil
    from run import Result

    exporter = None
    stop = threading.Event()
    if NODE_EXPORTER:
        port = free_port()
        exporter = subprocess.Popen(
            [NODE_EXPORTER, f"--web.listen-address=127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        def scrape():
            while not stop.wait(15):
                with contextlib.suppress(httpx.HTTPError):
                    httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)

        threading.Thread(target=scrape, daemon=True).start()
    console = ServedConsole()
    try:
        time.sleep(SETTLE)
        tree = console.tree()
        before = {p.pid: _cpu([p]) for p in tree}
        ne = psutil.Process(exporter.pid) if exporter else None
        ne_before = _cpu([ne]) if ne else 0.0
        started = time.monotonic()
        time.sleep(WINDOW)
        elapsed = time.monotonic() - started
        tree_after = console.tree()
        used = sum(_cpu([p]) - before.get(p.pid, 0.0) for p in tree_after)
        ne_used = (_cpu([ne]) - ne_before) if ne else None
        pss = 0
        for process in tree_after:
            with contextlib.suppress(Exception):
                pss += process.memory_full_info().pss
        ne_rss = ne.memory_info().rss if ne else None
    finally:
        console.stop()
        stop.set()
        if exporter:
            exporter.terminate()
            exporter.wait(10)
    share = used / elapsed * 100
    results = []
    ne_share = ne_used / elapsed * 100 if ne_used is not None else None
    results.append(
        Result(
            f"console at rest, CPU ({len(tree_after)} processes, {WINDOW} s)",
            f"{share:.2f} % of a core",
            f"node_exporter {ne_share:.2f} % of a core" if ne_share is not None else "-",
            share / ne_share if ne_share else 0.0,
            "< 2 % of a core",
            share < 2.0,
        )
    )
    results.append(
        Result(
            "console at rest, memory (PSS of the tree)",
            f"{pss / 2**20:.0f} MiB",
            f"node_exporter RSS {ne_rss / 2**20:.0f} MiB" if ne_rss else "-",
            pss / ne_rss if ne_rss else 0.0,
            "< 200 MiB",
            pss < 200 * 2**20,
        )
    )
    return results

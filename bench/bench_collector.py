"""The collector's cost.

1. One host-vitals cycle (CPU total and per core, load, memory, swap, disks, disk and
   network I/O: what node_exporter's default collectors also cover), CPU time of this
   process, against the CPU time Debian's prometheus-node-exporter spends answering one
   scrape of /metrics, run beside it. Target: at most 0.25x. The full cycle with the
   top-N process inventory is shown beside it; its own target is the next figure.
2. The process inventory with 1,500 processes running, wall time against
   ``ps -eo pid,user,pcpu,pmem,rss,stat,comm`` listing the same. Target: at most 3x.
Medians of 15 runs each after a warm-up run; node_exporter's CPU is the total over
60 scrapes divided by 60, as the kernel counts it in 10 ms ticks.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import free_port, median

RUNS = 15
EXTRA_PROCESSES = 1500
NODE_EXPORTER = shutil.which("prometheus-node-exporter") or shutil.which("node_exporter")


def _collector():
    from _common import django_setup

    django_setup(migrate=False)
    from metrics.collector import Collector

    collector = Collector(hostname="bench", top_n=10)
    collector.collect()  # warm-up: primes the counters rates are computed from
    return collector


def _cycle_cpu(collector, *, processes: bool) -> float:
    samples = []
    for _ in range(RUNS):
        time.sleep(0.2)
        started = time.process_time()
        collector.collect(processes=processes)
        samples.append(time.process_time() - started)
    return median(samples)


def _scrape_cpu() -> float:
    import httpx
    import psutil

    port = free_port()
    exporter = subprocess.Popen(
        [NODE_EXPORTER, f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}/metrics"
        for _ in range(100):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url, timeout=5).status_code == 200:
                    break
            time.sleep(0.1)
        process = psutil.Process(exporter.pid)
        # The kernel counts CPU in 10 ms ticks: measure many scrapes, divide the total.
        scrapes = RUNS * 4
        before = process.cpu_times()
        for _ in range(scrapes):
            httpx.get(url, timeout=10).raise_for_status()
        after = process.cpu_times()
        return ((after.user + after.system) - (before.user + before.system)) / scrapes
    finally:
        exporter.terminate()
        exporter.wait(10)


def _inventory_wall(collector) -> tuple[float, float, int]:
    import psutil

    sleepers = []
    try:
        for _ in range(EXTRA_PROCESSES):
            sleepers.append(
                subprocess.Popen(
                    ["sleep", "600"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                )
            )
        count = len(psutil.pids())
        collector.collect()  # the new processes' first counters
        ours, ps = [], []
        for _ in range(RUNS):
            started = time.perf_counter()
            collector._processes({}, 1.0)
            ours.append(time.perf_counter() - started)
            started = time.perf_counter()
            subprocess.run(
                ["ps", "-eo", "pid,user,pcpu,pmem,rss,stat,comm"],
                stdout=subprocess.DEVNULL,
                check=True,
            )
            ps.append(time.perf_counter() - started)
        return median(ours), median(ps), count
    finally:
        for sleeper in sleepers:
            with contextlib.suppress(ProcessLookupError):
                sleeper.kill()
        for sleeper in sleepers:
            sleeper.wait()


def run():
    from run import Result

    results = []
    collector = _collector()
    ours = _cycle_cpu(collector, processes=False)
    full = _cycle_cpu(collector, processes=True)
    if NODE_EXPORTER is None:
        results.append(
            Result(
                "one vitals cycle, CPU",
                f"{ours * 1000:.1f} ms CPU",
                "-",
                0.0,
                "<= 0.25",
                None,
                "prometheus-node-exporter is not installed (apt-get install prometheus-node-exporter)",
            )
        )
    else:
        scrape = _scrape_cpu()
        results.append(
            Result(
                "one host-vitals cycle, CPU",
                f"{ours * 1000:.2f} ms CPU",
                f"node_exporter scrape {scrape * 1000:.2f} ms CPU",
                ours / scrape,
                "<= 0.25",
                ours / scrape <= 0.25,
                f"with the top-10 process inventory: {full * 1000:.1f} ms CPU",
            )
        )
    inventory, ps, count = _inventory_wall(collector)
    results.append(
        Result(
            f"process inventory with {count} processes, wall",
            f"{inventory * 1000:.1f} ms",
            f"ps -eo {ps * 1000:.1f} ms",
            inventory / ps,
            "<= 3.0",
            inventory / ps <= 3.0,
        )
    )
    return results

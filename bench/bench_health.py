"""One health-check cycle over 500 HTTP endpoints, against a bare asyncio + httpx gather.

A small asyncio HTTP server in its own process answers every request. The cycle is
``healthchecks.runner.run_checks``: it loads the endpoints, probes them concurrently,
stores 500 results and steps 500 states. The reference sends the same 500 requests with
``asyncio.gather`` over one ``httpx.AsyncClient`` and does nothing else. Both run
alternately, five times each, on the embedded SQLite database; the figure is the ratio
of the medians. Target: at most 1.5x.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, child_env, free_port, median, run_worker

ENDPOINTS = 500
ROUNDS = 5
MAX_CONNECTIONS = 100  # healthchecks.runner.MAX_CONNECTIONS


def run():
    from run import Result

    figures = run_worker("bench_health.py", ["cycle"], child_env(), timeout=600)
    ours, bare, slotted = figures["cycle"], figures["gather"], figures["slotted"]
    return [
        Result(
            f"one check cycle, {ENDPOINTS} HTTP endpoints",
            f"{ours * 1000:.0f} ms",
            f"bare asyncio+httpx gather {bare * 1000:.0f} ms",
            ours / bare,
            "<= 1.5",
            ours / bare <= 1.5,
            f"medians of {ROUNDS}; {figures['up']} endpoints up",
        ),
        # The bare gather queues 500 requests on httpx's 100-connection pool, which
        # costs it more than the cycle's own 100-slot semaphore; against a gather with
        # the same semaphore the cycle's own overhead shows.
        Result(
            f"one check cycle, {ENDPOINTS} HTTP endpoints (same concurrency)",
            f"{ours * 1000:.0f} ms",
            f"gather behind a {MAX_CONNECTIONS}-slot semaphore {slotted * 1000:.0f} ms",
            ours / slotted,
            "<= 1.5",
            ours / slotted <= 1.5,
            "the overhead of storing results and stepping states",
        ),
    ]


async def _serve(port: int) -> None:
    body = b"ok"
    response = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n" + body

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if not head:
                    break
                writer.write(response)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


def _wait_for(port: int) -> None:
    import socket

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the benchmark's HTTP server did not start")


def _worker_cycle() -> dict:
    import httpx
    from _common import django_setup

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "bench_health.py"), "--serve", str(port)]
    )
    try:
        _wait_for(port)
        django_setup()
        from healthchecks.models import ServiceEndpoint
        from healthchecks.runner import run_checks

        urls = [f"http://127.0.0.1:{port}/svc/{i}/health" for i in range(ENDPOINTS)]
        ServiceEndpoint.objects.bulk_create(
            [
                ServiceEndpoint(name=f"svc-{i}", kind="http", target=url, interval_seconds=30)
                for i, url in enumerate(urls)
            ]
        )
        ids = list(ServiceEndpoint.objects.values_list("pk", flat=True))

        async def gather() -> list[int]:
            # A generous timeout: on a busy machine 500 requests may queue for the
            # default pool's 100 connections longer than its 5 s pool timeout.
            async with httpx.AsyncClient(timeout=60) as client:
                responses = await asyncio.gather(*(client.get(url) for url in urls))
            return [r.status_code for r in responses]

        async def slotted_gather() -> list[int]:
            slots = asyncio.Semaphore(MAX_CONNECTIONS)
            async with httpx.AsyncClient(timeout=60) as client:

                async def one(url: str):
                    async with slots:
                        return await client.get(url)

                responses = await asyncio.gather(*(one(url) for url in urls))
            return [r.status_code for r in responses]

        # Warm both paths once: the first cycle also writes each endpoint's first flip.
        assert set(asyncio.run(gather())) == {200}
        run_checks(ids)
        ours, bare, slotted = [], [], []
        for _ in range(ROUNDS):
            started = time.perf_counter()
            asyncio.run(gather())
            bare.append(time.perf_counter() - started)
            started = time.perf_counter()
            asyncio.run(slotted_gather())
            slotted.append(time.perf_counter() - started)
            started = time.perf_counter()
            run_checks(ids)
            ours.append(time.perf_counter() - started)
        up = ServiceEndpoint.objects.filter(state="up").count()
        return {
            "cycle": median(ours),
            "gather": median(bare),
            "slotted": median(slotted),
            "up": up,
        }
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    import json

    if sys.argv[1:2] == ["--serve"]:
        asyncio.run(_serve(int(sys.argv[2])))
    elif sys.argv[1:3] == ["--worker", "cycle"]:
        print(json.dumps(_worker_cycle()))
    else:
        print(run())

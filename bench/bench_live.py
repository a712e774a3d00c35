"""The live path: from a collection being stored to the websocket frame at 100 browsers.

The real console runs (``manage.py serve``, embedded mode: SQLite, the SQLite channel
layer). A separate process, as a q2 worker would, ingests a collection for one host
every 0.3 s through ``metrics.ingest``; 100 websocket clients signed in as the admin
watch that host's vitals and time each frame against the sample time it carries.
Target: p99 under 200 ms. The reference beside it: a bare ``websockets`` server that
relays the same events (a datagram from a publisher process, broadcast as a frame of
the same size) to 100 clients. Run again with Redis (channels-redis) when it answers.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, ServedConsole, child_env, free_port, percentile

CLIENTS, EVENTS, PERIOD = 100, 40, 0.3
HOSTNAME = "bench-live"
TIME_ATTR = re.compile(r'data-time="([^"]+)"')


# -- clients ---------------------------------------------------------------------------------
async def _clients(url: str, headers: dict, origin: str, stamp_of, expected: int) -> list[float]:
    import websockets

    latencies: list[float] = []
    ready = 0
    all_ready = asyncio.Event()
    done = asyncio.Event()

    async def one():
        nonlocal ready
        async with websockets.connect(
            url, origin=origin, additional_headers=headers, max_size=2**22
        ) as ws:
            ready += 1
            if ready == CLIENTS:
                all_ready.set()
            while not done.is_set():
                try:
                    frame = await asyncio.wait_for(ws.recv(), timeout=1)
                except TimeoutError:
                    continue
                arrived = time.time()
                stamp = stamp_of(frame)
                if stamp is not None:
                    latencies.append(arrived - stamp)
                    if len(latencies) >= expected:
                        done.set()

    tasks = [asyncio.create_task(one()) for _ in range(CLIENTS)]
    await asyncio.wait_for(all_ready.wait(), timeout=60)
    return tasks, latencies, done


def _console_stamp(frame: str) -> float | None:
    found = TIME_ATTR.search(frame)
    if not found or not found.group(1):
        return None
    return datetime.fromisoformat(found.group(1)).timestamp()


def _bare_stamp(frame: str) -> float | None:
    return float(frame.split("|", 1)[0])


async def _measure(url, headers, origin, stamp_of, start_publisher) -> list[float]:
    tasks, latencies, done = await _clients(url, headers, origin, stamp_of, CLIENTS * EVENTS)
    await asyncio.sleep(1.0)  # group membership settles
    latencies.clear()
    publisher = start_publisher()
    try:
        await asyncio.wait_for(done.wait(), timeout=EVENTS * PERIOD + 60)
    except TimeoutError:
        pass
    finally:
        done.set()
        publisher.wait(60)
        await asyncio.gather(*tasks, return_exceptions=True)
    return latencies


# -- the console side ------------------------------------------------------------------------
def _console_run(extra_env: dict) -> tuple[list[float], int]:
    import httpx

    console = ServedConsole(**extra_env)
    try:
        # A first collection creates the host; its id names the websocket group.
        host_id = int(_publisher(console.env, 1, prepare=True).stdout.strip().splitlines()[-1])
        with httpx.Client(base_url=console.url) as client:
            client.get("/login/")
            client.post(
                "/login/",
                data={
                    "username": "admin",
                    "password": console.password,
                    "csrfmiddlewaretoken": client.cookies["csrftoken"],
                },
                headers={"Referer": f"{console.url}/login/"},
            )
            session = client.cookies["sessionid"]
        url = console.url.replace("http://", "ws://") + f"/ws/vitals/{host_id}/"
        latencies = asyncio.run(
            _measure(
                url,
                {"Cookie": f"sessionid={session}"},
                console.url,
                _console_stamp,
                lambda: _publisher(console.env, EVENTS, wait=False),
            )
        )
        return latencies, host_id
    finally:
        console.stop()


def _publisher(env: dict, events: int, *, prepare: bool = False, wait: bool = True):
    argv = [sys.executable, str(Path(__file__)), "--worker", "publish", str(events)]
    if prepare:
        argv.append("--prepare")
    env = {
        **env,
        "OPSCONSOLE_PROCESS": "worker",
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "opsconsole.settings",
    }
    if wait:
        return subprocess.run(
            argv, env=env, capture_output=True, text=True, check=True, timeout=120
        )
    return subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _publish(events: int, prepare: bool) -> None:
    """In the publisher process: ingest a collection for HOSTNAME every PERIOD seconds."""
    import django

    sys.path.insert(0, str(ROOT))
    django.setup()
    from metrics.collector import Collector
    from metrics.ingest import collection_to_batch, ingest

    collector = Collector(hostname=HOSTNAME, top_n=10)
    for index in range(events):
        started = time.monotonic()
        collection = collector.collect(processes=True)
        collection.time = datetime.now(UTC)  # the moment it is handed to ingest
        result = ingest(collection_to_batch(collection))
        if prepare:
            print(result.host.pk)
        if index < events - 1:
            time.sleep(max(PERIOD - (time.monotonic() - started), 0))


# -- the bare reference ----------------------------------------------------------------------
def _bare_run(frame_size: int) -> list[float]:
    ws_port, udp_port = free_port(), free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__)),
            "--worker",
            "bare-server",
            str(ws_port),
            str(udp_port),
            str(frame_size),
        ],
        env=child_env(),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        server.stdout.readline()  # "ready"
        return asyncio.run(
            _measure(
                f"ws://127.0.0.1:{ws_port}/",
                {},
                "http://127.0.0.1",
                _bare_stamp,
                lambda: subprocess.Popen(
                    [
                        sys.executable,
                        str(Path(__file__)),
                        "--worker",
                        "bare-publish",
                        str(udp_port),
                    ],
                    env=child_env(),
                ),
            )
        )
    finally:
        server.terminate()
        server.wait(10)


def _bare_server(ws_port: int, udp_port: int, frame_size: int) -> None:
    import websockets
    from websockets.asyncio.server import broadcast, serve

    clients = set()

    async def handler(ws):
        clients.add(ws)
        try:
            await ws.wait_closed()
        finally:
            clients.discard(ws)

    class Relay(asyncio.DatagramProtocol):
        def datagram_received(self, data, addr):
            stamp = data.decode()
            broadcast(clients, f"{stamp}|".ljust(frame_size, "x"))

    async def main():
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(Relay, local_addr=("127.0.0.1", udp_port))
        async with serve(handler, "127.0.0.1", ws_port, max_size=2**22):
            print("ready", flush=True)
            await asyncio.Future()

    del websockets
    asyncio.run(main())


def _bare_publish(udp_port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _ in range(EVENTS):
            sock.sendto(repr(time.time()).encode(), ("127.0.0.1", udp_port))
            time.sleep(PERIOD)


# -- the benchmark ---------------------------------------------------------------------------
def run():
    from run import Result

    results = []
    ours, _ = _console_run({})
    frame_size = 12_000
    bare = _bare_run(frame_size)
    ours_p99, bare_p99 = percentile(ours, 0.99), percentile(bare, 0.99)
    results.append(
        Result(
            f"live path, embedded (SQLite layer), {CLIENTS} clients x {EVENTS} events",
            f"p99 {ours_p99 * 1000:.0f} ms (p50 {percentile(ours, 0.5) * 1000:.0f} ms, {len(ours)} frames)",
            f"bare websockets p99 {bare_p99 * 1000:.1f} ms",
            ours_p99 / bare_p99,
            "p99 < 200 ms",
            ours_p99 < 0.2 and len(ours) >= CLIENTS * EVENTS * 0.99,
        )
    )
    if _redis_up():
        redis_lat, _ = _console_run({"REDIS_URL": "redis://127.0.0.1:6379/2"})
        p99 = percentile(redis_lat, 0.99)
        results.append(
            Result(
                f"live path, channels-redis, {CLIENTS} clients x {EVENTS} events",
                f"p99 {p99 * 1000:.0f} ms (p50 {percentile(redis_lat, 0.5) * 1000:.0f} ms, {len(redis_lat)} frames)",
                f"bare websockets p99 {bare_p99 * 1000:.1f} ms",
                p99 / bare_p99,
                "p99 < 200 ms",
                p99 < 0.2 and len(redis_lat) >= CLIENTS * EVENTS * 0.99,
            )
        )
    return results


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


if __name__ == "__main__" and sys.argv[1:2] == ["--worker"]:
    mode = sys.argv[2]
    if mode == "publish":
        _publish(int(sys.argv[3]), "--prepare" in sys.argv)
    elif mode == "bare-server":
        _bare_server(int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    elif mode == "bare-publish":
        _bare_publish(int(sys.argv[3]))
    else:
        print(json.dumps({"error": f"unknown mode {mode}"}))

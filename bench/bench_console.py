"""The alerts console's live path and a reconnect storm, on the real console.

``manage.py serve`` runs (embedded mode: SQLite and its channel layer; again with
channels-redis when Redis answers). 200 websocket clients signed in as the admin hold
the alerts console open; a separate process, as the engine would, raises a new alert
every 0.3 s through AlertService and notes the moment each one's transaction committed
(an on-commit hook registered before the service's own). Each client notes when the
frame carrying the new row arrived; latency is arrival minus commit.
Target: p99 under 200 ms. Reference, in the same run: a bare channel-layer
``group_send`` round trip (send to a group, receive on a member channel) between two
processes on the same layer.

Reconnect storm: 500 clients open the console's socket at once; none may be refused
and all must be connected within 5 s.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, ServedConsole, child_env, percentile

CLIENTS, EVENTS, PERIOD = 200, 30, 0.3
CLIENT_PROCESSES = 4
STORM = 500
BENCH_TITLE = re.compile(r"Bench alert (\d+)<")


def _session(console) -> str:
    import httpx

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
        return client.cookies["sessionid"]


async def _watch(url: str, cookie: str, origin: str, clients: int) -> list[tuple[int, float]]:
    """In a client process: hold ``clients`` consoles open, say "ready", and return
    (alert index, arrival time) of every frame carrying a new alert's row."""
    import websockets

    arrivals: list[tuple[int, float]] = []
    connected = 0
    all_connected = asyncio.Event()
    done = asyncio.Event()
    expected = clients * EVENTS

    async def one():
        nonlocal connected
        async with websockets.connect(
            url, origin=origin, additional_headers={"Cookie": cookie}, max_size=2**22
        ) as ws:
            connected += 1
            if connected == clients:
                all_connected.set()
            while not done.is_set():
                try:
                    frame = await asyncio.wait_for(ws.recv(), timeout=1)
                except TimeoutError:
                    continue
                arrived = time.time()
                found = BENCH_TITLE.search(frame)
                if found:
                    arrivals.append((int(found.group(1)), arrived))
                    if len(arrivals) >= expected:
                        done.set()

    tasks = [asyncio.create_task(one()) for _ in range(clients)]
    await asyncio.wait_for(all_connected.wait(), timeout=120)
    print("ready", flush=True)
    try:
        await asyncio.wait_for(done.wait(), timeout=EVENTS * PERIOD + 60)
    except TimeoutError:
        pass
    finally:
        done.set()
        await asyncio.gather(*tasks, return_exceptions=True)
    return arrivals


def _watch_from_processes(url, cookie, origin, env, start_raising):
    """The clients live in CLIENT_PROCESSES processes, so one client loop reading 200
    sockets in turn does not add its own queueing to the figure."""
    per = CLIENTS // CLIENT_PROCESSES
    watchers = [
        subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__)),
                "--worker",
                "watch",
                url,
                cookie,
                origin,
                str(per),
            ],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(CLIENT_PROCESSES)
    ]
    for watcher in watchers:
        if watcher.stdout.readline().strip() != "ready":
            raise RuntimeError("a client process could not connect its consoles")
    time.sleep(1.0)  # group membership settles
    raiser = start_raising()
    arrivals: list[tuple[int, float]] = []
    for watcher in watchers:
        output, _ = watcher.communicate(timeout=EVENTS * PERIOD + 120)
        arrivals += [tuple(item) for item in json.loads(output.strip().splitlines()[-1])]
    return arrivals, raiser


async def _storm(url: str, cookie: str, origin: str) -> tuple[int, int, float, str]:
    """(connected, refused, seconds until the last one connected, why some failed)."""
    import websockets

    started = time.perf_counter()
    last = 0.0
    opened: list = []
    failures: Counter = Counter()

    async def one():
        nonlocal last
        try:
            ws = await websockets.connect(url, origin=origin, additional_headers={"Cookie": cookie})
        except Exception as exc:
            failures[f"{exc.__class__.__name__}: {exc}"[:120]] += 1
            return False
        last = max(last, time.perf_counter() - started)
        opened.append(ws)
        return True

    results = await asyncio.gather(*(one() for _ in range(STORM)))
    for ws in opened:
        await ws.close()
    why = "; ".join(f"{n} x {reason}" for reason, n in failures.most_common(3))
    return sum(results), results.count(False), last, why


def _worker(env: dict, mode: str, *args: str, wait: bool = True):
    argv = [sys.executable, str(Path(__file__)), "--worker", mode, *args]
    env = {
        **env,
        "OPSCONSOLE_PROCESS": "worker",
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "opsconsole.settings",
    }
    if wait:
        return subprocess.run(
            argv, env=env, capture_output=True, text=True, check=True, timeout=300
        )
    return subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )


def _raise_alerts(events: int) -> None:
    """In the engine's place: a new alert every PERIOD seconds; prints when each one's
    transaction committed, {index: unix time}, as the last line."""
    import django

    sys.path.insert(0, str(ROOT))
    django.setup()
    from django.db import transaction

    from alerts.service import Alert, AlertService

    service = AlertService()
    run = time.time_ns()
    committed: dict[int, float] = {}
    for index in range(events):
        started = time.monotonic()
        with transaction.atomic():
            # Runs first after the commit, before the service publishes the change.
            transaction.on_commit(lambda i=index: committed.__setitem__(i, time.time()))
            service.create_alert(
                Alert(
                    alert_type="bench_alert",
                    title=f"Bench alert {index}",
                    message="raised by the console benchmark",
                    priority="warning",
                    resource=f"bench-{run}-{index}",
                )
            )
        time.sleep(max(PERIOD - (time.monotonic() - started), 0))
    print(json.dumps(committed))


def _round_trips(count: int) -> None:
    """The reference: group_send from this process to a channel read here too, through
    the same layer the console uses (so the same polling or Redis hop)."""
    import django

    sys.path.insert(0, str(ROOT))
    django.setup()
    from channels.layers import get_channel_layer

    async def main():
        layer = get_channel_layer()
        channel = await layer.new_channel(prefix="bench.")
        await layer.group_add("bench-reference", channel)
        trips = []
        for _ in range(count):
            started = time.perf_counter()
            await layer.group_send("bench-reference", {"type": "bench.ping"})
            await layer.receive(channel)
            trips.append(time.perf_counter() - started)
            await asyncio.sleep(PERIOD / 3)
        await layer.group_discard("bench-reference", channel)
        return trips

    print(json.dumps(asyncio.run(main())))


def _measure(extra_env: dict, label: str):
    from run import Result

    console = ServedConsole(**extra_env)
    try:
        cookie = f"sessionid={_session(console)}"
        url = console.url.replace("http://", "ws://") + "/ws/alerts/"
        reference = json.loads(_worker(console.env, "round-trips", "60").stdout.splitlines()[-1])
        arrivals, raiser = _watch_from_processes(
            url,
            cookie,
            console.url,
            child_env(),
            lambda: _worker(console.env, "raise", str(EVENTS), wait=False),
        )
        output, _ = raiser.communicate(timeout=120)
        committed = {int(k): v for k, v in json.loads(output.strip().splitlines()[-1]).items()}
        latencies = [at - committed[index] for index, at in arrivals if index in committed]
        connected, refused, seconds, why = asyncio.run(_storm(url, cookie, console.url))
    finally:
        console.stop()
    ref_p99 = percentile(reference, 0.99)
    p99 = percentile(latencies, 0.99) if latencies else float("inf")
    p50 = percentile(latencies, 0.5) if latencies else float("inf")
    return [
        Result(
            f"alert to console frame, {label}, {CLIENTS} clients x {EVENTS} alerts",
            f"p99 {p99 * 1000:.0f} ms (p50 {p50 * 1000:.0f} ms, {len(latencies)} frames)",
            f"bare group_send round trip p99 {ref_p99 * 1000:.1f} ms "
            f"(p50 {percentile(reference, 0.5) * 1000:.1f} ms)",
            p99 / ref_p99,
            "p99 < 200 ms, every frame",
            p99 < 0.2 and len(latencies) >= CLIENTS * EVENTS,
        ),
        Result(
            f"reconnect storm, {label}, {STORM} clients at once",
            f"{connected} connected, {refused} refused, last after {seconds:.2f} s",
            "5 s",
            seconds / 5,
            "0 refused, all within 5 s",
            refused == 0 and connected == STORM and seconds < 5,
            why,
        ),
    ]


def run():
    from bench_live import _redis_up

    results = _measure({}, "embedded (SQLite layer)")
    if _redis_up():
        results += _measure({"REDIS_URL": "redis://127.0.0.1:6379/4"}, "channels-redis")
    return results


if __name__ == "__main__" and sys.argv[1:2] == ["--worker"]:
    mode = sys.argv[2]
    if mode == "raise":
        _raise_alerts(int(sys.argv[3]))
    elif mode == "watch":
        url, cookie, origin, clients = sys.argv[3:7]
        print(json.dumps(asyncio.run(_watch(url, cookie, origin, int(clients)))))
    elif mode == "round-trips":
        _round_trips(int(sys.argv[3]))

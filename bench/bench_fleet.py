"""A fleet of agents against the scaled-out console: two application machines (web,
workers, ticker each) and a delivery lane, as ``bench/topology.py`` runs them on
PostgreSQL + Redis, fed by simulated agents that post like ``manage.py agent`` (one
batch of 50 samples every 15 s per host, the hosts spread over the interval, a batch
that fails kept and resent with the next, as the agent's buffer does), stepping
300 -> 600 -> 1,000 hosts for two intervals each, while a Prometheus scrapes each web
process's /metrics every 15 s. The seconds in which a request took over 500 ms are
printed with each web's requests and their time inside Django (Server-Timing) beside
the scrapes: where a slow request waited.

Figures, each against a reference measured in the same run:
- samples lost at 1,000 agents (sent and never accepted) against those sent: 0;
- request p99 at 1,000 agents against 500 ms;
- the evaluation pass (``opsconsole_job_duration_seconds`` / ``_runs`` on /metrics, for
  ``alerts.tasks.evaluate``) as a share of the 15 s interval: <= 10 %;
- one batch's server cost, measured with the console otherwise idle (200 batches one at
  a time) as the console's own time in its ``Server-Timing`` answer, against a bare COPY
  of as many rows into a copy of the samples table in a transaction of its own on the
  same server, the two taking turns in rounds of 20: <= 3x (the round trip through
  daphne is printed beside it).

Stored samples are counted through the console's read path (``rollups.series``) for
one metric of every host, times the batch's size: a batch is stored whole or not at all.

Bounded: the agents stop two minutes after their last step at the latest (what they
still hold then counts as lost), about 5 minutes on an idle box, 15 on a loaded one;
``BENCH_FLEET_STEPS=20,40`` runs a smaller fleet; ``BENCH_FLEET_TRACE=path`` writes every
request (sent at, seconds, web, Server-Timing ms) there as JSON. The database, the Redis database and
every process it started are removed at the end, whatever happened. Where: ``BENCH_FLEET_DATABASE``
(default ``opsconsole_bench_fleet``) on ``BENCH_PG_ADMIN_URL``'s server,
``BENCH_FLEET_REDIS_URL`` (default ``redis://127.0.0.1:6379/6``), ports
``BENCH_FLEET_PORTS`` (default ``9500-9599``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import PG_ADMIN_URL, percentile, pg_available
from topology import Topology, pg_drop, pg_recreate, port_range

INTERVAL = 15.0
SAMPLES_PER_BATCH = 50
STEPS = tuple(int(n) for n in os.environ.get("BENCH_FLEET_STEPS", "300,600,1000").split(","))
INTERVALS_PER_STEP = 2
# How long the agents may run past their last step before what they still hold counts
# as lost: the run is bounded whatever the console does.
GRACE = 120.0
CALIBRATION_BATCHES = 200
CALIBRATION_ROUND = 20  # batches, then as many COPYs, in turn
REQUEST_TIMEOUT = 10.0  # the agent's
DATABASE = os.environ.get("BENCH_FLEET_DATABASE", "opsconsole_bench_fleet")
REDIS_URL = os.environ.get("BENCH_FLEET_REDIS_URL", "redis://127.0.0.1:6379/6")
PORTS = port_range("BENCH_FLEET_PORTS", "9500-9599")
EVALUATE = "alerts.tasks.evaluate"
CHECK_METRIC = "cpu_usage_percent"

# What an agent's collection holds: the vitals, per-mount and per-interface series, and
# the rest of the 50 as a service's own gauges.
METRICS: list[tuple[str, dict[str, str]]] = [
    ("cpu_usage_percent", {}),
    ("memory_usage_percent", {}),
    ("swap_usage_percent", {}),
    ("load_1m", {}),
    ("load_5m", {}),
    ("load_15m", {}),
    ("process_count", {}),
    ("uptime_seconds", {}),
    *[("disk_usage_percent", {"mount": m}) for m in ("/", "/var", "/home", "/srv")],
    *[("disk_free_bytes", {"mount": m}) for m in ("/", "/var", "/home", "/srv")],
    *[
        (name, {"interface": i})
        for i in ("eth0", "eth1")
        for name in ("network_sent_bytes_per_second", "network_received_bytes_per_second")
    ],
]
METRICS += [(f"service_gauge_{n:02}", {}) for n in range(SAMPLES_PER_BATCH - len(METRICS))]

# Keep the shared server's connections few: it serves other clients too.
CONSOLE_ENV = {
    "DATABASE_POOL_MAX_SIZE": "8",
    "Q_WORKERS": "2",
    "LOG_LEVEL": "WARNING",
    "ALERT_EVALUATION_INTERVAL": str(int(INTERVAL)),
}

PREPARE_TOKEN = """
from django.contrib.auth.models import User
from opsconsole.models import ApiToken
print(ApiToken.issue(user=User.objects.get(username="admin"), name="fleet",
                     scopes=["ingest", "read"])[1])
"""

COUNT_STORED = """
import json
from datetime import timedelta
from django.utils import timezone
from metrics import rollups
from metrics.models import Host, Metric
metric = Metric.objects.filter(key={metric!r}).first()
end = timezone.now() + timedelta(minutes=1)
start = end - timedelta(minutes=30)
counts = {{}}
for host in Host.objects.filter(hostname__startswith="fleet-"):
    _, _, points = rollups.series(host.pk, metric.pk, start, end, step_seconds=3600,
                                  aggregation="count") if metric else (0, 0, [])
    counts[host.hostname] = sum(p.count for p in points)
print(json.dumps(counts))
"""


def batch(host: str, at: datetime, rng: random.Random) -> dict:
    stamp = at.isoformat()
    samples = []
    for name, labels in METRICS:
        sample = {"metric": name, "value": round(rng.uniform(1, 60), 2), "time": stamp}
        if labels:
            sample["labels"] = labels
        samples.append(sample)
    # As the agent's: the console recognises a resend by it (one cache read a request).
    return {"host": host, "samples": samples, "batch_id": f"{rng.getrandbits(64):016x}"}


@dataclass
class Step:
    hosts: int
    sent: int = 0  # samples generated
    accepted: int = 0
    requests: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    server_ms: list[float] = field(default_factory=list)
    evaluation: dict = field(default_factory=dict)
    # (sent at, seconds, web, app ms or None): where in the run the slow requests were
    trace: list[tuple[float, float, str, float | None]] = field(default_factory=list)


@dataclass
class Agent:
    """One simulated host: its buffer of unsent batches, resent with the next tick."""

    name: str
    index: int
    web: str
    offset: float
    buffer: list[dict] = field(default_factory=list)


async def send(client, agent: Agent, step: Step) -> None:
    chunk = list(agent.buffer)
    body = json.dumps(chunk[0] if len(chunk) == 1 else {"batches": chunk}).encode()
    started = time.perf_counter()
    try:
        answer = await client.post(
            f"{agent.web}/api/v1/metrics",
            content=body,
            headers={"Content-Type": "application/json"},
        )
    except Exception as exc:
        step.failures[type(exc).__name__] = step.failures.get(type(exc).__name__, 0) + 1
        step.trace.append((started, time.perf_counter() - started, agent.web, None))
        return
    finally:
        step.requests += 1
        step.latencies.append(time.perf_counter() - started)
    timing = answer.headers.get("Server-Timing", "")
    app_ms = float(timing.split("dur=")[1]) if "dur=" in timing else None
    step.trace.append((started, step.latencies[-1], agent.web, app_ms))
    if answer.status_code == 201:
        agent.buffer = agent.buffer[len(chunk) :]
        step.accepted += len(chunk) * SAMPLES_PER_BATCH
        step.server_ms.append(answer.json().get("ingest_latency_ms", 0.0))
    else:
        key = f"HTTP {answer.status_code}"
        step.failures[key] = step.failures.get(key, 0) + 1
        if 400 <= answer.status_code < 500 and answer.status_code != 429:
            agent.buffer = agent.buffer[len(chunk) :]  # refused for good: the agent drops it


async def run_agent(client, agent: Agent, steps: list[Step], start: float, rng) -> None:
    """Tick every INTERVAL from the agent's offset; each tick belongs to the step it
    falls in."""
    period = INTERVAL * INTERVALS_PER_STEP
    tick = start + agent.offset
    end = start + period * len(steps)
    while tick < end:
        index = int((tick - start) // period)
        if steps[index].hosts > agent.index:
            await asyncio.sleep(max(tick - time.monotonic(), 0))
            step = steps[index]
            agent.buffer.append(batch(agent.name, datetime.now(UTC), rng))
            step.sent += SAMPLES_PER_BATCH
            await send(client, agent, step)
        tick += INTERVAL


async def drive(webs: list[str], token: str, steps: list[Step], start: float) -> list[Agent]:
    import httpx

    rng = random.Random(20)
    most = max(step.hosts for step in steps)
    # Each host at its own moment of the interval, as agents started at random times
    # are; the proxy hands them to the web processes in turn.
    agents = [
        Agent(f"fleet-{n:04}", n, webs[n % len(webs)], offset=rng.uniform(0, INTERVAL))
        for n in range(most)
    ]
    limits = httpx.Limits(max_connections=400, max_keepalive_connections=200)
    async with httpx.AsyncClient(
        timeout=REQUEST_TIMEOUT, limits=limits, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        ticking = asyncio.gather(*(run_agent(client, a, steps, start, rng) for a in agents))
        until = start + INTERVAL * INTERVALS_PER_STEP * len(steps) + GRACE - time.monotonic()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ticking, timeout=until)
        # The agents' last resend: what is still buffered after it is lost.
        last = Step(hosts=most)
        resent = asyncio.gather(*(send(client, a, last) for a in agents if a.buffer))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(resent, timeout=GRACE / 2)
        steps[-1].accepted += last.accepted
    return agents


SCRAPE_INTERVAL = 15.0  # Prometheus' default scrape interval is 60 s; 15 s is common
SCRAPES: list[tuple[str, float, float]] = []  # (web, began, ended) of each /metrics scrape
SCRAPE = """
import json, sys, httpx
wanted = {}
for line in httpx.get(sys.argv[1] + "/metrics", timeout=60).text.splitlines():
    if sys.argv[2] in line and line.startswith("opsconsole_job_"):
        name, _, value = line.rpartition(" ")
        wanted[name.split("{")[0]] = float(value)
    elif "skip" in line and not line.startswith("#"):
        name, _, value = line.rpartition(" ")
        wanted[name] = float(value)
print(json.dumps(wanted))
"""


async def scrape(web: str) -> dict[str, float]:
    """The evaluation job's lines of /metrics. Fetched and read by a process of its own,
    which hands back only those: at fleet size the page is megabytes, and reading it
    here would stall the agents."""
    started = time.perf_counter()
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SCRAPE, web, EVALUATE, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await child.communicate()
    SCRAPES.append((web, started, time.perf_counter()))
    return json.loads(out or b"{}")


async def watch_evaluation(web: str, steps: list[Step], start_at: list[float]) -> None:
    """At each step's start and end, the evaluation job's totals on /metrics (one
    scrape between two steps: the end of one is the start of the next)."""
    period = INTERVAL * INTERVALS_PER_STEP
    after = await scrape(web)
    for step in steps:
        before = after
        await asyncio.sleep(max(start_at[0] + period - time.monotonic(), 0))
        start_at[0] += period
        after = await scrape(web)
        runs = after.get("opsconsole_job_runs_total", 0) - before.get(
            "opsconsole_job_runs_total", 0
        )
        seconds = after.get("opsconsole_job_duration_seconds_total", 0) - before.get(
            "opsconsole_job_duration_seconds_total", 0
        )
        step.evaluation = {
            "passes": runs,
            "mean": seconds / runs if runs else None,
            "last": after.get("opsconsole_job_last_duration_seconds"),
            "skips": {k: v - before.get(k, 0) for k, v in after.items() if "skip" in k},
        }


async def prometheus(web: str, offset: float, start: float, end: float) -> None:
    """A Prometheus server's scrapes of one web process: every SCRAPE_INTERVAL from its
    own offset, as an operator watching the topology runs it."""
    tick = start + offset
    while tick < end:
        await asyncio.sleep(max(tick - time.monotonic(), 0))
        await scrape(web)
        tick += SCRAPE_INTERVAL


async def load(webs: list[str], token: str, steps: list[Step]) -> list[Agent]:
    start = time.monotonic() + 1
    end = start + INTERVAL * INTERVALS_PER_STEP * len(steps)
    watcher = asyncio.create_task(watch_evaluation(webs[0], steps, [start]))
    scrapers = [
        asyncio.create_task(prometheus(web, SCRAPE_INTERVAL * (n + 0.5) / len(webs), start, end))
        for n, web in enumerate(webs)
    ]
    agents = await drive(webs, token, steps, start)
    await watcher
    await asyncio.gather(*scrapers)
    return agents


def calibrate(topology: Topology, token: str) -> tuple[float, float, float]:
    """(median seconds for one batch through a web, one at a time, as the client saw
    it; the same, as the console's own time in its ``Server-Timing`` answer; the same
    number of rows by a bare COPY in a transaction of its own), with nothing else
    running. They take turns in rounds (20 batches back to back, then 20 COPYs), so
    each runs warm as in a loop of its own while whatever else the box does meanwhile
    (the processes just started settling, a neighbour) weighs on both alike."""
    import httpx
    import psycopg

    rng = random.Random(7)
    ours = []
    inside = []
    raw = []
    with (
        httpx.Client(
            base_url=topology.webs[0].url,
            timeout=30,
            headers={"Authorization": f"Bearer {token}"},
        ) as client,
        psycopg.connect(topology.database_url) as conn,
    ):
        conn.execute("CREATE TABLE bench_copy (LIKE metrics_metricsample INCLUDING ALL)")
        conn.commit()
        # The first request warms the host's and metrics' caches: not counted.
        client.post("/api/v1/metrics", json=batch("calibration-01", datetime.now(UTC), rng))
        while len(raw) < CALIBRATION_BATCHES:
            for _ in range(CALIBRATION_ROUND):
                body = batch("calibration-01", datetime.now(UTC), rng)
                started = time.perf_counter()
                answer = client.post("/api/v1/metrics", json=body)
                ours.append(time.perf_counter() - started)
                assert answer.status_code == 201, answer.text
                inside.append(float(answer.headers["Server-Timing"].split("dur=")[1]) / 1000)
            for _ in range(CALIBRATION_ROUND):
                at = datetime.now(UTC)
                started = time.perf_counter()
                with (
                    conn.cursor() as cursor,
                    cursor.copy(
                        "COPY bench_copy (time, value, host_id, metric_id) FROM STDIN"
                    ) as copy,
                ):
                    for metric_id in range(1, SAMPLES_PER_BATCH + 1):
                        copy.write_row((at, rng.uniform(1, 60), 1, metric_id))
                conn.commit()
                raw.append(time.perf_counter() - started)
        conn.execute("DROP TABLE bench_copy")
        conn.commit()
    return percentile(ours, 0.5), percentile(inside, 0.5), percentile(raw, 0.5)


def run():
    from run import Result

    if not pg_available():
        return [Result("fleet of agents", "-", "-", 0.0, "<= 1", None, "PostgreSQL unreachable")]
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).flushdb()
    except Exception as exc:
        return [Result("fleet of agents", "-", "-", 0.0, "<= 1", None, f"Redis: {exc}")]
    shared = pg_recreate(PG_ADMIN_URL, DATABASE)
    topology = Topology(shared, REDIS_URL, ports=PORTS, env=CONSOLE_ENV)
    try:
        made = []
        topology.start(240, prepare=lambda t: made.append(t.django(PREPARE_TOKEN)))
        token = made[0].strip().splitlines()[-1]
        ours, inside, raw = calibrate(topology, token)
        steps = [Step(hosts=n) for n in STEPS]
        agents = asyncio.run(load([web.url for web in topology.webs], token, steps))
        print_steps(steps)
        print_slow(steps)
        time.sleep(2)  # the last batches' commits
        counted = topology.django(COUNT_STORED.format(metric=CHECK_METRIC))
        stored = json.loads(counted.strip().splitlines()[-1])
    finally:
        topology.stop()
        topology.remove()
        pg_drop(PG_ADMIN_URL, DATABASE)
        redis.Redis.from_url(REDIS_URL).flushdb()
    return report(steps, agents, stored, (ours, inside), raw)


def print_steps(steps: list[Step]) -> None:
    for step in steps:
        evaluation = step.evaluation
        mean = evaluation.get("mean")
        print(
            f"  {step.hosts:>5} agents: {step.sent:,} samples sent, {step.accepted:,} accepted, "
            f"{step.requests:,} requests, p50 {percentile(step.latencies, 0.5) * 1000:.0f} ms, "
            f"p99 {percentile(step.latencies, 0.99) * 1000:.0f} ms, server p50 "
            f"{percentile(step.server_ms or [0], 0.5):.1f} ms, failures {step.failures or 0}; "
            f"evaluation {evaluation.get('passes', 0):.0f} passes, mean "
            + (f"{mean:.2f} s" if mean is not None else "-")
            + f", last {evaluation.get('last') or 0:.2f} s, skips {evaluation.get('skips') or {}}",
            flush=True,
        )


def print_slow(steps: list[Step], over: float = 0.5) -> None:
    """The seconds of the run in which a request took longer than ``over``, each with
    its requests by web process, their slowest time as the agents saw it and as the
    console's own (Server-Timing): whether the wait was inside Django or before it."""
    trace = sorted(entry for step in steps for entry in step.trace)
    if not trace:
        return
    origin = trace[0][0]
    seconds: dict[int, list] = {}
    for sent, took, web, app_ms in trace:
        seconds.setdefault(int(sent - origin), []).append((took, web, app_ms))
    slow = {k: v for k, v in sorted(seconds.items()) if max(t for t, _, _ in v) > over}
    print(f"  seconds with a request over {over * 1000:.0f} ms: {len(slow)} of {len(seconds)}")
    scrapes = ", ".join(
        f"{web.rsplit(':', 1)[-1]} {a - origin:.0f}-{b - origin:.0f}"
        for web, a, b in sorted(SCRAPES)
    )
    print(f"  /metrics scrapes (web, t= s): {scrapes}")
    for second, entries in slow.items():
        parts = []
        for web in sorted({w for _, w, _ in entries}):
            mine = [(t, a) for t, w, a in entries if w == web]
            app = [a for _, a in mine if a is not None]
            parts.append(
                f"{web.rsplit(':', 1)[-1]}: {len(mine)} req, max {max(t for t, _ in mine):.2f} s"
                f" (app max {max(app) / 1000 if app else float('nan'):.2f} s)"
            )
        print(f"    t={second:>4} s  " + "; ".join(parts))
    if os.environ.get("BENCH_FLEET_TRACE"):
        Path(os.environ["BENCH_FLEET_TRACE"]).write_text(json.dumps(trace))


def report(
    steps: list[Step], agents: list[Agent], stored: dict, ours: tuple[float, float], raw: float
):
    from run import Result

    sent = sum(step.sent for step in steps)
    accepted = sum(step.accepted for step in steps)
    lost = sum(len(a.buffer) for a in agents) * SAMPLES_PER_BATCH
    stored_samples = sum(stored.values()) * SAMPLES_PER_BATCH
    top = steps[-1]
    p99 = percentile(top.latencies, 0.99) * 1000
    server_p99 = percentile(top.server_ms or [0], 0.99)
    mean = top.evaluation.get("mean")
    share = (mean or 0.0) / INTERVAL
    loaded = "box shared and loaded: provisional"
    round_trip, inside = ours
    return [
        Result(
            f"samples lost up to {top.hosts:,} agents",
            f"{lost:,} lost ({accepted:,} accepted, {stored_samples:,} stored)",
            f"{sent:,} sent",
            lost / sent if sent else 1.0,
            "== 0",
            lost == 0 and sent > 0,
            f"stored counted as {CHECK_METRIC} per host x {SAMPLES_PER_BATCH}",
        ),
        Result(
            f"request p99 at {top.hosts:,} agents",
            f"{p99:.0f} ms",
            "500 ms",
            p99 / 500,
            "<= 1.0",
            p99 < 500,
            f"as the agents saw it, their own waiting included; the server's own time "
            f"(ingest_latency_ms) p99 {server_p99:.0f} ms; {loaded}",
        ),
        Result(
            f"evaluation pass at {top.hosts:,} agents",
            f"{mean:.2f} s mean" if mean is not None else "no pass",
            f"{INTERVAL:g} s interval",
            share,
            "<= 0.10",
            mean is not None and share <= 0.10,
            f"{top.evaluation.get('passes', 0):.0f} passes; {loaded}",
        ),
        Result(
            "one 50-sample batch through a web process (idle console)",
            f"{inside * 1000:.2f} ms",
            f"bare COPY of the same rows {raw * 1000:.2f} ms",
            inside / raw,
            "<= 3.0",
            inside / raw <= 3.0,
            f"the console's own time (Server-Timing: every middleware, the token, the "
            f"schema, the write and its commit); the round trip through daphne over "
            f"loopback {round_trip * 1000:.2f} ms ({round_trip / raw:.1f}x); {loaded}",
        ),
    ]


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from run import main

    raise SystemExit(main(["bench_fleet"]))

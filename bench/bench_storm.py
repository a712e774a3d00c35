"""An alert storm on the default embedded console: does monitoring keep its pace, and do
the critical messages get out first?

``manage.py serve`` runs as a user starts it (SQLite, its channel layer, one q2 worker)
in a temporary directory with the shortest collection interval (5 s). A local HTTP
receiver stands in for a slow chat service: it answers 200 after RECEIVER_DELAY seconds
and notes when each message arrived. Through the API an admin token, a webhook channel
to the receiver and a routing rule sending every severity to it are set up. After
BASELINE seconds of quiet collection, STORM_ALERTS alerts are raised through
``POST /api/v1/alerts`` within STORM_SECONDS (distinct types and resources, so none is
a repeat): info and warning, and the last CRITICAL_LAST of them critical, so a queue
served in arrival order makes them wait behind every earlier message. Then WATCH
seconds more.

Figures:
- collection of the console's own host during and after the storm, from the stored
  ``cpu_usage_percent`` sample times (the database read directly, read-only): the
  longest interval against the configured one (target <= 1.2x) and the intervals over
  1.5x, each a skipped collection (target none). The interval still open when the
  watch ends counts too. The baseline's longest interval is shown beside it.
- the first critical message's delay (arrival at the receiver minus the moment its
  ``POST /api/v1/alerts`` was answered) against the first info message's delay in the
  same run (target: critical first, ratio < 1); medians per severity and the number of
  messages received are in the note. A critical alert whose message never arrived
  counts with the time it waited until the watch ended, a lower bound.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import statistics
import sys
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import pairwise
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ServedConsole

RECEIVER_DELAY = 0.3  # seconds per message, as a slow chat service answers
INTERVAL = 5  # METRICS_COLLECTION_INTERVAL, the shortest the console accepts
BASELINE = 20  # seconds of quiet collection before the storm
STORM_ALERTS = 1000
STORM_SECONDS = 10
STORM_DEADLINE = 120  # stop raising if the console takes this long to accept the storm
CRITICAL_LAST = 10
CLIENT_THREADS = 4
WATCH = 75  # seconds after the storm
MAX_INTERVAL_RATIO = 1.2
SKIP_RATIO = 1.5
SEVERITIES = ("info", "warning", "error", "critical")
REPLY = b'{"ok": true}'


class Receiver:
    """A slow webhook receiver on loopback that notes (arrival time, JSON body)."""

    def __init__(self, delay: float):
        received: list[tuple[float, dict]] = []
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the services we post to
            disable_nagle_algorithm = True

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                arrived = time.time()
                try:
                    document = json.loads(body)
                except ValueError:
                    document = {}
                with lock:
                    received.append((arrived, document))
                time.sleep(delay)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(REPLY)))
                self.end_headers()
                self.wfile.write(REPLY)

            def log_message(self, *args):
                pass

        self.received = received
        self.lock = lock
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def snapshot(self) -> list[tuple[float, dict]]:
        with self.lock:
            return list(self.received)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


def _severity(index: int) -> str:
    if index >= STORM_ALERTS - CRITICAL_LAST:
        return "critical"
    return "info" if index % 2 == 0 else "warning"


def _set_up(console: ServedConsole, receiver: Receiver) -> tuple[str, int]:
    """An admin token (the command the API's docs name), then the channel and the
    routing rule through the API; returns (token, channel id)."""
    import httpx

    token = console.manage(
        "create_api_token", "--user", "admin", "--scopes", "read,write", "--name", "storm bench"
    ).strip()
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=console.url, headers=headers, timeout=30) as client:
        answer = client.post(
            "/api/v1/channels",
            json={
                "name": "storm receiver",
                "kind": "webhook",
                "secrets": {"url": receiver.url},
                "min_severity": "info",
            },
        )
        if answer.status_code != 201:
            raise RuntimeError(f"creating the channel: {answer.status_code} {answer.text}")
        channel = answer.json()["id"]
        answer = client.post(
            "/api/v1/routing-rules",
            json={
                "name": "storm: every severity to the receiver",
                "position": 0,
                "severities": list(SEVERITIES),
                "channels": [channel],
                # Each message on its own and at once: this measures the lane's order,
                # not grouping (bench_groups does).
                "group_by": ["..."],
                "group_wait": 0,
                "group_interval": 0,
            },
        )
        if answer.status_code != 201:
            raise RuntimeError(f"creating the routing rule: {answer.status_code} {answer.text}")
    return token, channel


def _storm(console: ServedConsole, token: str, run_id: str) -> dict:
    """Raise STORM_ALERTS alerts on a schedule spread over STORM_SECONDS from
    CLIENT_THREADS clients; an index is taken in order, so the critical ones (the
    highest) go last. Returns when each was answered, and the failures."""
    import httpx

    raised: dict[str, tuple[str, float]] = {}  # resource -> (severity, answered at)
    failures: list[str] = []
    lock = threading.Lock()
    counter = iter(range(STORM_ALERTS))
    started = time.monotonic()
    deadline = started + STORM_DEADLINE

    def client_loop():
        with httpx.Client(
            base_url=console.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        ) as client:
            while time.monotonic() < deadline:
                with lock:
                    index = next(counter, None)
                if index is None:
                    return
                due = started + index * STORM_SECONDS / STORM_ALERTS
                time.sleep(max(0.0, due - time.monotonic()))
                severity = _severity(index)
                resource = f"storm-{run_id}-{index}"
                try:
                    answer = client.post(
                        "/api/v1/alerts",
                        json={
                            "alert_type": f"storm_{severity}_{index % 25}",
                            "title": f"Storm alert {index}",
                            "message": "raised by the alert storm benchmark",
                            "severity": severity,
                            "category": "application",
                            "resource": resource,
                        },
                    )
                except httpx.HTTPError as exc:
                    with lock:
                        failures.append(f"{type(exc).__name__}")
                    continue
                answered = time.time()
                with lock:
                    if answer.status_code == 201:
                        raised[resource] = (severity, answered)
                    else:
                        failures.append(f"HTTP {answer.status_code}")

    threads = [threading.Thread(target=client_loop, daemon=True) for _ in range(CLIENT_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(STORM_DEADLINE + 35)
    return {"raised": raised, "failures": failures, "seconds": time.monotonic() - started}


def _backlog(console: ServedConsole, token: str, channel: int) -> dict[str, int]:
    """The channel's outbox by status when the watch ends (empty if the API says no)."""
    import httpx

    counts: dict[str, int] = {}
    with (
        contextlib.suppress(httpx.HTTPError, ValueError, KeyError),
        httpx.Client(
            base_url=console.url, headers={"Authorization": f"Bearer {token}"}, timeout=15
        ) as client,
    ):
        for status in ("pending", "sending", "sent", "failed", "dead", "cancelled"):
            answer = client.get(
                "/api/v1/notifications", params={"channel": channel, "status": status, "limit": 1}
            )
            if answer.status_code == 200:
                counts[status] = answer.json()["count"]
    return counts


def _sample_times(database: Path) -> list[float]:
    """Unix times of the console's own host's cpu_usage_percent samples."""
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)
    try:
        rows = connection.execute(
            "SELECT s.time FROM metrics_metricsample s"
            " JOIN metrics_host h ON h.id = s.host_id"
            " JOIN metrics_metric m ON m.id = s.metric_id"
            " WHERE h.is_local AND m.key = 'cpu_usage_percent' ORDER BY s.time"
        ).fetchall()
    finally:
        connection.close()
    times = []
    for (value,) in rows:
        moment = datetime.fromisoformat(str(value))
        if moment.tzinfo is None:  # Django stores UTC without an offset on SQLite
            moment = moment.replace(tzinfo=UTC)
        times.append(moment.timestamp())
    return times


def _intervals(times: list[float], start: float, end: float) -> list[float]:
    """Intervals ending within [start, end], plus the one still open at ``end``."""
    gaps = [b - a for a, b in pairwise(times) if start <= b <= end]
    before_end = [t for t in times if t <= end]
    if before_end:
        gaps.append(end - before_end[-1])
    return gaps


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _fmt(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.1f} s"


def run():
    from run import Result

    run_id = f"{int(time.time())}"
    receiver = Receiver(RECEIVER_DELAY)
    console = ServedConsole(
        METRICS_COLLECTION_INTERVAL=str(INTERVAL),
        NOTIFY_ALLOWED_HOSTS="127.0.0.1",
    )
    try:
        token, channel = _set_up(console, receiver)
        baseline_start = time.time()
        time.sleep(BASELINE)
        storm_start = time.time()
        storm = _storm(console, token, run_id)
        storm_end = time.time()
        time.sleep(WATCH)
        watch_end = time.time()
        console.note_tree()
        backlog = _backlog(console, token, channel)
        console.stop()
        times = _sample_times(console.database)
        messages = receiver.snapshot()
    finally:
        console.stop()
        receiver.stop()
        console.remove()

    # Collection of the console's own host.
    baseline = [b - a for a, b in pairwise(times) if baseline_start <= a and b <= storm_start]
    during = _intervals(times, storm_start, watch_end)
    longest = max(during) if during else float("inf")
    skips = [gap for gap in during if gap > SKIP_RATIO * INTERVAL]
    missed = sum(max(0, round(gap / INTERVAL) - 1) for gap in skips)
    collection = Result(
        f"collection of the console's host during and {WATCH} s after a storm of "
        f"{STORM_ALERTS:,} alerts (embedded)",
        f"longest interval {longest:.1f} s, {len(skips)} over {SKIP_RATIO}x "
        f"(about {missed} collections missed; {len(during)} intervals)",
        f"configured {INTERVAL} s (baseline longest {_fmt(max(baseline) if baseline else None)})",
        longest / INTERVAL,
        f"<= {MAX_INTERVAL_RATIO}, 0 skipped",
        longest / INTERVAL <= MAX_INTERVAL_RATIO and not skips,
    )

    # Delivery: first message per severity, and medians.
    raised = storm["raised"]
    delays: dict[str, list[float]] = {s: [] for s in SEVERITIES}
    firsts: dict[str, float] = {}
    others: list[str] = []  # messages about alerts the storm did not raise
    for arrived, document in sorted(messages, key=lambda m: m[0]):
        alert = document.get("alert") or {}
        entry = raised.get(alert.get("resource", ""))
        if entry is None or document.get("event") != "firing":
            others.append(f"{document.get('event')}: {alert.get('title', '?')}"[:80])
            continue
        severity, answered = entry
        delay = arrived - answered
        delays[severity].append(delay)
        firsts.setdefault(severity, delay)
    criticals = [answered for severity, answered in raised.values() if severity == "critical"]
    first_info = firsts.get("info")
    if "critical" in firsts:
        first_critical, critical_text = firsts["critical"], f"{firsts['critical']:.2f} s"
    elif criticals:
        first_critical = watch_end - min(criticals)  # still waiting: a lower bound
        critical_text = f"> {first_critical:.1f} s (none arrived)"
    else:
        first_critical, critical_text = float("inf"), "none raised"
    infos = [answered for severity, answered in raised.values() if severity == "info"]
    info_text = "none raised"
    reference = first_info
    if first_info is not None:
        info_text = f"{first_info:.2f} s"
    elif infos:
        reference = watch_end - min(infos)  # still waiting: a lower bound
        info_text = f"> {reference:.1f} s (none arrived)"
    ratio = first_critical / reference if reference else float("inf")
    counts = {s: sum(1 for v in raised.values() if v[0] == s) for s in SEVERITIES}
    medians = ", ".join(
        f"{s} {_fmt(_median(delays[s]))} ({len(delays[s])}/{counts[s]})"
        for s in SEVERITIES
        if counts[s]
    )
    failures = storm["failures"]
    why = f"; {len(failures)} refused ({', '.join(sorted(set(failures))[:3])})" if failures else ""
    delivery = Result(
        f"critical vs info notification delay in that storm, receiver {RECEIVER_DELAY} s "
        f"a message, last {CRITICAL_LAST} alerts critical",
        f"first critical after {critical_text}",
        f"first info after {info_text}",
        ratio,
        "< 1 (critical first)",
        "critical" in firsts and ratio < 1,
        f"{len(raised):,} alerts raised in {storm['seconds']:.1f} s{why}; "
        f"{len(messages) - len(others):,} of their messages received by "
        f"{watch_end - storm_end:.0f} s after the storm"
        + (f" (+{len(others)} others: {'; '.join(others[:3])})" if others else "")
        + "; "
        f"median delay (received/raised): {medians}; "
        f"outbox at the end: {', '.join(f'{k} {v}' for k, v in backlog.items() if v) or '-'}",
    )
    return [collection, delivery]


if __name__ == "__main__":
    for result in run():
        print(result)

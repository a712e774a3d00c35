"""Notification delivery throughput through the outbox.

2,000 alerts are raised, each routed to two webhook channels (two outbox rows), then
the rows are delivered by what each thread of the delivery lane runs (pick the most
urgent due rows, claim them with a lease, render, sign, POST, record): for one channel
one row per claim (the worst case, a lone alert), for the other the lane's own rounds
(``deliver_next`` with ``NOTIFY_CLAIM_BATCH`` rows a claim) until nothing is due. The reference, in the same run: bare
httpx posts of the same JSON bodies to the same receiver, one after another, over one
pooled client. The receiver is a separate process on loopback that answers 200.
Target, for the lane's rounds: at most 4x the bare posts. The floor is a commit per message
(its outcome is recorded before the next is sent, so a worker that dies re-sends at
most the one in flight), plus a pick, a claim and a read per round; on PostgreSQL those commits
do not wait for the WAL flush (see notifications.delivery). Run on SQLite, and on PostgreSQL
when reachable.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import child_env, free_port, pg_available, pg_drop, pg_recreate, run_worker

MESSAGES = int(os.environ.get("BENCH_NOTIFY_MESSAGES", "2000"))
PG_DB = "opsconsole_bench_notify"
TARGET = 4.0


def run():
    from run import Result

    port = free_port()
    receiver = subprocess.Popen(
        [sys.executable, str(Path(__file__)), "--receiver", str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    results = []
    try:
        receiver.stdout.readline()  # "ready"
        modes = [("SQLite", {})]
        if pg_available():
            modes.append(("PostgreSQL", {"BENCH_DATABASE_URL": pg_recreate(PG_DB)}))
        for label, extra in modes:
            env = child_env(NOTIFY_ALLOWED_HOSTS="127.0.0.1", **extra)
            try:
                figures = run_worker("bench_notify.py", [str(port)], env, timeout=1200)
            finally:
                if extra:
                    pg_drop(PG_DB)
            results.append(_result(Result, label, figures))
    finally:
        receiver.terminate()
        receiver.wait(10)
    return results


def _result(Result, label: str, figures: dict):
    single, batched, bare = figures["single"], figures["batched"], figures["bare"]
    ratio = batched / bare
    return Result(
        f"{MESSAGES:,} notifications through the outbox to a local webhook ({label})",
        f"{batched:.2f} s in the lane's rounds of {figures['batch']} ({MESSAGES / batched:,.0f}/s); "
        f"one per claim {single:.2f} s ({MESSAGES / single:,.0f}/s)",
        f"bare httpx posts {bare:.2f} s ({MESSAGES / bare:,.0f}/s)",
        ratio,
        f"<= {TARGET}, every message sent once",
        ratio <= TARGET and figures["sent"] == 2 * MESSAGES and figures["received"] == 3 * MESSAGES,
        f"one per claim: ratio {single / bare:.2f}; "
        f"routing {MESSAGES:,} alerts to 2 channels took {figures['routing']:.2f} s (not in the figure)",
    )


def receiver_main(port: int) -> None:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the services we post to
        # Headers and body go out in two writes: without this, delayed ACKs add 40 ms.
        disable_nagle_algorithm = True

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.server.count += 1
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def do_GET(self):
            body = str(self.server.count).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.count = 0
    print("ready", flush=True)
    server.serve_forever()


def worker(port: int) -> dict:
    import os

    from _common import django_setup

    django_setup(database_url=os.environ.get("BENCH_DATABASE_URL"))
    import httpx
    from django.conf import settings

    from notifications.delivery import deliver, deliver_next
    from notifications.models import Notification, NotificationChannel, RoutingRule
    from notifications.notifiers import webhook
    from notifications.notifiers.message import for_notification

    size = settings.NOTIFY_CLAIM_BATCH
    from alerts.service import Alert, AlertService

    url = f"http://127.0.0.1:{port}/hook"
    # The receiver serves every run (SQLite, then PostgreSQL): count from here.
    before = int(httpx.get(url).text)
    one, many = (
        NotificationChannel.objects.create(
            name=name, kind="webhook", secrets={"url": url, "signing_secret": "s"}
        )
        for name in ("one-per-task", "batched")
    )
    RoutingRule.objects.all().delete()
    RoutingRule.objects.create(
        name="all", all_channels=True, group_by=["..."], group_wait=0, group_interval=0
    )
    service = AlertService()
    started = time.perf_counter()
    for n in range(MESSAGES):
        service.create_alert(
            Alert(
                alert_type="bench",
                title=f"Bench alert {n}",
                message="Disk / is at 97% (threshold: 90%)",
                priority="critical",
                resource=f"host-{n}",
            )
        )
    routing = time.perf_counter() - started
    rows = Notification.objects.order_by("pk")
    singles = list(rows.filter(channel=one).values_list("pk", flat=True))
    batched = list(rows.filter(channel=many).values_list("pk", flat=True))
    assert len(singles) == len(batched) == MESSAGES, (len(singles), len(batched))
    bodies = [
        json.dumps(webhook.render(for_notification(n)), default=str).encode()
        for n in rows.select_related("alert", "channel").filter(pk__in=singles)
    ]

    with httpx.Client() as client:
        started = time.perf_counter()
        for body in bodies:
            client.post(url, content=body, headers={"Content-Type": "application/json"})
        bare = time.perf_counter() - started

    started = time.perf_counter()
    for notification_id in singles:
        deliver(notification_id)
    single = time.perf_counter() - started

    started = time.perf_counter()
    while deliver_next(size):
        pass
    many_seconds = time.perf_counter() - started

    return {
        "routing": routing,
        "bare": bare,
        "single": single,
        "batched": many_seconds,
        "batch": size,
        "sent": Notification.objects.filter(status="sent").count(),
        "received": int(httpx.get(url).text) - before,
    }


if __name__ == "__main__":
    if sys.argv[1:2] == ["--receiver"]:
        receiver_main(int(sys.argv[2]))
    elif sys.argv[1:2] == ["--worker"]:
        print(json.dumps(worker(int(sys.argv[2]))))
    else:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        for result in run():
            print(result)

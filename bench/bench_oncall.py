"""On call: the escalation tick and "who is on call", on PostgreSQL (SQLite if it is
unreachable).

Set-up: 50 schedules (a weekly rotation of five people each, a second layer on every
fifth, an override on every tenth), 50 people with a verified email address, 50
escalation policies whose one step notifies a schedule's on-call person, and 1,000
open alerts each escalating under one of them.

Figures:
1. A tick while 1,000 escalations are open and none is due (what the ticker pays
   every ONCALL_TICK_SECONDS almost always) against one indexed SELECT of due
   escalations, measured in the same run (target: at most 3x).
2. A tick that takes due steps, per step (who is on call, the person's rules, the
   outbox rows, the step record and its timeline entry, in one transaction each),
   against the same SELECT. The issue sets no target for it: shown for scale.
3. "Who is on call" for all 50 schedules at 1,000 random instants over a year,
   loading the schedules once (four queries), per instant against the 2 ms budget.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import child_env, median, pg_available, pg_drop, pg_recreate, run_worker

SCHEDULES, PEOPLE, ESCALATIONS, INSTANTS = 50, 50, 1000, 1000
# This benchmark's own throwaway database, so it never meets another one's run.
DATABASE = "h_oncall_bench"


def run():
    from run import Result

    if pg_available():
        env = child_env(BENCH_DATABASE_URL=pg_recreate(DATABASE))
        where = "PostgreSQL"
    else:
        env = child_env()
        where = "SQLite"
    try:
        figures = run_worker("bench_oncall.py", [], env, timeout=1800)
    finally:
        if where == "PostgreSQL":
            pg_drop(DATABASE)
    select, idle, step = figures["select"], figures["idle_tick"], figures["step"]
    per_instant = figures["oncall_total"] / INSTANTS
    return [
        Result(
            f"escalation tick, {ESCALATIONS:,} open over {SCHEDULES} schedules, none due ({where})",
            f"{idle * 1000:.2f} ms",
            f"one indexed SELECT of due escalations {select * 1000:.2f} ms",
            idle / select,
            "<= 3.0",
            idle / select <= 3.0,
        ),
        Result(
            f"escalation tick taking {ESCALATIONS:,} due steps, per step ({where})",
            f"{step * 1000:.2f} ms a step",
            f"one indexed SELECT of due escalations {select * 1000:.2f} ms",
            step / select,
            "none set (for scale)",
            None,
            f"{figures['steps']:,} steps, {figures['rows']:,} outbox rows written",
        ),
        Result(
            f"who is on call, {SCHEDULES} schedules at {INSTANTS:,} random instants",
            f"{per_instant * 1000:.3f} ms an instant "
            f"({per_instant / SCHEDULES * 1e6:.1f} µs a schedule)",
            "2 ms budget",
            per_instant / 0.002,
            "<= 1.0",
            per_instant <= 0.002,
            f"answers: {figures['answered']:,} with someone on call",
        ),
    ]


def _worker() -> dict:
    import random
    from datetime import UTC, date, datetime, timedelta

    from _common import django_setup

    django_setup(database_url=os.environ.get("BENCH_DATABASE_URL"))
    from django.contrib.auth.models import User
    from django.utils import timezone

    from alerts.service import AlertService
    from notifications.models import Notification, NotificationChannel
    from oncall import editing, escalation, schedules
    from oncall.models import ContactMethod, Escalation, EscalationStatus, Override, StepTaken
    from tests.notifications.helpers import spec

    now = timezone.now()
    NotificationChannel.objects.create(
        name="mail", kind="email", config={"to": ["team@example.com"]}
    )
    people = [User.objects.create_user(f"person{n:02d}") for n in range(PEOPLE)]
    ContactMethod.objects.bulk_create(
        ContactMethod(user=u, kind="email", address=f"{u.username}@example.com", verified_at=now)
        for u in people
    )
    start = (now - timedelta(days=400)).date().isoformat()
    policies = []
    for s in range(SCHEDULES):
        names = [people[(s + k) % PEOPLE].username for k in range(5)]
        rotations = [{"name": "weekly", "start_date": start, "participants": names}]
        if s % 5 == 0:
            rotations.append(
                {
                    "name": "nights",
                    "layer": 2,
                    "length": "hours",
                    "shift_hours": 12,
                    "handoff_time": "20:00",
                    "start_date": start,
                    "participants": names[:2],
                }
            )
        schedule = editing.save_schedule(
            {"name": f"schedule-{s:02d}", "time_zone": "Europe/Berlin", "rotations": rotations}
        )
        if s % 10 == 0:
            Override.objects.create(
                schedule=schedule, user=people[0], start=now, end=now + timedelta(days=30)
            )
        policies.append(
            editing.save_policy(
                {
                    "name": f"policy-{s:02d}",
                    "steps": [{"action": "schedule", "schedule": schedule.name, "wait_minutes": 5}],
                }
            )
        )
    service = AlertService()
    later = now + timedelta(days=1)
    alerts = [
        service.create_alert(spec(alert_type=f"bench_{n % 20}", resource=f"host-{n:04d}"))
        for n in range(ESCALATIONS)
    ]
    Escalation.objects.bulk_create(
        Escalation(alert=a, policy=policies[n % SCHEDULES], started_at=now, next_step_at=later)
        for n, a in enumerate(alerts)
    )

    def due_select():
        return list(
            Escalation.objects.filter(status=EscalationStatus.ACTIVE, next_step_at__lte=now)
            .order_by("next_step_at")
            .values_list("pk", flat=True)[: escalation.BATCH]
        )

    def timed(func, runs=60):
        func()  # warm: plans and caches
        samples = []
        for _ in range(runs):
            started = time.perf_counter()
            func()
            samples.append(time.perf_counter() - started)
        return median(samples)

    select = timed(due_select)
    idle = timed(lambda: escalation.tick(now))
    # Everything due: ticks take the steps (BATCH a tick) until none is left.
    Escalation.objects.update(next_step_at=now)
    rows_before = Notification.objects.count()
    started = time.perf_counter()
    while escalation.tick(now + timedelta(seconds=1)):
        pass
    took = time.perf_counter() - started
    steps = StepTaken.objects.count()

    rng = random.Random(7)
    base = datetime(date.today().year, 1, 1, tzinfo=UTC)
    instants = [base + timedelta(seconds=rng.uniform(0, 365 * 86400)) for _ in range(INSTANTS)]
    started = time.perf_counter()
    views = schedules.load()
    answered = 0
    for at in instants:
        for view in views.values():
            answered += schedules.on_call(view, at) is not None
    oncall_total = time.perf_counter() - started
    return {
        "select": select,
        "idle_tick": idle,
        "step": took / max(steps, 1),
        "steps": steps,
        "rows": Notification.objects.count() - rows_before,
        "oncall_total": oncall_total,
        "answered": answered,
    }


if __name__ == "__main__" and sys.argv[1:2] == ["--worker"]:
    import json

    print(json.dumps(_worker()))

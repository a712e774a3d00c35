"""Escalations survive processes killed (SIGKILL) while taking steps: a step whose
transaction did not commit leaves nothing and is taken by the next tick; every step is
taken exactly once, even with two processes ticking at the same time. Needs
PostgreSQL, which the killed processes share with the test."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from alerts.models import AlertEvent
from alerts.service import AlertService
from notifications.models import Notification
from oncall import editing, escalation
from oncall.models import Escalation, EscalationStatus, StepTaken
from tests.notifications.helpers import spec
from tests.notifications.test_killed_workers import ROOT, _worker_env

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif("connection.vendor != 'postgresql'"),
]

TICKER = (
    "import sys, django; django.setup(); from oncall.escalation import tick\n"
    "print('ready', flush=True)\n"
    "while True:\n    tick()\n"
)
ONE_TICK = "import django; django.setup(); from oncall.escalation import tick; tick()"


def _escalations(policy, count: int) -> list[int]:
    """Escalations due now, made by hand so that no first step is taken here."""
    now = timezone.now()
    service = AlertService()
    return [
        Escalation.objects.create(
            alert=service.create_alert(spec(alert_type=f"kill_{n}", resource=f"db-{n}")),
            policy=policy,
            started_at=now,
            next_step_at=now,
        ).pk
        for n in range(count)
    ]


def _policy(channel_name: str, steps: int = 3):
    return editing.save_policy(
        {
            "name": "Hooks",
            "steps": [{"action": "channel", "channel": channel_name, "wait_minutes": 0}] * steps,
        }
    )


def _dsn() -> str:
    return _worker_env()["DATABASE_URL"]


def _wait(predicate, seconds: float = 60, what: str = "the condition") -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _blocked_backends(admin) -> list[int]:
    return [
        row[0]
        for row in admin.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
    ]


def test_a_step_killed_before_its_commit_is_taken_once_by_the_next_tick(make_channel, receiver):
    make_channel("webhook", name="hook", receiver=receiver)
    (esc_id,) = _escalations(_policy("hook", steps=1), 1)
    env = _worker_env()
    with psycopg.connect(_dsn(), autocommit=True) as admin, psycopg.connect(_dsn()) as holder:
        # An uncommitted record of the same step: the taker's own record (written after
        # its outbox rows, inside its transaction) waits on the unique key until we let
        # go. (Foreign keys are checked at commit, so they cannot hold it earlier.)
        holder.execute(
            "INSERT INTO oncall_steptaken (escalation_id, sequence, position, round, action,"
            " summary, reached, unreached, at) VALUES (%s, 0, 0, 0, '', 'held', '[]', '[]', now())",
            [esc_id],
        )
        taker = subprocess.Popen([sys.executable, "-c", ONE_TICK], env=env, cwd=ROOT)
        _wait(lambda: _blocked_backends(admin), what="the step to reach the outbox")
        (backend,) = _blocked_backends(admin)
        taker.send_signal(signal.SIGKILL)
        taker.wait()
        holder.rollback()
        # The orphaned backend finds its client gone at its next read and rolls back.
        _wait(
            lambda: (
                not admin.execute(
                    f"SELECT 1 FROM pg_stat_activity WHERE pid = {backend}"
                ).fetchone()
            ),
            what="the killed process's transaction to end",
        )
    assert StepTaken.objects.filter(escalation_id=esc_id).count() == 0
    assert not Notification.objects.filter(context__escalation=esc_id).exists()
    assert escalation.tick() == 1
    assert escalation.tick() == 1  # the policy's end, recorded once
    assert escalation.tick() == 0
    assert list(
        StepTaken.objects.filter(escalation_id=esc_id).values_list("sequence", flat=True)
    ) == [0, 1]
    notes = AlertEvent.objects.filter(alert__escalations=esc_id, actor="escalation")
    assert notes.count() == 2


def test_every_step_once_with_tickers_killed_at_random_and_two_at_a_time(make_channel, receiver):
    make_channel("webhook", name="hook", receiver=receiver)
    ids = _escalations(_policy("hook", steps=3), 60)
    env = _worker_env()
    rng = random.Random(17)
    for _round in range(10):
        tickers = [
            subprocess.Popen(
                [sys.executable, "-c", TICKER], env=env, cwd=ROOT, stdout=subprocess.PIPE
            )
            for _ in range(2)
        ]
        for ticker in tickers:
            assert ticker.stdout is not None and ticker.stdout.readline().strip() == b"ready"
        time.sleep(rng.uniform(0.1, 0.6))  # then killed somewhere in its work
        for ticker in tickers:
            ticker.send_signal(signal.SIGKILL)
            ticker.wait()
    # What the killed tickers left, the next ticks finish (killed transactions have
    # rolled back by the time their rows can be locked).
    _wait(lambda: escalation.tick() == 0 and not escalation.due(timezone.now()).exists(), 120)
    for esc_id in ids:
        esc = Escalation.objects.get(pk=esc_id)
        assert esc.status == EscalationStatus.EXHAUSTED
        sequences = list(
            StepTaken.objects.filter(escalation=esc).values_list("sequence", flat=True)
        )
        assert sequences == [0, 1, 2, 3]
        # Timeline entries have no unique key: a step taken twice would show here.
        assert AlertEvent.objects.filter(alert_id=esc.alert_id, actor="escalation").count() == 4
        assert esc.alert.notifications.filter(context__escalation=esc_id).count() == 3
    assert connection.vendor == "postgresql"

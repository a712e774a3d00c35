"""Workers killed (SIGKILL) in the middle of a send, twenty times: every message is
still delivered once the leases run out. Needs PostgreSQL, which the killed worker
processes share with the test."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from alerts.service import AlertService
from notifications import delivery
from notifications.models import DeliveryStatus, Notification
from tests.notifications.helpers import spec
from tests.notifications.receivers import HANG

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
WORKER = (
    "import sys, django; django.setup(); "
    "from notifications.delivery import deliver_batch; deliver_batch([int(sys.argv[1])])"
)


def _worker_env() -> dict[str, str]:
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    if db.get("PASSWORD"):
        url = url.replace("@", f":{db['PASSWORD']}@", 1)
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": url,
        "NOTIFY_ALLOWED_HOSTS": "127.0.0.1",
        "PYTHONPATH": str(ROOT),
    }


def _wait_for(predicate, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("the worker never reached the receiver")
        time.sleep(0.05)


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_messages_survive_twenty_workers_killed_mid_send(
    settings, make_channel, route_all, receiver
):
    make_channel("webhook", receiver=receiver)
    # Rows wait in the outbox for the senders, instead of being sent inline as elsewhere
    # in tests.
    settings.NOTIFY_INLINE = False
    service = AlertService()
    ids = [
        Notification.objects.get(alert=service.create_alert(spec(alert_type=f"kill_{n}"))).pk
        for n in range(20)
    ]
    settings.NOTIFY_INLINE = True
    receiver.answer(*[HANG] * 20)

    env = _worker_env()
    for n, notification_id in enumerate(ids):
        worker = subprocess.Popen(
            [sys.executable, "-c", WORKER, str(notification_id)], env=env, cwd=ROOT
        )
        _wait_for(lambda n=n: len(receiver.requests) > n)
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    assert Notification.objects.filter(status=DeliveryStatus.SENDING).count() == 20

    # A lease later, the receiver answers again and the claims are due again.
    receiver.released.set()
    receiver.replies.clear()
    past = timezone.now() - timedelta(seconds=1)
    Notification.objects.update(lease_until=past)
    delivery.sweep()

    assert Notification.objects.filter(status=DeliveryStatus.SENT).count() == 20
    delivered = {r.headers["idempotency-key"] for r in receiver.requests[20:]}
    assert delivered == set(Notification.objects.values_list("idempotency_key", flat=True))
    assert set(Notification.objects.values_list("attempts", flat=True)) == {2}

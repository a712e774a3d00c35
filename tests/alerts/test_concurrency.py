"""Two processes firing the same problem at once make one alert with an exact count."""

from __future__ import annotations

import multiprocessing

import pytest
from django.db import connection, connections

from alerts.models import Alert as AlertRecord

FIRINGS_PER_PROCESS = 40


def _fire(count: int, results) -> None:
    from alerts.service import AlertService

    connections.close_all()  # this process's own connection, not the parent's
    service = AlertService()
    ids = {service.create_system_alert("cpu_percent", 95, 80, "web-01").pk for _ in range(count)}
    results.put(sorted(ids))
    connections.close_all()


@pytest.mark.django_db(transaction=True)
def test_two_processes_firing_one_fingerprint_make_one_alert():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite serialises writers, there is no race to test")
    connections.close_all()
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    workers = [context.Process(target=_fire, args=(FIRINGS_PER_PROCESS, results)) for _ in range(2)]
    for worker in workers:
        worker.start()
    seen = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    alert = AlertRecord.objects.get()
    assert seen[0] == seen[1] == [alert.pk]
    assert alert.notification_count == 2 * FIRINGS_PER_PROCESS

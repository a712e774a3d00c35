"""Two processes firing the same problem at once make one alert with an exact count."""

from __future__ import annotations

import multiprocessing

import pytest
from django.db import connection, connections

from alerts.models import Alert

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
    alert = Alert.objects.get()
    assert seen[0] == seen[1] == [alert.pk]
    assert alert.notification_count == 2 * FIRINGS_PER_PROCESS


def _synchronous_commit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_a_counted_repeat_leaves_the_session_waiting_for_its_commits():
    """A plain repeat outside a transaction commits without waiting for the WAL flush;
    that must stay with its own statement, not change how later work commits."""
    if connection.vendor != "postgresql":
        pytest.skip("the one-statement repeat is PostgreSQL's")
    from django.db import transaction

    from alerts.service import AlertService

    service = AlertService()
    first = service.create_system_alert("cpu_percent", 95, 80, "web-01")
    for _ in range(7):  # past psycopg's prepare threshold: the prepared statement runs
        service.create_system_alert("cpu_percent", 95, 80, "web-01")
    assert _synchronous_commit() == "on"
    with transaction.atomic():
        # Inside a caller's transaction the repeat must not touch the caller's commit.
        service.create_system_alert("cpu_percent", 95, 80, "web-01")
        assert _synchronous_commit() == "on"
    first.refresh_from_db()
    assert first.notification_count == 9
    assert Alert.objects.count() == 1

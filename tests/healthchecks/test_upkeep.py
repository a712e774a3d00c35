"""Database analytics as metrics, result retention, and recovery webhooks."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from alerts.models import AlertEvent
from healthchecks.dbstats import collect
from healthchecks.models import CheckResult, HourlyCheckSummary
from healthchecks.probes import ProbeResult
from healthchecks.retention import run_retention
from healthchecks.state import apply_results
from metrics.models import Metric, MetricSample

pytestmark = pytest.mark.django_db


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL analytics need PostgreSQL"
)
def test_postgres_analytics_are_stored_as_metrics():
    values = collect()
    assert values["pg_max_connections"] >= values["pg_connections"] >= 1
    stored = set(
        Metric.objects.filter(pk__in=MetricSample.objects.values("metric")).values_list(
            "name", flat=True
        )
    )
    assert {
        "pg_connections_used_percent",
        "pg_lock_waits",
        "pg_long_running_queries",
        "pg_database_size_bytes",
    } <= stored


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite file sizes need SQLite")
def test_sqlite_file_sizes_are_stored_as_metrics():
    values = collect()
    assert values["sqlite_file_bytes"] > 0
    assert set(values) == {"sqlite_file_bytes", "sqlite_wal_bytes"}
    assert MetricSample.objects.filter(metric__name="sqlite_file_bytes").exists()


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite file sizes need SQLite")
def test_sqlite_file_and_wal_sizes_are_read(tmp_path, monkeypatch):
    from healthchecks.dbstats import sqlite_values

    database = tmp_path / "console.sqlite3"
    database.write_bytes(b"x" * 4096)
    (tmp_path / "console.sqlite3-wal").write_bytes(b"x" * 1000)
    monkeypatch.setitem(connection.settings_dict, "NAME", str(database))
    assert sqlite_values() == {"sqlite_file_bytes": 4096.0, "sqlite_wal_bytes": 1000.0}


def test_old_results_are_rolled_up_by_hour_then_pruned(make_endpoint, settings):
    settings.HEALTH_RESULT_RETENTION_DAYS = 7
    endpoint = make_endpoint()
    old = (timezone.now() - timedelta(days=9)).replace(minute=10, second=0, microsecond=0)
    apply_results([(endpoint, ProbeResult(ok=True, response_ms=10.0))], old)
    apply_results([(endpoint, ProbeResult(ok=False, error="x"))], old + timedelta(minutes=5))
    apply_results([(endpoint, ProbeResult(ok=True, response_ms=30.0))])
    result = run_retention()
    assert result["results_pruned"] == 2
    summary = HourlyCheckSummary.objects.get()
    assert (summary.checks, summary.failures, summary.avg_response_ms) == (2, 1, 10.0)
    assert CheckResult.objects.count() == 1


def test_a_recovery_webhook_is_called_after_n_failures(make_endpoint, http_server):
    endpoint = make_endpoint(
        "worker", recovery_webhook_url=http_server.url("/restart"), recovery_after_failures=2
    )
    for _ in range(3):
        apply_results([(endpoint, ProbeResult(ok=False, error="refused"))])
    calls = [r for r in http_server.received if r["path"] == "/restart"]
    assert len(calls) == 1  # at the second failure, not again at the third
    body = json.loads(calls[0]["body"])
    assert body["endpoint"] == "worker" and body["action"] == "RESTART"
    event = AlertEvent.objects.get(reason__startswith="recovery ")
    assert event.reason == (
        "recovery RESTART (webhook) for worker after 2 failures: succeeded (HTTP 200)"
    )
    assert event.alert is not None and event.alert.alert_type == "service_down"


def test_a_failing_recovery_webhook_is_recorded_as_failed(make_endpoint, closed_port):
    endpoint = make_endpoint(
        "worker", recovery_webhook_url=f"http://127.0.0.1:{closed_port}/", recovery_after_failures=1
    )
    apply_results([(endpoint, ProbeResult(ok=False, error="refused"))])
    event = AlertEvent.objects.get(reason__startswith="recovery ")
    assert ": failed (ConnectError" in event.reason


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_a_slow_query_raises_an_alert_with_its_text_and_plan(settings):
    import threading
    import time

    import psycopg

    from alerts.models import Alert
    from healthchecks.dbstats import alert_slow_queries, slow_queries

    settings.DB_SLOW_QUERY_SECONDS = 0.5
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)

    def long_query():
        with psycopg.connect(**params) as other:
            other.execute("SELECT pg_sleep(3), 'bookings'")

    worker = threading.Thread(target=long_query)
    worker.start()
    deadline = time.monotonic() + 10
    while not slow_queries() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert alert_slow_queries() == 1
    alert = Alert.objects.get(alert_type="database_slow_query")
    assert "pg_sleep(3)" in alert.metadata["query"]
    assert "Result" in alert.metadata["execution_plan"]
    assert alert.message.startswith("Query has run ")
    worker.join()
    alert_slow_queries()
    alert.refresh_from_db()
    assert alert.status == "resolved"

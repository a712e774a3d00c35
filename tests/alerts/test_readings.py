"""Service rules read check results through ``alerts.readings``, which the healthchecks
app fills from its ready(): alerts never imports health-check models."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alerts import readings
from alerts.evaluator import evaluate
from alerts.models import Alert, AlertRule
from healthchecks.models import CheckResult, ServiceEndpoint

pytestmark = pytest.mark.django_db

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


@pytest.fixture
def failing_db():
    endpoint = ServiceEndpoint.objects.create(
        name="db", target="http://127.0.0.1:9/health", retries=1
    )
    ServiceEndpoint.objects.create(name="off", target="http://127.0.0.1:9/x", enabled=False)
    CheckResult.objects.bulk_create(
        CheckResult(
            endpoint=endpoint,
            time=T0 - timedelta(seconds=10 * i),
            outcome="ok" if i == 3 else "fail",
            error="" if i == 3 else "connection refused",
        )
        for i in range(4)
    )
    AlertRule.objects.create(
        name="db failing",
        kind=AlertRule.Kind.SERVICE_HEALTH,
        service="db",
        aggregation=AlertRule.Aggregation.COUNT,
        threshold=2,
        window_seconds=60,
        for_seconds=0,
    )
    return endpoint


def test_it_reads_the_enabled_endpoints_and_their_failures_oldest_first(failing_db):
    assert list(readings.endpoints()) == [failing_db.pk]
    assert readings.endpoints(["db"])[failing_db.pk].retries == 1
    rows = list(readings.checks([failing_db.pk], since=T0 - timedelta(seconds=25)))
    assert [(at, failed, error) for _, at, failed, _, error in rows] == [
        (T0 - timedelta(seconds=20), True, "connection refused"),
        (T0 - timedelta(seconds=10), True, "connection refused"),
        (T0, True, "connection refused"),
    ]


def test_a_service_rule_fires_on_the_readings_and_reads_nothing_without_a_source(
    failing_db, monkeypatch
):
    monkeypatch.setattr(readings, "_source", None)
    assert evaluate(T0).fired == 0
    monkeypatch.undo()
    assert evaluate(T0).fired == 1
    assert Alert.objects.get().resource == "db"

"""Seed 000's latency monitor: percentiles per source, the lag alert, the ingest hook."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.test import override_settings

from alerts.constants import Category, Status
from alerts.models import Alert
from healthchecks.latency import INGEST_SOURCE, get_average_latency, latency_monitor

pytestmark = pytest.mark.django_db


def test_average_latency_per_source_with_percentiles():
    for ms in (10, 20, 30, 40, 1000):
        latency_monitor.record("feed", ms)
    latency_monitor.record("orders", 5)
    figures = get_average_latency()
    assert figures["feed"]["avg_ms"] == 220.0
    assert (figures["feed"]["p50_ms"], figures["feed"]["p99_ms"]) == (30.0, 1000.0)
    assert figures["orders"]["count"] == 1


def test_a_source_with_no_samples_has_count_zero():
    assert get_average_latency("nothing") == {"count": 0}


@override_settings(LATENCY_ALERT_THRESHOLD_MS=200)
def test_lag_over_the_threshold_raises_a_performance_alert_then_resolves():
    for _ in range(20):
        latency_monitor.record("feed", 450)
    assert latency_monitor.check_lag() == {"feed": "fired"}
    alert = Alert.objects.get()
    assert alert.category == Category.PERFORMANCE and alert.resource == "feed"
    assert "P95 e2e_latency_ms is 450 ms (threshold: 200 ms" in alert.message
    from healthchecks.models import LatencySample

    LatencySample.objects.all().delete()
    latency_monitor.record("feed", 20)
    assert latency_monitor.check_lag() == {"feed": "resolved"}
    assert Alert.objects.get().status == Status.RESOLVED


def test_the_consoles_own_ingest_latency_is_recorded_per_batch(
    django_capture_on_commit_callbacks,
):
    from metrics.ingest import Batch, ingest

    with django_capture_on_commit_callbacks(execute=True):
        ingest(Batch(hostname="web-01", samples=[("cpu_usage_percent", 12.0, datetime.now(UTC))]))
    figures = get_average_latency(INGEST_SOURCE)
    assert figures["count"] == 1 and figures["max_ms"] > 0

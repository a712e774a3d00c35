"""Seed 002's "High Python Memory Usage" process rule judges each matching process on
its own: one python at 95 % memory fires even while another python on the same host sits
at 1 %, and the alert names the host, the process and its PID."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alerts.evaluator import evaluate
from alerts.models import Alert, AlertRule
from metrics.models import Host, ProcessSample

pytestmark = pytest.mark.django_db

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)

SEED_RULE = {
    "name": "High Python Memory Usage",
    "rule_type": "process_metric",
    "condition": {
        "process_name": "python",
        "metric_field": "memory_percent",
        "operator": ">",
        "threshold": 80.0,
    },
    "severity": "medium",
    "cooldown_minutes": 10,
}


@pytest.fixture
def rule(alice, token_for, api_client):
    created = api_client(token_for(alice, "read,write")).post("/alert-rules", SEED_RULE)
    assert created.status_code == 201, created.content
    return AlertRule.objects.get(name="High Python Memory Usage")


def _samples(hostname, end, memory_by_pid, name="python", minutes=5):
    host = Host.objects.get_or_create(hostname=hostname)[0]
    ProcessSample.objects.bulk_create(
        ProcessSample(
            time=end - timedelta(seconds=30 * i),
            host=host,
            pid=pid,
            name=name,
            cpu_percent=1.0,
            memory_percent=memory,
            rss_bytes=1 << 20,
        )
        for pid, memory in memory_by_pid.items()
        for i in range(minutes * 2)
    )


def test_it_reads_the_worst_value_per_process_by_default(rule):
    assert rule.aggregation == "max"


def test_it_fires_for_the_one_process_over_the_threshold(rule):
    _samples("app-01", T0, {4242: 95.0, 5151: 1.0})
    assert evaluate(T0).fired == 1
    alert = Alert.objects.get()
    assert alert.resource == "app-01/python/4242"
    assert alert.title == "High Python Memory Usage - python (pid 4242) on app-01"
    assert alert.message.startswith("python (pid 4242) maximum over 300 s is 95.0 %")
    assert alert.metadata["pid"] == 4242 and alert.metadata["host"] == "app-01"
    assert alert.metadata["process"] == "python"


def test_two_processes_over_it_are_two_alerts_and_each_resolves_on_its_own(rule):
    _samples("app-01", T0, {4242: 95.0, 5151: 90.0})
    assert evaluate(T0).fired == 2
    assert sorted(Alert.objects.values_list("resource", flat=True)) == [
        "app-01/python/4242",
        "app-01/python/5151",
    ]
    later = T0 + timedelta(minutes=10)
    _samples("app-01", later, {4242: 95.0, 5151: 20.0})
    result = evaluate(later)
    assert (result.resolved, result.repeated) == (1, 0)
    assert Alert.objects.get(status="active").resource == "app-01/python/4242"


def test_a_process_that_exits_resolves_its_alert_instead_of_reading_no_data(rule):
    _samples("app-01", T0, {4242: 95.0})
    assert evaluate(T0).fired == 1
    later = T0 + timedelta(minutes=10)
    _samples("app-01", later, {7000: 3.0}, name="nginx")  # the host still reports
    result = evaluate(later)
    assert (result.resolved, result.no_data) == (1, 0)
    alert = Alert.objects.get(rule=rule)
    assert alert.status == "resolved"
    assert alert.events.filter(reason__contains="no longer running on app-01").exists()


def test_a_host_that_stops_reporting_still_reads_no_data(rule):
    _samples("app-01", T0, {4242: 95.0})
    evaluate(T0)
    assert evaluate(T0 + timedelta(minutes=10)).no_data == 1

"""Percentile readings (seed 003's p50 / p95 / p99 latency rules; issue 16: "Latency
alerts page on a P95 over a window with a minimum number of samples, severity by
overage, never on one sample")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alerts import preview
from alerts.evaluator import evaluate
from alerts.models import Alert, AlertRule
from alerts.service import AlertService
from tests.metrics.helpers import store

pytestmark = pytest.mark.django_db

T0 = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=2)


@pytest.fixture(autouse=True)
def _clock_in_the_tests_hands():
    from alerts.apps import _evaluate_soon
    from metrics.signals import samples_ingested

    samples_ingested.disconnect(dispatch_uid="alerts.evaluate_after_ingest")
    yield
    samples_ingested.connect(_evaluate_soon, dispatch_uid="alerts.evaluate_after_ingest")


def _latencies(values, end, host="api-01", key="api_response_time_ms", step=10):
    n = len(values)
    store(
        host,
        {key: [(end - timedelta(seconds=step * (n - 1 - i)), v) for i, v in enumerate(values)]},
    )


def _rule(**fields):
    return AlertRule.objects.create(
        **{
            "name": "API P95",
            "kind": "latency",
            "metric": "api_response_time_ms",
            "aggregation": "p95",
            "threshold": 1000,
            "window_seconds": 300,
            "cooldown_seconds": 0,
            "severity": "warning",
            **fields,
        }
    )


# Twenty samples: eighteen quick, two slow. Average 245 ms; nearest-rank P95 = the 19th.
MOSTLY_QUICK = [100.0] * 18 + [1200.0, 2500.0]


def test_a_p95_rule_fires_where_the_average_would_not():
    _rule()
    _rule(name="API average", aggregation="avg")
    _latencies(MOSTLY_QUICK, T0)
    assert evaluate(T0).fired == 1
    alert = Alert.objects.get()
    assert alert.rule is not None and alert.rule.name == "API P95" and alert.value == 1200.0
    assert alert.message == "api_response_time_ms 95th percentile over 300 s is 1200 (> 1000)"


@pytest.mark.parametrize(
    ("aggregation", "expected"), [("p50", 100.0), ("p95", 1200.0), ("p99", 2500.0)]
)
def test_percentiles_are_nearest_rank_on_either_database(aggregation, expected):
    rule = _rule(aggregation=aggregation, threshold=0)
    _latencies(MOSTLY_QUICK, T0)
    [match] = preview.matches_now(rule, T0)
    assert match.value == expected


def test_it_never_pages_on_one_sample():
    _rule()
    _latencies([9000.0], T0)
    assert evaluate(T0).fired == 0, "one slow request is not a lag"
    _latencies([9000.0] * 4, T0 + timedelta(seconds=40))
    assert evaluate(T0 + timedelta(seconds=40)).fired == 1, "five samples: judged"


def test_a_rule_can_ask_for_more_samples_and_other_kinds_need_one():
    _rule(min_samples=30)
    _latencies([5000.0] * 20, T0)
    assert evaluate(T0).fired == 0
    assert AlertRule(kind="system_metric").required_samples == 1
    assert AlertRule(kind="latency").required_samples == 5


def test_too_few_samples_while_firing_neither_resolves_nor_reads_no_data():
    _rule()
    _latencies([3000.0] * 10, T0)
    assert evaluate(T0).fired == 1
    later = T0 + timedelta(minutes=10)
    _latencies([100.0, 100.0], later)
    result = evaluate(later)
    assert (result.resolved, result.no_data) == (0, 0)
    assert Alert.objects.get().status == "active"


@pytest.mark.parametrize(
    ("p95", "severity"),
    [(1100.0, "warning"), (1300.0, "error"), (1600.0, "critical")],
)
def test_severity_grows_with_the_overage(p95, severity):
    _rule()
    _latencies([p95] * 10, T0)
    evaluate(T0)
    assert Alert.objects.get().severity == severity


def test_a_worse_repeat_escalates_and_the_rules_own_severity_is_the_floor():
    _rule(repeat_interval_seconds=0)
    _rule(name="API P95 (db)", metric="db_query_ms", severity="error")
    _latencies([1100.0] * 10, T0)
    _latencies([1050.0] * 10, T0, key="db_query_ms")
    evaluate(T0)
    assert Alert.objects.get(rule__name="API P95 (db)").severity == "error", "not below its own"
    later = T0 + timedelta(minutes=6)
    _latencies([1700.0] * 10, later)
    evaluate(later)
    assert Alert.objects.get(rule__name="API P95").severity == "critical"
    assert Alert.objects.get(rule__name="API P95").events.filter(kind="escalated").exists()


def test_the_backtest_replays_percentiles_over_the_raw_samples():
    rule = _rule(window_seconds=120)
    start = T0 - timedelta(hours=1)
    # An hour every 10 s; from minute 20 to 30 one request in ten takes 4 s.
    store(
        "api-01",
        {
            "api_response_time_ms": [
                (
                    start + timedelta(seconds=10 * i),
                    4000.0 if 120 <= i < 180 and i % 10 == 0 else 100.0,
                )
                for i in range(360)
            ]
        },
    )
    result = preview.backtest(rule, hours=1, now=start + timedelta(hours=1))
    assert result.source == "the raw samples"
    assert result.firings == 1 and result.targets[0].peak == 4000.0


def test_process_and_service_rules_read_percentiles_too():
    from alerts.evaluator import ServiceReading, process_value, service_value

    rule = AlertRule(kind="process_metric", aggregation="p50")
    assert process_value(rule, [5.0, 1.0, 9.0, 3.0]) == 3.0
    checks = [(T0, False, float(ms)) for ms in range(1, 101)]
    assert service_value(AlertRule(kind="service_health", aggregation="p99"), checks) == (
        ServiceReading(99.0, "ms")
    )


def test_the_api_takes_a_percentile_as_seeds_write_it(alice, token_for, api_client):
    _latencies([40.0], T0, key="exchange_latency_ms")
    created = api_client(token_for(alice, "read,write")).post(
        "/alert-rules",
        {
            "name": "High exchange latency",
            "kind": "latency",
            "metric": "exchange_latency_ms",
            "aggregation": "P99",
            "threshold": 5000,
        },
    )
    assert created.status_code == 201, created.content
    assert created.json()["aggregation"] == "p99" and created.json()["min_samples"] is None


def test_performance_alerts_of_two_percentiles_are_two_alerts():
    service = AlertService()
    p95 = service.create_performance_alert(
        metric_name="api_response_time_ms",
        current_value=1500,
        threshold_value=1000,
        resource="/api/bookings",
        percentile="P95",
    )
    p99 = service.create_performance_alert(
        "api_response_time_ms", 4000, 2000, resource="/api/bookings", percentile="p99"
    )
    assert p95.pk != p99.pk
    assert p95.title == "Slow /api/bookings: P95 api_response_time_ms"
    assert p99.metadata["percentile"] == "P99" and p99.labels == {"percentile": "P99"}
    again = service.create_performance_alert(
        "api_response_time_ms", 1600, 1000, resource="/api/bookings", percentile="95"
    )
    assert again.pk == p95.pk and again.notification_count == 2

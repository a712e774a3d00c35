"""A rule's preview (what it matches now) and backtest (what it would have done)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alerts import preview
from alerts.models import AlertRule
from metrics.rollups import rollup_minutes
from tests.metrics.helpers import store

pytestmark = pytest.mark.django_db

END = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=1)
START = END - timedelta(hours=2)


def _history(host: str, spikes: list[tuple[int, int]], high: float = 95, low: float = 20):
    """Two hours of cpu_usage_percent every 15 s, at ``high`` during the spike minutes."""
    points = []
    for second in range(0, 2 * 3600, 15):
        minute = second // 60
        value = high if any(a <= minute < b for a, b in spikes) else low
        points.append((START + timedelta(seconds=second), value))
    store(host, {"cpu_usage_percent": points})
    rollup_minutes(START, END)


def _rule(**fields) -> AlertRule:
    defaults = {
        "name": "CPU high",
        "metric": "cpu_usage_percent",
        "threshold": 80,
        "window_seconds": 60,
        "cooldown_seconds": 0,
    }
    return AlertRule.objects.create(**{**defaults, **fields})


def test_it_shows_every_series_the_rule_reads_breaches_first():
    now = datetime.now(UTC)
    store("web-02", {"cpu_usage_percent": [(now - timedelta(seconds=10), 40.0)]})
    store("web-01", {"cpu_usage_percent": [(now - timedelta(seconds=10), 95.0)]})
    matches = preview.matches_now(_rule(), now)
    assert [(m.host, m.value, m.breached) for m in matches] == [
        ("web-01", 95.0, True),
        ("web-02", 40.0, False),
    ]
    assert matches[0].unit == "percent"


def test_a_backtest_counts_each_spike_once_for_as_long_as_it_lasted():
    _history("web-01", spikes=[(30, 50), (80, 90)])
    result = preview.backtest(_rule(), hours=6, now=END)
    assert result.firings == 2
    assert result.firing_minutes == 20 + 10
    [target] = result.targets
    assert target.target == "web-01/cpu_usage_percent" and target.peak == 95
    assert target.first_fired == START + timedelta(minutes=31)
    assert target.last_fired == START + timedelta(minutes=81)


def test_a_backtest_honours_for_duration_and_cooldown():
    _history("web-01", spikes=[(30, 50), (55, 60), (80, 82)])
    # The 2-minute spike never lasts the 5 minutes `for` asks; the second spike comes
    # within the 10-minute cooldown of the first one's end.
    rule = _rule(for_seconds=300, cooldown_seconds=600)
    result = preview.backtest(rule, hours=6, now=END)
    assert result.firings == 1
    assert result.targets[0].firing_minutes == 15


def test_a_clear_threshold_keeps_the_alert_firing_until_the_value_falls_past_it():
    _history("web-01", spikes=[(30, 50)], high=95, low=70)
    rule = _rule(threshold=80, clear_threshold=60)
    result = preview.backtest(rule, hours=6, now=END)
    # Back at 70 after the spike: under the threshold but never past the clear threshold.
    assert result.firings == 1
    assert result.firing_minutes == 120 - 30


def test_the_admin_page_shows_now_and_the_backtest(admin_client):
    _history("web-01", spikes=[(30, 50)])
    rule = _rule()
    page = admin_client.get(f"/admin/alerts/alertrule/{rule.pk}/preview/?hours=168")
    assert page.status_code == 200
    html = page.content.decode()
    assert "web-01/cpu_usage_percent" in html
    assert "would have fired <strong>1 time</strong>" in html
    assert "95.0 %" in html
    assert "avg over 60 s &gt; 80 %;" in html


def test_the_api_previews_a_rule_for_viewers(carol, token_for, api_client):
    _history("web-01", spikes=[(30, 50)])
    rule = _rule()
    api = api_client(token_for(carol))
    body = api.get(f"/alert-rules/{rule.pk}/preview", {"hours": 168}).json()
    assert body["backtest"]["firings"] == 1
    assert body["backtest"]["targets"][0]["unit"] == "percent"
    assert body["backtest"]["source"] == "the 1-minute roll-ups"


def test_the_api_says_what_a_preview_cannot_do(carol, token_for, api_client):
    api = api_client(token_for(carol))
    rule = _rule()
    assert api.get(f"/alert-rules/{rule.pk}/preview", {"hours": 0}).status_code == 422
    assert api.get("/alert-rules/999999/preview").status_code == 404


def _process_history(host: str, spikes: list[tuple[int, int]], high=95.0, low=10.0):
    """Two hours of a postgres process's samples every 15 s, busy in the spike minutes."""
    from metrics.models import Host, ProcessSample

    owner = Host.objects.get_or_create(hostname=host)[0]
    ProcessSample.objects.bulk_create(
        ProcessSample(
            time=START + timedelta(seconds=second),
            host=owner,
            pid=4242,
            name="postgres",
            cpu_percent=high if any(a <= second // 60 < b for a, b in spikes) else low,
            memory_percent=3.0,
            rss_bytes=50 << 20,
        )
        for second in range(0, 2 * 3600, 15)
    )


def test_a_process_rule_previews_and_backtests_over_the_process_samples():
    _process_history("db-01", spikes=[(30, 50), (80, 90)])
    rule = _rule(kind="process_metric", process="postgres", metric="cpu_percent")
    [match] = preview.matches_now(rule, START + timedelta(minutes=40))
    assert (match.host, match.series, match.value, match.breached, match.unit) == (
        "db-01",
        "postgres/4242 cpu_percent",
        95.0,
        True,
        "percent",
    )
    result = preview.backtest(rule, hours=6, now=END)
    assert result.source == "the process samples"
    # Raw samples: the window ending on a spike's last minute already holds a quiet
    # sample (the evaluator reads time >= now - window), so each spike fires a minute
    # less than over whole-minute roll-ups.
    assert result.firings == 2 and result.firing_minutes == 19 + 9
    [target] = result.targets
    assert target.target == "db-01/postgres/4242 cpu_percent" and target.peak == 95.0
    assert target.first_fired == START + timedelta(minutes=31)


def _checks(endpoint, slow: tuple[int, int], failing: tuple[int, int] = (0, 0)):
    """Two hours of checks every 30 s: 900 ms in the slow minutes, else 100 ms."""
    from healthchecks.constants import Outcome
    from healthchecks.models import CheckResult

    CheckResult.objects.bulk_create(
        CheckResult(
            endpoint=endpoint,
            time=START + timedelta(seconds=second),
            outcome=Outcome.FAIL if failing[0] <= second // 60 < failing[1] else Outcome.OK,
            response_ms=900.0 if slow[0] <= second // 60 < slow[1] else 100.0,
        )
        for second in range(0, 2 * 3600, 30)
    )


def test_a_service_rule_previews_and_backtests_over_the_check_results():
    from healthchecks.models import ServiceEndpoint

    api = ServiceEndpoint.objects.create(name="api", target="http://api/health")
    _checks(api, slow=(30, 40), failing=(60, 65))
    slow = _rule(kind="service_health", service="api", metric="", threshold=500)
    [match] = preview.matches_now(slow, START + timedelta(minutes=35))
    assert (match.host, match.series, match.value, match.unit) == (
        "api",
        "response_ms",
        900.0,
        "ms",
    )
    result = preview.backtest(slow, hours=6, now=END)
    assert result.source == "the check results"
    # Slow for ten minutes, then down (failing) for five, however fast it failed.
    assert (result.firings, result.firing_minutes) == (2, 15)
    assert result.targets[0].target == "api/response_ms" and result.targets[0].peak == 900.0
    # Failed checks, counted over 2 minutes: one alert over the five failing minutes.
    failing = _rule(
        name="API failing",
        kind="service_health",
        service="*",
        metric="",
        aggregation="count",
        threshold=2,
        operator="gte",
        window_seconds=120,
    )
    result = preview.backtest(failing, hours=6, now=END)
    assert result.firings == 1 and result.targets[0].unit == "count"
    assert result.targets[0].target == "api/failed_checks"


def test_the_admin_page_names_the_service_and_what_was_replayed(admin_client):
    from healthchecks.models import ServiceEndpoint

    _checks(ServiceEndpoint.objects.create(name="api", target="http://api/health"), slow=(30, 40))
    rule = _rule(kind="service_health", service="api", metric="", threshold=500)
    html = admin_client.get(f"/admin/alerts/alertrule/{rule.pk}/preview/?hours=168").content
    html = html.decode()
    assert "<th>Service</th>" in html and "Replayed minute by minute over the check results" in html
    assert "api/response_ms" in html and "900.0 ms" in html
    assert "<strong>CPU high</strong>: service api, response time — avg over 60 s &gt; 500 ms;" in (
        html
    )


def test_a_rules_threshold_unit_comes_from_what_it_reads():
    store("shop-01", {"orders_per_minute": [(datetime.now(UTC), 12.0)]})
    from metrics.models import Metric

    Metric.objects.filter(name="orders_per_minute").update(unit="orders/min")
    cases = [
        (_rule(name="a"), "percent"),
        (_rule(name="b", aggregation="count"), "samples"),
        (_rule(name="c", kind="latency", metric="response_time_ms"), "ms"),
        (_rule(name="d", kind="custom_metric", metric="orders_per_minute"), "orders/min"),
        (_rule(name="e", kind="trend", metric="memory_usage_percent"), "percent per hour"),
        (_rule(name="f", kind="service_health", service="*", metric=""), "ms"),
        (
            _rule(name="g", kind="service_health", service="*", metric="", aggregation="rate"),
            "per_second",
        ),
        (
            _rule(name="h", kind="process_metric", process="java", metric="memory_percent"),
            "percent",
        ),
    ]
    assert [preview.threshold_unit(rule) for rule, _ in cases] == [unit for _, unit in cases]

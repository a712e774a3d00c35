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


def test_the_api_previews_a_rule_for_viewers(carol, token_for, api_client):
    _history("web-01", spikes=[(30, 50)])
    rule = _rule()
    api = api_client(token_for(carol))
    body = api.get(f"/alert-rules/{rule.pk}/preview", {"hours": 168}).json()
    assert body["backtest"]["firings"] == 1
    assert body["backtest"]["targets"][0]["unit"] == "percent"


def test_the_api_says_what_a_preview_cannot_do(carol, token_for, api_client):
    api = api_client(token_for(carol))
    process_rule = _rule(kind="process_metric", process="postgres", metric="cpu_percent")
    response = api.get(f"/alert-rules/{process_rule.pk}/preview")
    assert response.status_code == 422 and "a preview reads metrics" in response.json()["detail"]
    assert api.get(f"/alert-rules/{process_rule.pk}/preview", {"hours": 0}).status_code == 422
    assert api.get("/alert-rules/999999/preview").status_code == 404

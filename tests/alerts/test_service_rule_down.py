"""Seed 002's "Chat Service Down" rule: a service-health rule with a maximum response
time fires when the service is slow, and also when it is down (its checks fail), however
fast its failing answers come back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alerts import preview
from alerts.evaluator import evaluate
from alerts.models import Alert, AlertRule
from healthchecks.models import CheckResult, ServiceEndpoint

pytestmark = pytest.mark.django_db

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)

SEED_RULE = {
    "name": "Chat Service Down",
    "rule_type": "service_health",
    "condition": {"service_name": "chat-service", "max_response_time_ms": 5000},
    "severity": "critical",
    "cooldown_minutes": 5,
}


@pytest.fixture
def chat(alice, token_for, api_client):
    endpoint = ServiceEndpoint.objects.create(
        name="chat-service", target="http://127.0.0.1:9/api/v1/health"
    )
    created = api_client(token_for(alice, "read,write")).post("/alert-rules", SEED_RULE)
    assert created.status_code == 201, created.content
    return endpoint


def _checks(endpoint, end, seconds, outcome, ms, error=""):
    """One check every 10 s for ``seconds`` up to ``end``."""
    n = seconds // 10
    CheckResult.objects.bulk_create(
        CheckResult(
            endpoint=endpoint,
            time=end - timedelta(seconds=10 * (n - 1 - i)),
            outcome=outcome,
            response_ms=ms,
            status_code=500 if outcome == "fail" else 200,
            error=error,
        )
        for i in range(n)
    )


def test_it_fires_while_the_service_answers_http_500_quickly(chat):
    # A healthy, slowish history, then 200 s of fast HTTP 500s: the average response
    # time stays far below 5 s, but the service is down.
    _checks(chat, T0, 100, "ok", 4900)
    _checks(chat, T0 + timedelta(seconds=200), 200, "fail", 30, "status 500, expected 200-399")
    result = evaluate(T0 + timedelta(seconds=200))
    assert result.fired == 1
    alert = Alert.objects.get(rule__name="Chat Service Down")
    assert alert.severity == "critical" and alert.resource == "chat-service"
    assert alert.message.startswith(
        "chat-service is down: the last check failed (status 500, expected 200-399)"
    )
    # Still failing at the next pass: it stays open, not "resolved at 4.79 s".
    _checks(chat, T0 + timedelta(seconds=260), 60, "fail", 25, "status 500, expected 200-399")
    assert evaluate(T0 + timedelta(seconds=260)).resolved == 0
    alert.refresh_from_db()
    assert alert.status == "active"


def test_it_still_fires_when_slow_and_resolves_once_fast_and_answering(chat):
    _checks(chat, T0, 300, "slow", 6200)
    assert evaluate(T0).fired == 1
    assert "is down" not in Alert.objects.get().message
    _checks(chat, T0 + timedelta(minutes=10), 300, "ok", 120)
    assert evaluate(T0 + timedelta(minutes=10)).resolved == 1


def test_it_honours_the_endpoint_retries_before_reading_it_as_down(chat):
    chat.retries = 2
    chat.save()
    _checks(chat, T0, 60, "ok", 100)
    _checks(chat, T0 + timedelta(seconds=20), 20, "fail", None, "refused")
    assert evaluate(T0 + timedelta(seconds=20)).fired == 0, "two failures are within retries"
    _checks(chat, T0 + timedelta(seconds=30), 10, "fail", None, "refused")
    assert evaluate(T0 + timedelta(seconds=30)).fired == 1
    assert Alert.objects.get().message == "chat-service is down: the last 3 checks failed (refused)"


def test_the_preview_and_backtest_read_it_down_too(chat):
    rule = AlertRule.objects.get(name="Chat Service Down")
    now = T0.replace(second=0)
    _checks(chat, now, 600, "fail", 40, "status 500, expected 200-399")
    [match] = preview.matches_now(rule, now)
    assert match.breached and match.down.startswith("the last check failed")
    assert preview.backtest(rule, hours=1, now=now + timedelta(minutes=1)).firings == 1

"""The state machine: retries, degraded, flips, alerts, dependencies and silences."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.constants import Category, EventKind, Status
from alerts.models import Alert, AlertEvent, Silence
from healthchecks.models import CheckResult, Flip
from healthchecks.probes import ProbeResult
from healthchecks.state import apply_results

pytestmark = pytest.mark.django_db

FAIL = ProbeResult(ok=False, error="ConnectError: connection refused")


def ok(ms: float = 20.0) -> ProbeResult:
    return ProbeResult(ok=True, response_ms=ms, status_code=200)


def step(endpoint, result, at=None):
    apply_results([(endpoint, result)], at)
    endpoint.refresh_from_db()
    return endpoint


def test_it_stores_each_result(make_endpoint):
    endpoint = step(make_endpoint(), ok(42.0))
    result = CheckResult.objects.get(endpoint=endpoint)
    assert (result.outcome, result.response_ms, result.status_code) == ("ok", 42.0, 200)
    assert endpoint.state == "up" and endpoint.last_response_ms == 42.0


def test_a_failure_within_the_retries_does_not_mark_it_down(make_endpoint):
    endpoint = step(step(make_endpoint(retries=1), ok()), FAIL)
    assert endpoint.state == "up" and endpoint.consecutive_failures == 1
    assert not Alert.objects.exists()


def test_failures_past_the_retries_mark_it_down_and_raise_one_availability_alert(make_endpoint):
    endpoint = step(step(step(make_endpoint(retries=1, severity="critical"), ok()), FAIL), FAIL)
    assert endpoint.state == "down"
    alert = Alert.objects.get()
    assert (alert.category, alert.severity, alert.status) == (
        Category.AVAILABILITY,
        "critical",
        Status.ACTIVE,
    )
    assert alert.title == "api is down" and "connection refused" in alert.message
    assert list(Flip.objects.values_list("old_state", "new_state")) == [
        ("unknown", "up"),
        ("up", "down"),
    ]


def test_recovery_resolves_the_down_alert(make_endpoint):
    endpoint = step(step(make_endpoint(), FAIL), ok())
    assert endpoint.state == "up"
    alert = Alert.objects.get()
    assert alert.status == Status.RESOLVED and alert.resolved_by == "healthchecks"


def test_slower_than_the_maximum_is_degraded_with_a_performance_alert(make_endpoint):
    endpoint = step(make_endpoint(max_response_time_ms=100), ok(350.0))
    assert endpoint.state == "degraded"
    alert = Alert.objects.get()
    assert alert.category == Category.PERFORMANCE
    assert alert.message == "api is degraded: responded in 350 ms (max 100 ms)"
    step(endpoint, ok(50.0))
    assert Alert.objects.get().status == Status.RESOLVED


def test_a_child_of_a_down_parent_is_held_back_and_says_why(make_endpoint):
    parent = make_endpoint("database")
    child = make_endpoint("api", parent=parent)
    apply_results([(child, FAIL), (parent, FAIL)])
    child.refresh_from_db()
    assert child.state == "down"
    # One outage, one page: only the parent's alert is active.
    (paged,) = Alert.objects.filter(status=Status.ACTIVE)
    assert paged.resource == "database"
    held = Alert.objects.get(resource="api")
    assert held.status == Status.SUPPRESSED and held.suppressed_by == "dependency"
    assert held.events.get(kind=EventKind.SILENCED).reason == "withheld: parent database down"
    note = AlertEvent.objects.get(alert=paged, kind=EventKind.NOTE)
    assert note.reason.startswith("withheld: parent database down (api:")


def test_a_child_still_down_after_its_parent_recovers_pages_then(make_endpoint):
    parent = make_endpoint("database")
    child = make_endpoint("api", parent=parent)
    apply_results([(parent, FAIL), (child, FAIL)])
    parent.refresh_from_db()
    child.refresh_from_db()
    apply_results([(parent, ok()), (child, FAIL)])
    open_alerts = Alert.objects.filter(status=Status.ACTIVE)
    assert [a.resource for a in open_alerts] == ["api"]


def test_a_matching_silence_suppresses_the_down_alert(make_endpoint):
    now = timezone.now()
    Silence.objects.create(
        matchers=[{"field": "resource", "op": "eq", "value": "api"}],
        starts_at=now - timedelta(minutes=1),
        ends_at=now + timedelta(hours=1),
        comment="deploy",
    )
    step(make_endpoint(), FAIL)
    alert = Alert.objects.get()
    assert alert.status == Status.SUPPRESSED
    assert alert.events.filter(kind=EventKind.SILENCED).exists()


def test_repeated_failures_while_down_do_not_page_again(make_endpoint):
    endpoint = make_endpoint()
    for _ in range(3):
        step(endpoint, FAIL)
    assert Alert.objects.count() == 1
    assert Alert.objects.get().notification_count == 1

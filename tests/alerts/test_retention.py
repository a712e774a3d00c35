"""Seed 002's hourly "Data Cleanup ... removes old metrics and resolved alerts": alerts
resolved or expired longer than ALERT_RETENTION_DAYS ago go, with their timeline and
their deliveries; the patterns never count further back than what is kept."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.constants import Status
from alerts.models import Alert, AlertEvent, AlertRule
from alerts.retention import run_retention
from alerts.service import AlertService
from alerts.tasks import cleanup

pytestmark = pytest.mark.django_db


def _alert(resource, status, age_days, **extra):
    at = timezone.now() - timedelta(days=age_days)
    alert = AlertService().create_system_alert(
        metric_name="cpu_percent", current_value=97, threshold_value=80, resource=resource
    )
    Alert.objects.filter(pk=alert.pk).update(
        status=status,
        first_seen=at - timedelta(hours=1),
        last_seen=at,
        resolved_at=at if status in (Status.RESOLVED, Status.EXPIRED) else None,
        **extra,
    )
    return alert


def _delivery(alert):
    from notifications.models import Notification, NotificationChannel

    channel, _ = NotificationChannel.objects.get_or_create(
        name="ops-hook", defaults={"kind": "webhook", "config": {"url": "https://x.test/"}}
    )
    return Notification.objects.create(
        alert=alert,
        channel=channel,
        transition="firing",
        idempotency_key=f"{alert.pk}:k",
        next_attempt_at=timezone.now(),
    )


def test_it_removes_closed_alerts_past_the_period_with_their_events_and_deliveries(settings):
    settings.ALERT_RETENTION_DAYS = 30
    old_resolved = _alert("web-01", Status.RESOLVED, 40)
    old_expired = _alert("web-02", Status.EXPIRED, 31)
    recent = _alert("web-03", Status.RESOLVED, 10)
    old_but_open = _alert("web-04", Status.ACTIVE, 60)
    old_acknowledged = _alert("web-05", Status.ACKNOWLEDGED, 60)
    _delivery(old_resolved)
    kept_delivery = _delivery(recent)
    events_of_old = AlertEvent.objects.filter(alert=old_resolved).count()
    assert events_of_old >= 1
    result = cleanup()
    assert result["alerts"] == 2 and result["deliveries"] == 1
    assert result["events"] >= events_of_old
    assert set(Alert.objects.values_list("pk", flat=True)) == {
        recent.pk,
        old_but_open.pk,
        old_acknowledged.pk,
    }
    assert not AlertEvent.objects.filter(alert_id__in=[old_resolved.pk, old_expired.pk]).exists()
    kept_delivery.refresh_from_db()  # still there


def test_an_alert_resolved_recently_after_a_long_life_is_kept(settings):
    settings.ALERT_RETENTION_DAYS = 30
    alert = _alert("db-01", Status.RESOLVED, 40)
    Alert.objects.filter(pk=alert.pk).update(resolved_at=timezone.now() - timedelta(days=2))
    assert run_retention()["alerts"] == 0


def test_notes_that_belong_to_no_alert_go_when_old(settings):
    settings.ALERT_RETENTION_DAYS = 30
    rule = AlertRule.objects.create(name="r", metric="cpu_usage_percent", threshold=80)
    old = AlertEvent.objects.create(rule=rule, kind="pending", reason="condition holds")
    AlertEvent.objects.filter(pk=old.pk).update(created=timezone.now() - timedelta(days=31))
    AlertEvent.objects.create(rule=rule, kind="cooldown", reason="in cooldown")
    assert run_retention()["notes"] == 1
    assert list(AlertEvent.objects.values_list("kind", flat=True)) == ["cooldown"]


def test_the_patterns_say_which_period_they_cover(settings, alice, client):
    settings.ALERT_RETENTION_DAYS = 30
    _alert("web-01", Status.ACTIVE, 1)
    _alert("web-02", Status.ACTIVE, 45)  # open, so kept, but older than the period
    patterns = AlertService().get_alert_patterns(days=90)
    assert (patterns["days"], patterns["covered_days"], patterns["retention_days"]) == (
        90,
        30,
        30,
    )
    assert patterns["total_alerts"] == 1, "counted over the 30 days kept, not 90"
    client.force_login(alice)
    page = client.get("/alerts/patterns/?days=90").content.decode()
    assert "kept 30 days" in page and "the 90-day view covers those 30 days only" in page
    page = client.get("/alerts/patterns/?days=7").content.decode()
    assert "(7 days)" in page and "covers those" not in page

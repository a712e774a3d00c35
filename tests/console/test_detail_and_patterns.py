"""One alert's page, and the patterns page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.html import escape

from alerts.models import Alert
from alerts.service import AlertService
from opsconsole.panels import Panel, register_panel, unregister_panel
from tests.console.helpers import raise_alert

pytestmark = pytest.mark.django_db


def test_a_rules_alert_is_named_by_its_rule_not_its_internal_type(client, carol):
    from alerts.models import AlertRule

    rule = AlertRule.objects.create(name="Checkout CPU", metric="cpu_usage_percent", threshold=80)
    alert = raise_alert("High CPU usage - web-01", alert_type=f"rule_{rule.pk}", rule=rule)
    client.force_login(carol)
    body = client.get(f"/alerts/{alert.pk}/").content.decode()
    assert "Checkout CPU" in body
    assert f"rule_{rule.pk}" not in body
    # A type a rule did not name after itself is shown as it is.
    other = AlertService().create_system_alert("cpu_usage_percent", 93, 80, "web-02", rule=rule)
    assert "high_cpu_usage_percent" in client.get(f"/alerts/{other.pk}/").content.decode()


def test_the_alert_page_shows_everything_an_operator_needs(client, carol):
    alert = AlertService().create_application_error_alert(
        error_type="StripeAPIError",
        error_message="Card declined: insufficient_funds",
        stack_trace="Traceback (most recent call last):\n  File booking.py, line 12",
        source="booking_service",
        affected_endpoint="POST /api/v1/bookings",
        affected_users=3,
        error_count=5,
    )
    Alert.objects.filter(pk=alert.pk).update(related_logs="/var/log/booking.log")
    AlertService().acknowledge_alert(alert.pk, acknowledged_by="bob", notes="On it")
    client.force_login(carol)
    body = client.get(f"/alerts/{alert.pk}/").content.decode()
    assert "StripeAPIError in booking_service" in body
    assert "Card declined: insufficient_funds" in body
    assert "<details>" in body and "File booking.py, line 12" in body  # folded
    assert "/var/log/booking.log" in body
    assert "3 users" in body and "5 occurrences" in body and "fired 1 time" in body
    assert "POST /api/v1/bookings" in body  # metadata
    assert alert.recommendations and escape(alert.recommendations[0][:20]) in body
    # The timeline, oldest first.
    timeline = body[body.index('id="timeline"') :]
    assert timeline.index("Fired") < timeline.index("Acknowledged") and "On it" in timeline
    assert f'ws-connect="/ws/alerts/{alert.pk}/"' in body


def test_a_missing_alert_is_a_404(client, carol):
    client.force_login(carol)
    assert client.get("/alerts/999999/").status_code == 404


def test_another_app_can_add_a_panel_to_the_alert_page(client, carol):
    def deliveries(alert, request):
        return Panel("Deliveries", "alerts/partials/flash.html", {"n": 2})

    register_panel("alert_detail", deliveries)
    try:
        alert = raise_alert()
        client.force_login(carol)
        assert "<h2>Deliveries</h2>" in client.get(f"/alerts/{alert.pk}/").content.decode()
    finally:
        unregister_panel("alert_detail", deliveries)


def test_a_failing_panel_does_not_break_the_alert_page(client, carol):
    def broken(alert, request):
        raise RuntimeError("boom")

    register_panel("alert_detail", broken)
    try:
        alert = raise_alert()
        client.force_login(carol)
        assert client.get(f"/alerts/{alert.pk}/").status_code == 200
    finally:
        unregister_panel("alert_detail", broken)


def test_patterns_show_peak_hour_type_mtta_mttr_and_the_hourly_chart(client, carol):
    service = AlertService()
    now = timezone.now()
    first = raise_alert("Slow query", alert_type="database_slow_query", resource="a")
    second = raise_alert("Slow query", alert_type="database_slow_query", resource="b")
    raise_alert("CPU", alert_type="high_cpu", resource="c")
    service.acknowledge_alert(first.pk, acknowledged_by="bob")
    service.resolve_alert(first.pk, resolved_by="bob")
    service.resolve_alert(second.pk, resolved_by="bob")
    Alert.objects.filter(pk=first.pk).update(
        first_seen=now - timedelta(minutes=30),
        acknowledged_at=now - timedelta(minutes=20),
        resolved_at=now,
    )
    Alert.objects.filter(pk=second.pk).update(
        first_seen=now - timedelta(minutes=10), resolved_at=now
    )
    client.force_login(carol)
    response = client.get("/alerts/patterns/", {"days": 7})
    body = response.content.decode()
    assert response.context["patterns"]["total_alerts"] == 3
    assert 'id="most-common">database_slow_query' in body
    assert 'id="mtta">10.0 min' in body
    assert 'id="mttr">20.0 min' in body
    assert 'id="unacked-share">50 %' in body
    assert "<svg" in body and body.count("<rect") == 24


def test_patterns_with_no_alerts_say_so(client, carol):
    client.force_login(carol)
    assert b"No alerts in the last 7 days" in client.get("/alerts/patterns/").content


def test_an_unknown_period_is_named_and_seven_days_shown(client, carol):
    client.force_login(carol)
    response = client.get("/alerts/patterns/", {"days": "abc"})
    assert response.status_code == 200 and b"Choose a period" in response.content


def test_a_viewer_reads_an_alert_but_gets_no_action_form(client, carol, bob):
    alert = raise_alert()
    client.force_login(carol)
    assert b'class="detail-actions"' not in client.get(f"/alerts/{alert.pk}/").content
    client.force_login(bob)
    assert b'class="detail-actions"' in client.get(f"/alerts/{alert.pk}/").content


def test_values_on_the_alert_page_carry_their_unit(client, carol):
    alert = AlertService().create_system_alert("cpu_usage_percent", 97, 80, "web-01")
    client.force_login(carol)
    body = client.get(f"/alerts/{alert.pk}/").content.decode()
    assert "97.0 % (threshold 80.0 %)" in body
    # Users and error counts belong to application errors, not to a CPU threshold,
    # even once it has fired again (each repeat counts in error_count).
    AlertService().create_system_alert("cpu_usage_percent", 98, 80, "web-01")
    body = client.get(f"/alerts/{alert.pk}/").content.decode()
    assert "fired 2 times" in body
    assert "Affected users" not in body and "occurrence" not in body

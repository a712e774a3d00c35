"""Seed 001's examples, as its users wrote them: extending an alert's metadata, reading
``metadata["recommendations"]``, and recommendations specific to the error."""

from __future__ import annotations

import pytest

from alerts.models import Alert
from alerts.service import AlertService

pytestmark = pytest.mark.django_db


def test_example_2_metadata_update_is_kept_and_shown(client, carol):
    alert = AlertService().create_system_alert(
        metric_name="cpu_percent",
        current_value=95.3,
        threshold_value=80.0,
        resource="web-server-01",
    )
    alert.metadata.update(
        {
            "top_processes": [
                {"name": "gunicorn", "cpu": 45.2, "pid": 12345},
                {"name": "celery", "cpu": 30.1, "pid": 12346},
            ],
            "load_average": [8.5, 7.2, 6.1],
        }
    )
    alert.metadata["runbook"] = "https://wiki.example.org/cpu"
    stored = Alert.objects.get(pk=alert.pk).metadata
    assert stored["top_processes"][0]["pid"] == 12345 and stored["load_average"][0] == 8.5
    assert stored["runbook"] == "https://wiki.example.org/cpu"
    assert stored["metric"] == "cpu_percent", "what the service stored is kept"
    client.force_login(carol)
    page = client.get(f"/alerts/{alert.pk}/").content.decode()
    assert "12345" in page and "gunicorn" in page


def test_the_seeds_test_reads_recommendations_from_the_metadata():
    alert = AlertService().create_system_alert(
        metric_name="cpu_percent", current_value=95, threshold_value=80, resource="test-server"
    )
    assert "exceeded by" in alert.message
    assert len(alert.metadata["recommendations"]) > 0
    assert alert.metadata.get("recommendations") == alert.recommendations
    assert "recommendations" not in Alert.objects.get(pk=alert.pk).metadata, "stored once"


def test_example_3_a_payment_error_gets_payment_advice_and_its_impact():
    alert = AlertService().create_application_error_alert(
        error_type="StripeAPIError",
        error_message="Card declined: insufficient_funds",
        stack_trace="Traceback...\n  File booking_service.py...\n  StripeAPIError...",
        source="booking_service",
        affected_endpoint="POST /api/v1/bookings",
        affected_users=3,
        error_count=5,
    )
    assert alert.message == (
        "Card declined: insufficient_funds (on POST /api/v1/bookings, 3 users affected, 5 errors)"
    )
    advice = " ".join(alert.recommendations)
    assert "Stripe's status page" in advice and "POST /api/v1/bookings" in advice
    assert "idempotency key" in advice and "charge" in advice
    assert "3 users affected" in advice


@pytest.mark.parametrize(
    ("error_type", "message", "expected"),
    [
        ("ReadTimeout", "GET https://rates.example.org timed out", "dependency that timed out"),
        ("OperationalError", "deadlock detected", "pg_stat_activity"),
        ("TwilioRestException", "upstream 503", "Twilio's status page"),
        ("MemoryError", "cannot allocate", "heap dump"),
    ],
)
def test_recommendations_are_specific_to_the_error(error_type, message, expected):
    alert = AlertService().create_application_error_alert(
        error_type=error_type, error_message=message, source="api", affected_endpoint="GET /x"
    )
    assert expected in " ".join(alert.recommendations)


def test_the_seeds_alert_is_the_spec_and_the_row_keeps_its_own_name():
    """One name per concept: ``Alert`` in ``alerts.service`` is seed 001's spelling of
    ``AlertSpec`` (what to raise), ``alerts.models.Alert`` the stored row."""
    from alerts.service import Alert as SeedAlert
    from alerts.service import AlertCategory, AlertPriority
    from alerts.spec import AlertSpec

    assert SeedAlert is AlertSpec and SeedAlert is not Alert
    spec = SeedAlert(
        alert_type="database_slow_query",
        title="Slow Database Query on Bookings Table",
        message="Query took 5.23 seconds (threshold: 1.0s, exceeded by 423%)",
        priority=AlertPriority.HIGH,
        category=AlertCategory.DATABASE,
        resource="bookings table",
        affected_users=15,
    )
    stored = AlertService().create_alert(spec)
    assert isinstance(stored, Alert)
    assert (stored.severity, stored.category, stored.affected_users) == ("error", "database", 15)

"""What a message tells beside its headline, as the seeds' users read it: send_alert's
context (seed 000), units and the metric's name, an application error's impact, and a
resolution's clearing value and acknowledger (seed 001)."""

from __future__ import annotations

import pytest

from alerts import pipeline
from alerts.notify import AlertLevel, get_alert_manager
from alerts.service import AlertService

pytestmark = pytest.mark.django_db


def _fields(body: dict) -> dict[str, str]:
    """Slack's fields section as {name: value}."""
    [section] = [b for b in body["blocks"] if "fields" in b]
    return dict(f["text"].lstrip("*").split("*\n", 1) for f in section["fields"])


@pytest.fixture
def slack(make_channel, route_all, receiver):
    return make_channel("slack", "ops-slack", receiver=receiver)


def test_send_alerts_context_reaches_slack_and_the_text_message(
    slack, make_channel, receiver, django_capture_on_commit_callbacks
):
    make_channel("sms", "phones", receiver=receiver, min_severity="critical")
    with django_capture_on_commit_callbacks(execute=True):
        get_alert_manager().send_alert(
            message="CRITICAL: Primary Postgres Connection Failed [ECONNREFUSED]",
            level=AlertLevel.CRITICAL,
            context={"node": "worker-01", "retry_count": 5},
        )
    [slack_body] = [r.json for r in receiver.requests if r.path.startswith("/hook/")]
    fields = _fields(slack_body)
    assert fields["Node"] == "worker-01" and fields["Retry count"] == "5"
    assert "Timestamp" not in fields and "Source" not in fields  # the console's own
    [sms] = [r.form["Body"] for r in receiver.requests if not r.path.startswith("/hook/")]
    assert "on worker-01" in sms and len(sms) <= 160


def test_a_cpu_alert_reads_as_cpu_with_its_units(
    slack, receiver, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        AlertService().create_system_alert("cpu_usage_percent", 97.052, 80, "web-01")
    fields = _fields(receiver.requests[0].json)
    assert fields["Metric"] == "CPU"
    assert fields["Value"] == "97.1 %" and fields["Threshold"] == "80 %"


def test_an_application_errors_impact_is_in_the_message(
    slack, receiver, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        AlertService().create_application_error_alert(
            "PaymentError",
            "Card declined",
            affected_endpoint="POST /api/v1/bookings",
            affected_users=3,
            error_count=5,
        )
    fields = _fields(receiver.requests[0].json)
    assert fields["Affected users"] == "3" and fields["Errors"] == "5"


def test_a_resolution_tells_the_value_that_cleared_it_and_who_acknowledged(
    slack, receiver, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        alert = AlertService().create_system_alert("cpu_usage_percent", 97.052, 80, "web-01")
    AlertService().acknowledge_alert(alert.pk, acknowledged_by="bob")
    with django_capture_on_commit_callbacks(execute=True):
        pipeline.clear_alert(
            alert.alert_type,
            alert.resource,
            alert.labels,
            actor="evaluator",
            note="condition cleared",
            data={"value": 41.96},
        )
    resolved = receiver.requests[-1].json
    assert resolved["blocks"][0]["text"]["text"].startswith("[RESOLVED]")
    fields = _fields(resolved)
    assert fields["Cleared at"] == "42 %"
    assert fields["Value"] == "97.1 %"  # what it fired at, beside what cleared it
    assert fields["Acknowledged by"] == "bob"

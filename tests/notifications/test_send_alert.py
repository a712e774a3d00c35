"""Seed 000's dispatch hub: get_alert_manager().send_alert(message, level, channels, context)."""

from __future__ import annotations

import pytest

from alerts.models import Alert
from alerts.notify import AlertLevel, get_alert_manager
from notifications.models import Notification
from opsconsole.bootstrap import load_defaults
from tests.notifications.helpers import flush_groups

pytestmark = pytest.mark.django_db


@pytest.fixture
def channels(make_channel, receiver):
    load_defaults()
    return {
        kind: make_channel(kind, f"ops-{kind}", receiver=receiver, min_severity="info")
        for kind in ("slack", "pagerduty", "webhook")
    }


def test_the_seed_example_pages_through_the_matrix(
    channels, receiver, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        alert = get_alert_manager().send_alert(
            message="CRITICAL: Primary Postgres Connection Failed [ECONNREFUSED]",
            level=AlertLevel.CRITICAL,
            channels=None,
            context={"node": "worker-01", "retry_count": 5},
        )
    assert alert.severity == "critical" and alert.resource == "worker-01"
    assert alert.metadata["retry_count"] == 5
    assert alert.metadata["host"] == "worker-01"
    assert "timestamp" in alert.metadata
    # The critical route waits group_wait (30 s) for more alerts of its group.
    assert receiver.requests == []
    flush_groups(django_capture_on_commit_callbacks)
    paths = sorted(r.path for r in receiver.requests)
    assert paths == ["/hook/T000/SECRET-PATH-1234", "/incoming", "/v2/enqueue"]


def test_named_channels_replace_the_matrix(channels, receiver, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        alert = get_alert_manager().send_alert("Nightly export is late", "warning", ["ops-webhook"])
    assert set(
        Notification.objects.filter(alert=alert).values_list("channel__name", flat=True)
    ) == {"ops-webhook"}
    assert receiver.requests[0].json["alert"]["title"] == "Nightly export is late"


def test_the_exception_being_handled_becomes_the_stack_trace(channels):
    try:
        raise ConnectionRefusedError("database refused the connection")
    except ConnectionRefusedError:
        alert = get_alert_manager().send_alert("DB connection lost", AlertLevel.ERROR)
    assert "ConnectionRefusedError: database refused the connection" in alert.stack_trace
    assert alert.recommendations  # advice from the error's text


def test_different_messages_from_one_node_are_different_alerts(channels):
    manager = get_alert_manager()
    manager.send_alert("Disk full", "error", context={"node": "db-01"})
    manager.send_alert("Replication lag", "error", context={"node": "db-01"})
    manager.send_alert("Disk full", "error", context={"node": "db-01"})
    assert sorted(Alert.objects.values_list("title", "notification_count")) == [
        ("Disk full", 2),
        ("Replication lag", 1),
    ]


def test_an_empty_message_or_unknown_level_is_refused(channels):
    with pytest.raises(ValueError, match="needs a message"):
        get_alert_manager().send_alert("  ")
    with pytest.raises(ValueError, match="unknown severity"):
        get_alert_manager().send_alert("x", level="apocalyptic")

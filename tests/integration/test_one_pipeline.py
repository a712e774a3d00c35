"""One pipeline: a silence (or a dependency) holds an alert back whatever raised it, and
an alert held back is sent once its policy ends and it is still open."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client, override_settings
from django.utils import timezone

from alerts import pipeline
from alerts.constants import EventKind, Status
from alerts.evaluator import evaluate
from alerts.models import Alert, AlertRule, Silence
from alerts.notify import get_alert_manager
from alerts.service import Alert as AlertSpec
from alerts.service import AlertService
from healthchecks.models import ServiceEndpoint
from healthchecks.probes import ProbeResult
from healthchecks.state import apply_results
from notifications.models import DeliveryStatus, Notification
from tests.metrics.helpers import store

pytestmark = pytest.mark.django_db

FAIL = ProbeResult(ok=False, error="ConnectError: connection refused")
OK = ProbeResult(ok=True, response_ms=20.0, status_code=200)


@pytest.fixture
def hook(make_channel, route_all, receiver):
    make_channel("webhook", receiver=receiver)
    return receiver


@pytest.fixture(autouse=True)
def _no_evaluation_on_ingest():
    """The evaluator tests' own clock: no pass at the real time after each sample."""
    from alerts.apps import _evaluate_soon
    from metrics.signals import samples_ingested

    samples_ingested.disconnect(dispatch_uid="alerts.evaluate_after_ingest")
    yield
    samples_ingested.connect(_evaluate_soon, dispatch_uid="alerts.evaluate_after_ingest")


def _silence(field: str, value: str, op: str = "eq", **fields) -> Silence:
    now = timezone.now()
    return Silence.objects.create(
        matchers=[{"field": field, "op": op, "value": value}],
        starts_at=fields.pop("starts_at", now - timedelta(minutes=1)),
        ends_at=fields.pop("ends_at", now + timedelta(hours=1)),
        comment=fields.pop("comment", "db-01 maintenance"),
        **fields,
    )


# -- one alert for resource db-01 from each source ------------------------------------------
def _from_the_evaluator(capture, api_client, token_for, alice):
    AlertRule.objects.create(
        name="CPU high",
        metric="cpu_usage_percent",
        threshold=80,
        window_seconds=60,
        cooldown_seconds=0,
        severity="warning",
    )
    now = datetime.now(UTC).replace(microsecond=0)
    store("db-01", {"cpu_usage_percent": [(now - timedelta(seconds=s), 95.0) for s in (30, 15, 0)]})
    with capture(execute=True):
        evaluate(now)
    return Alert.objects.get(alert_type__startswith="rule_")


def _from_a_health_check(capture, api_client, token_for, alice):
    endpoint = ServiceEndpoint.objects.create(
        name="db-01", kind="tcp", target="127.0.0.1:9", retries=0
    )
    with capture(execute=True):
        apply_results([(endpoint, FAIL)])
    return Alert.objects.get(alert_type="service_down")


def _from_the_api(capture, api_client, token_for, alice):
    api = api_client(token_for(alice, "read,write"))
    with capture(execute=True):
        response = api.post(
            "/alerts",
            {"alert_type": "disk_full", "title": "Disk full", "resource": "db-01"},
        )
    assert response.status_code == 201, response.content
    return Alert.objects.get(pk=response.json()["id"])


def _from_alert_service(capture, api_client, token_for, alice):
    with capture(execute=True):
        return AlertService().create_system_alert(
            metric_name="cpu_percent", current_value=99, threshold_value=80, resource="db-01"
        )


def _from_send_alert(capture, api_client, token_for, alice):
    with capture(execute=True):
        return get_alert_manager().send_alert(
            "Replication lag on db-01", level="critical", context={"node": "db-01"}
        )


@override_settings(ROOT_URLCONF="tests.opsconsole.boom_urls")
def _from_an_application_error(capture, api_client, token_for, alice):
    with capture(execute=True):
        Client(raise_request_exception=False).get("/orders/7/pay")
    return Alert.objects.get(alert_type="application_error_ValueError")


SOURCES = {
    "evaluator": (_from_the_evaluator, ("resource", "db-01", "eq")),
    "health check": (_from_a_health_check, ("resource", "db-01", "eq")),
    "api": (_from_the_api, ("resource", "db-01", "eq")),
    "AlertService": (_from_alert_service, ("resource", "db-01", "eq")),
    "send_alert": (_from_send_alert, ("resource", "db-01", "eq")),
    # An application error's resource is the place in the code that failed.
    "application error": (
        _from_an_application_error,
        ("alert_type", "application_error_.*", "regex"),
    ),
}


@pytest.mark.parametrize("source", SOURCES)
def test_a_silence_holds_back_an_alert_from_every_source(
    source, hook, django_capture_on_commit_callbacks, api_client, token_for, alice
):
    raise_it, (field, value, op) = SOURCES[source]
    silence = _silence(field, value, op)
    alert = raise_it(django_capture_on_commit_callbacks, api_client, token_for, alice)
    alert.refresh_from_db()
    assert alert.status == Status.SUPPRESSED
    assert alert.suppressed_by == "silence"
    assert alert.suppressed_until == silence.ends_at
    kinds = list(alert.events.values_list("kind", flat=True))
    assert kinds[:2] == [EventKind.FIRED, EventKind.SILENCED]
    held = alert.events.get(kind=EventKind.SILENCED)
    assert held.reason == f"silenced by silence #{silence.pk}: db-01 maintenance"
    assert held.data["silence_id"] == silence.pk
    # Nothing was written to the outbox, and nothing reached the receiver.
    assert not Notification.objects.filter(alert=alert).exists()
    assert hook.requests == []


@pytest.mark.parametrize("source", SOURCES)
def test_without_a_silence_the_same_alert_is_sent(
    source, hook, django_capture_on_commit_callbacks, api_client, token_for, alice
):
    raise_it, _matcher = SOURCES[source]
    alert = raise_it(django_capture_on_commit_callbacks, api_client, token_for, alice)
    alert.refresh_from_db()
    assert alert.status == Status.ACTIVE
    assert Notification.objects.get(alert=alert).status == DeliveryStatus.SENT
    assert len(hook.requests) == 1


def test_when_the_silence_ends_the_alert_still_open_becomes_active_and_is_sent(
    hook, django_capture_on_commit_callbacks, api_client, token_for, alice
):
    silence = _silence("resource", "db-01")
    alert = _from_the_api(django_capture_on_commit_callbacks, api_client, token_for, alice)
    assert alert.status == Status.SUPPRESSED and hook.requests == []

    # The operator ends the silence early; the next evaluation pass lets the alert go.
    api = api_client(token_for(alice, "read,write"))
    response = api.client_patch(f"/silences/{silence.pk}", {"ends_at": timezone.now().isoformat()})
    assert response.status_code == 200, response.content
    with django_capture_on_commit_callbacks(execute=True):
        assert evaluate().released == 1
    alert.refresh_from_db()
    assert alert.status == Status.ACTIVE and alert.suppressed_until is None
    event = alert.events.filter(kind=EventKind.UNSUPPRESSED).get()
    assert "no longer held back" in event.reason
    assert Notification.objects.get(alert=alert).status == DeliveryStatus.SENT
    assert len(hook.requests) == 1
    # A second pass changes nothing and sends nothing more.
    with django_capture_on_commit_callbacks(execute=True):
        assert evaluate().released == 0
    assert len(hook.requests) == 1


def test_a_deleted_silence_lets_its_alerts_go_too(hook, django_capture_on_commit_callbacks):
    silence = _silence("resource", "db-01")
    alert = _from_alert_service(django_capture_on_commit_callbacks, None, None, None)
    silence.delete()
    with django_capture_on_commit_callbacks(execute=True):
        pipeline.reapply_policies()
    alert.refresh_from_db()
    assert alert.status == Status.ACTIVE
    assert len(hook.requests) == 1


def test_an_alert_resolved_while_held_back_is_never_sent(hook, django_capture_on_commit_callbacks):
    silence = _silence("resource", "db-01")
    alert = _from_alert_service(django_capture_on_commit_callbacks, None, None, None)
    with django_capture_on_commit_callbacks(execute=True):
        AlertService().resolve_alert(alert.pk, resolved_by="bob")
    silence.delete()
    with django_capture_on_commit_callbacks(execute=True):
        assert pipeline.reapply_policies()["released"] == 0
    assert hook.requests == []


def test_a_silence_made_after_the_alert_fired_holds_it_back_from_then_on(
    hook, django_capture_on_commit_callbacks
):
    alert = _from_alert_service(django_capture_on_commit_callbacks, None, None, None)
    assert alert.status == Status.ACTIVE and len(hook.requests) == 1
    silence = _silence("resource", "db-01")
    with django_capture_on_commit_callbacks(execute=True):
        assert pipeline.reapply_policies()["held"] == 1
    alert.refresh_from_db()
    assert alert.status == Status.SUPPRESSED and alert.suppressed_by == "silence"
    assert f"silence #{silence.pk}" in alert.events.get(kind=EventKind.SILENCED).reason


def test_a_repeat_while_silenced_stays_held_and_sends_nothing(
    hook, django_capture_on_commit_callbacks
):
    _silence("resource", "db-01")
    first = _from_alert_service(django_capture_on_commit_callbacks, None, None, None)
    again = _from_alert_service(django_capture_on_commit_callbacks, None, None, None)
    assert again.pk == first.pk
    again.refresh_from_db()
    assert again.status == Status.SUPPRESSED and again.notification_count == 2
    assert hook.requests == []


def test_an_operators_suppression_that_runs_out_sends_the_alert_still_open(
    hook, django_capture_on_commit_callbacks
):
    alert = _from_alert_service(django_capture_on_commit_callbacks, None, None, None)
    with django_capture_on_commit_callbacks(execute=True):
        AlertService().suppress_alert(alert.pk, suppressed_by="bob", duration_hours=1)
    # An hour on: the suppression ran out, and the first message is long past any cooldown.
    an_hour_ago = timezone.now() - timedelta(hours=1)
    Notification.objects.filter(alert=alert).update(created=an_hour_ago)
    Alert.objects.filter(pk=alert.pk).update(suppressed_until=timezone.now() - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert pipeline.reapply_policies()["released"] == 1
    alert.refresh_from_db()
    assert alert.status == Status.ACTIVE
    assert [r.json["event"] for r in hook.requests] == ["firing", "firing"]


def test_an_api_alert_about_an_endpoint_whose_parent_is_down_waits_for_the_parent(
    hook, django_capture_on_commit_callbacks, api_client, token_for, alice
):
    database = ServiceEndpoint.objects.create(name="database", kind="tcp", target="127.0.0.1:9")
    api_endpoint = ServiceEndpoint.objects.create(
        name="api", kind="tcp", target="127.0.0.1:9", parent=database
    )
    with django_capture_on_commit_callbacks(execute=True):
        apply_results([(database, FAIL), (database, FAIL), (database, FAIL), (database, FAIL)])
    database.refresh_from_db()
    assert database.state == "down"
    sent_before = len(hook.requests)

    api = api_client(token_for(alice, "read,write"))
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/alerts", {"alert_type": "api_errors", "title": "API errors", "resource": "api"}
        )
    alert = Alert.objects.get(pk=response.json()["id"])
    assert alert.status == Status.SUPPRESSED and alert.suppressed_by == "dependency"
    assert alert.suppressed_reason == "withheld: parent database down"
    assert len(hook.requests) == sent_before

    with django_capture_on_commit_callbacks(execute=True):
        apply_results([(database, OK)])
        pipeline.reapply_policies()
    alert.refresh_from_db()
    assert alert.status == Status.ACTIVE
    assert api_endpoint.pk  # the child endpoint itself was never checked
    sent = [r.json for r in hook.requests[sent_before:]]
    assert [(m["event"], m["alert"]["resource"]) for m in sent] == [
        ("resolved", "database"),
        ("firing", "api"),
    ]


def test_a_spec_with_labels_of_other_types_is_matched_as_text(
    hook, django_capture_on_commit_callbacks
):
    _silence("label:shard", "7")
    # A number, as a source that does not know labels are text may send it.
    labels: dict[str, Any] = {"shard": 7}
    with django_capture_on_commit_callbacks(execute=True):
        alert = AlertService().create_alert(
            AlertSpec(
                alert_type="lag",
                title="Lag",
                message="Replication lag on shard 7",
                resource="db-01",
                labels=labels,
            )
        )
    assert alert.labels == {"shard": "7"}
    assert alert.status == Status.SUPPRESSED


def test_open_pages_hear_of_a_quiet_repeat_so_last_seen_stays_true(
    django_capture_on_commit_callbacks,
):
    import asyncio
    import contextlib

    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    assert layer is not None
    listener = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(pipeline.ALERTS_GROUP, listener)
    alert = _from_alert_service(django_capture_on_commit_callbacks, None, None, None)
    _from_alert_service(django_capture_on_commit_callbacks, None, None, None)
    # Fifteen seconds on, a repeat with no timeline event still reaches open pages.
    Alert.objects.filter(pk=alert.pk).update(last_seen=timezone.now() - timedelta(seconds=15))
    _from_alert_service(django_capture_on_commit_callbacks, None, None, None)
    # A fourth at once is not published: open pages hear at most every 10 s.
    _from_alert_service(django_capture_on_commit_callbacks, None, None, None)

    async def published():
        # One event loop for every receive: channels-redis buffers per loop.
        messages = [await layer.receive(listener) for _ in range(3)]
        with contextlib.suppress(TimeoutError):
            messages.append(await asyncio.wait_for(layer.receive(listener), 0.5))
        return messages

    fired, noted, quiet, *more = async_to_sync(published)()
    assert fired["alert_id"] == alert.pk and fired["count"] == 1
    assert noted["event_id"] is not None and noted["count"] == 2  # the first repeat's note
    assert quiet["alert_id"] == alert.pk and quiet["event_id"] is None and quiet["count"] == 3
    assert more == []


def test_one_alert_that_cannot_be_routed_does_not_keep_the_others_held(
    hook, django_capture_on_commit_callbacks
):
    silence = _silence("resource", "db-01")
    with django_capture_on_commit_callbacks(execute=True):
        odd = AlertService().create_alert(
            AlertSpec(
                alert_type="odd",
                title="Odd metadata",
                message="stored by a script",
                resource="db-01",
                metadata={"exclude_channels": 5, "notification_channels": "webhook"},
            )
        )
        plain = AlertService().create_alert(
            AlertSpec(alert_type="plain", title="Plain", message="m", resource="db-01")
        )
    silence.delete()
    with django_capture_on_commit_callbacks(execute=True):
        assert pipeline.reapply_policies()["released"] == 2
    assert {a.status for a in Alert.objects.filter(pk__in=[odd.pk, plain.pk])} == {Status.ACTIVE}
    assert sorted(r.json["alert"]["title"] for r in hook.requests) == ["Odd metadata", "Plain"]


def test_an_operators_suppression_that_runs_out_inside_a_silence_stays_quiet(
    hook, django_capture_on_commit_callbacks
):
    alert = _from_alert_service(django_capture_on_commit_callbacks, None, None, None)
    with django_capture_on_commit_callbacks(execute=True):
        AlertService().suppress_alert(alert.pk, suppressed_by="bob", duration_hours=1)
    _silence("resource", "db-01")
    Alert.objects.filter(pk=alert.pk).update(suppressed_until=timezone.now() - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert pipeline.reapply_policies()["released"] == 0
    alert.refresh_from_db()
    assert alert.status == Status.SUPPRESSED and alert.suppressed_by == "silence"
    assert len(hook.requests) == 1  # the first firing, before anything was suppressed


def test_an_acknowledged_alert_that_escalates_inside_a_silence_pages_nobody(
    hook, django_capture_on_commit_callbacks
):
    first = _from_alert_service(django_capture_on_commit_callbacks, None, None, None)
    assert first.severity == "error"
    with django_capture_on_commit_callbacks(execute=True):
        AlertService().acknowledge_alert(first.pk, acknowledged_by="bob")
    _silence("resource", "db-01")
    with django_capture_on_commit_callbacks(execute=True):
        escalated = AlertService().create_system_alert(
            metric_name="cpu_percent", current_value=200, threshold_value=80, resource="db-01"
        )
    assert escalated.pk == first.pk
    escalated.refresh_from_db()
    assert escalated.severity == "critical" and escalated.status == Status.ACKNOWLEDGED
    event = escalated.events.get(kind=EventKind.ESCALATED)
    assert event.data["held_by"] == "silence"
    assert len(hook.requests) == 1


def test_a_channel_deleted_by_another_process_does_not_lose_the_alert(
    settings, hook, make_channel, django_capture_on_commit_callbacks
):
    from django.db import connection

    settings.CONFIG_CACHE_SECONDS = 60
    gone = make_channel("webhook", name="gone", receiver=hook)
    _from_alert_service(django_capture_on_commit_callbacks, None, None, None)  # table cached
    # Deleted behind this process's back: no signal reaches its routing table.
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM alerts_notification WHERE channel_id = %s", [gone.pk])
        cursor.execute("DELETE FROM alerts_notificationchannel WHERE id = %s", [gone.pk])
    with django_capture_on_commit_callbacks(execute=True):
        alert = AlertService().create_alert(
            AlertSpec(alert_type="after", title="After", message="m", resource="db-02")
        )
    assert Alert.objects.filter(pk=alert.pk).exists()
    assert Notification.objects.get(alert=alert).channel_id != gone.pk

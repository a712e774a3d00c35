"""POST /api/v1/integrations/alertmanager: Alertmanager's webhook into the pipeline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from alerts.constants import Severity, Status
from alerts.integrations.alertmanager import severity_of
from alerts.models import Alert, AlertEvent

pytestmark = pytest.mark.django_db

PATH = "/integrations/alertmanager"
STARTED = datetime(2024, 5, 4, 10, 0, 0, tzinfo=UTC)


def am_alert(status="firing", fingerprint="a1b2c3d4e5f60718", **overrides) -> dict:
    alert = {
        "status": status,
        "labels": {
            "alertname": "DiskAlmostFull",
            "instance": "db-01:9100",
            "job": "node",
            "severity": "crit",
            "mount": "/var",
        },
        "annotations": {
            "summary": "/var on db-01 is 97 % full",
            "description": "Only 1.2 GiB left; writes fail when it is full.",
            "runbook_url": "https://runbooks.internal/disk-full",
            "dashboard": "disk overview",
        },
        "startsAt": STARTED.isoformat(),
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.internal:9090/graph?g0.expr=disk",
        "fingerprint": fingerprint,
    }
    alert.update(overrides)
    return alert


def payload(*alerts, status="firing") -> dict:
    return {
        "version": "4",
        "groupKey": '{}:{alertname="DiskAlmostFull"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "opsconsole",
        "groupLabels": {"alertname": "DiskAlmostFull"},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.internal:9093",
        "alerts": list(alerts),
    }


@pytest.fixture
def am(bob, token_for, api_client):
    """An API client with a responder's ingest token, the way Alertmanager posts."""
    return api_client(token_for(bob, "ingest"))


def test_it_opens_a_console_alert_from_a_firing_alert(am):
    answer = am.post(PATH, payload(am_alert()))
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert (body["received"], body["opened"], body["refused"]) == (1, 1, 0)
    alert = Alert.objects.get(pk=body["results"][0]["alert_id"])
    assert alert.title == "DiskAlmostFull: /var on db-01 is 97 % full"
    assert alert.message == "Only 1.2 GiB left; writes fail when it is full."
    assert alert.severity == Severity.CRITICAL  # "crit"
    assert alert.status == Status.ACTIVE
    assert alert.resource == "db-01:9100"
    assert alert.alert_type == "alertmanager:DiskAlmostFull"
    assert alert.labels["mount"] == "/var" and alert.labels["severity"] == "crit"
    assert alert.first_seen == STARTED  # startsAt, not the time of the post
    assert alert.metadata["generator_url"] == "http://prometheus.internal:9090/graph?g0.expr=disk"
    assert alert.metadata["runbook_url"] == "https://runbooks.internal/disk-full"
    assert alert.metadata["annotations"] == {"dashboard": "disk overview"}
    assert alert.metadata["alertmanager_fingerprint"] == "a1b2c3d4e5f60718"
    assert AlertEvent.objects.get(alert=alert).actor == "alertmanager"


def test_a_repost_of_a_firing_alert_counts_a_repeat(am):
    first = am.post(PATH, payload(am_alert())).json()["results"][0]
    again = am.post(PATH, payload(am_alert())).json()["results"][0]
    assert (first["result"], again["result"]) == ("opened", "repeated")
    assert again["alert_id"] == first["alert_id"]
    alert = Alert.objects.get()
    assert alert.notification_count == 2


def test_a_resolved_alert_resolves_it_at_its_end_time(am):
    opened = am.post(PATH, payload(am_alert())).json()["results"][0]
    ended = STARTED + timedelta(minutes=7)
    answer = am.post(
        PATH, payload(am_alert("resolved", endsAt=ended.isoformat()), status="resolved")
    )
    assert answer.status_code == 200
    assert answer.json()["results"][0]["result"] == "resolved"
    alert = Alert.objects.get(pk=opened["alert_id"])
    assert alert.status == Status.RESOLVED
    assert alert.resolved_at == ended
    assert alert.resolved_by == "alertmanager"
    # The next episode of the same alert is a new console alert.
    again = am.post(PATH, payload(am_alert(startsAt=(ended + timedelta(minutes=1)).isoformat())))
    assert again.json()["results"][0]["result"] == "opened"
    assert Alert.objects.count() == 2


def test_a_resolve_that_ended_before_the_open_alert_began_is_left_alone(am):
    later = STARTED + timedelta(hours=1)
    am.post(PATH, payload(am_alert(startsAt=later.isoformat())))
    stale = am.post(PATH, payload(am_alert("resolved", endsAt=STARTED.isoformat())))
    assert stale.json()["results"][0]["result"] == "stale"
    assert Alert.objects.get().status == Status.ACTIVE


def test_a_resolve_with_nothing_open_changes_nothing(am):
    answer = am.post(PATH, payload(am_alert("resolved", endsAt=STARTED.isoformat())))
    assert answer.status_code == 200
    assert answer.json()["results"][0]["result"] == "not_open"
    assert not Alert.objects.exists()


def test_a_resolve_dated_in_the_future_is_dated_now(am):
    am.post(PATH, payload(am_alert()))
    future = timezone.now() + timedelta(days=3)
    am.post(PATH, payload(am_alert("resolved", endsAt=future.isoformat())))
    resolved_at = Alert.objects.get().resolved_at
    assert resolved_at is not None and resolved_at <= timezone.now()


def test_one_bad_alert_is_refused_and_the_others_are_stored(am):
    answer = am.post(
        PATH,
        payload(
            am_alert(fingerprint="0000000000000001"),
            am_alert(fingerprint="0000000000000002", status="pending"),
            {"labels": "not a dict", "status": "firing"},
            am_alert(fingerprint="0000000000000003", startsAt="yesterday"),
            am_alert(fingerprint="0000000000000004", labels={"alertname": "Other"}),
        ),
    )
    assert answer.status_code == 422
    body = answer.json()
    assert (body["opened"], body["refused"]) == (2, 3)
    assert body["detail"].startswith("3 of 5 alerts refused, the others stored: alerts[1]: status")
    assert "alerts[2]: labels" in body["detail"] and "alerts[3]: startsAt" in body["detail"]
    assert [r["result"] for r in body["results"]] == [
        "opened",
        "refused",
        "refused",
        "refused",
        "opened",
    ]
    assert Alert.objects.count() == 2


@pytest.mark.parametrize(
    "body, reason",
    [
        ({**payload(am_alert()), "version": "3"}, "payload version '3' is not supported"),
        (payload(), "the payload has no alerts"),
        ({"version": "4"}, "alerts: Field required"),
        ({"version": "4", "alerts": "many"}, "alerts: Input should be a valid list"),
        ([am_alert()], "Input should be"),
    ],
)
def test_it_refuses_a_payload_it_cannot_read_with_the_reason(am, body, reason):
    answer = am.post(PATH, body)
    assert answer.status_code == 422
    assert reason in answer.json()["detail"]
    assert not Alert.objects.exists()


def test_a_body_that_is_not_json_is_a_4xx(bob, token_for, client):
    answer = client.post(
        f"/api/v1{PATH}",
        "{not json",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token_for(bob, 'ingest')}",
    )
    assert 400 <= answer.status_code < 500
    assert answer.json()["detail"]


def test_it_takes_an_ingest_token_of_someone_who_may_raise_alerts(
    bob, carol, token_for, api_client
):
    body = payload(am_alert())
    assert api_client().post(PATH, body).status_code == 401
    assert api_client(token_for(bob, "read")).post(PATH, body).status_code == 403
    viewer = api_client(token_for(carol, "ingest")).post(PATH, body)
    assert viewer.status_code == 403 and "responder" in viewer.json()["detail"]
    assert not Alert.objects.exists()
    assert api_client(token_for(bob, "ingest")).post(PATH, body).status_code == 200


def test_without_a_fingerprint_the_labels_identify_the_alert(am):
    first = am.post(PATH, payload(am_alert(fingerprint=""))).json()["results"][0]
    again = am.post(PATH, payload(am_alert(fingerprint=""))).json()["results"][0]
    assert again["alert_id"] == first["alert_id"] and again["result"] == "repeated"


def test_the_title_and_severity_without_the_usual_labels(am):
    bare = am_alert(labels={"team": "db"}, annotations={})
    result = am.post(PATH, payload(bare)).json()["results"][0]
    alert = Alert.objects.get(pk=result["alert_id"])
    assert alert.title == "Alertmanager alert a1b2c3d4e5f60718"
    assert alert.severity == Severity.WARNING
    assert result["detail"] == "no severity label: warning"


@pytest.mark.parametrize(
    "label, severity",
    [
        ("critical", Severity.CRITICAL),
        ("CRIT", Severity.CRITICAL),
        ("page", Severity.CRITICAL),
        ("P1", Severity.CRITICAL),
        ("error", Severity.ERROR),
        ("err", Severity.ERROR),
        ("high", Severity.ERROR),
        ("warning", Severity.WARNING),
        ("warn", Severity.WARNING),
        ("information", Severity.INFO),
        ("info", Severity.INFO),
        ("none", Severity.INFO),
        ("low", Severity.INFO),
    ],
)
def test_severity_labels_and_their_aliases(label, severity):
    assert severity_of({"severity": label}) == (severity, "")


def test_an_unknown_severity_is_a_warning_and_says_so():
    assert severity_of({"severity": "purple"}) == (
        Severity.WARNING,
        "unknown severity 'purple': warning",
    )


def test_the_alert_page_links_the_generator_url_only_when_it_is_http(am, client, bob):
    am.post(PATH, payload(am_alert()))
    am.post(
        PATH,
        payload(am_alert(fingerprint="bad0bad0bad0bad0", generatorURL="javascript:alert(1)")),
    )
    good, bad = Alert.objects.order_by("pk")
    client.force_login(bob)
    page = client.get(f"/alerts/{good.pk}/").content.decode()
    assert (
        '<a href="http://prometheus.internal:9090/graph?g0.expr=disk" '
        'rel="noopener noreferrer nofollow">'
    ) in page
    assert '<a href="https://runbooks.internal/disk-full"' in page
    page = client.get(f"/alerts/{bad.pk}/").content.decode()
    assert "<code>javascript:alert(1)</code>" in page
    assert 'href="javascript:' not in page


def test_when_every_alert_is_refused_it_says_none_was_stored(am):
    answer = am.post(PATH, payload({"status": "firing", "labels": {}}))
    assert answer.status_code == 422
    assert answer.json()["detail"] == (
        "every alert refused, none stored: alerts[0]: labels: "
        "Dictionary should have at least 1 item after validation, not 0"
    )


def test_a_body_that_does_not_validate_gets_the_documented_422(am):
    # Found by the fuzzer: ninja's own 422 (no payload at all) must match the schema
    # the operation documents for its 422, which also carries the per-alert results.
    from opsconsole.api import api

    response = am.post("/integrations/alertmanager", None)
    assert response.status_code == 422
    body = response.json()
    assert body["detail"] and body["errors"][0]["type"] == "missing"
    documented = api.get_openapi_schema()["paths"]["/api/v1/integrations/alertmanager"]
    answers = {str(code): answer for code, answer in documented["post"]["responses"].items()}
    ref = answers["422"]["content"]["application/json"]["schema"]
    assert ref == {"$ref": "#/components/schemas/AlertmanagerRefused"}

"""The audit stream: what gets recorded, Sentry Station, and its live socket."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator

from alerts.models import AlertRule
from alerts.service import AlertService
from opsconsole.asgi import application
from opsconsole.models import AuditEntry
from tests.console.helpers import raise_alert


@pytest.mark.django_db
def test_logins_and_failed_logins_are_recorded_with_the_address(client, carol):
    client.post("/login/", {"username": "carol", "password": "wrong"})
    client.post("/login/", {"username": "carol", "password": "pw-carol"})
    (failed, _), (login, _) = [(e, e.data) for e in AuditEntry.objects.order_by("id")]
    assert (failed.kind, failed.actor) == ("login_failed", "carol")
    assert (login.kind, login.summary) == ("login", "carol logged in")
    assert login.data["ip"] == "127.0.0.1"


@pytest.mark.django_db
def test_a_person_acting_on_an_alert_is_recorded_with_the_notes(
    client, bob, django_capture_on_commit_callbacks
):
    alert = raise_alert("Disk full")
    client.force_login(bob)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/alerts/actions/",
            {"action": "acknowledge", "alert": alert.pk, "notes": "cleaning /var"},
            HTTP_HX_REQUEST="true",
        )
    entry = AuditEntry.objects.get(kind="alert_action")
    assert entry.actor == "bob" and f"acknowledged alert #{alert.pk}" in entry.summary
    assert entry.data["notes"] == "cleaning /var"


@pytest.mark.django_db
def test_the_engine_resolving_its_own_alerts_is_not_audit_noise(
    django_capture_on_commit_callbacks,
):
    alert = raise_alert()
    with django_capture_on_commit_callbacks(execute=True):
        AlertService().resolve_alert(alert.pk, resolved_by="evaluator")
    assert not AuditEntry.objects.filter(kind="alert_action").exists()


@pytest.mark.django_db
def test_a_rule_edited_in_the_admin_is_recorded_with_who_did_it(client, alice):
    from opsconsole.bootstrap import load_defaults

    load_defaults()  # gives the Admins group its admin permissions
    rule = AlertRule.objects.create(name="CPU hot", metric="cpu_usage_percent", threshold=90)
    client.force_login(alice)
    client.post(f"/admin/alerts/alertrule/{rule.pk}/delete/", {"post": "yes"})
    deleted = AuditEntry.objects.filter(kind="config_change").order_by("-id").first()
    assert deleted is not None
    assert deleted.actor == "alice" and deleted.summary == "alert rule deleted: CPU hot"


@pytest.mark.django_db
def test_a_failing_request_is_recorded_as_an_application_error(client, carol):
    from django.test import Client

    from opsconsole import urls

    def explode(request):
        raise RuntimeError("the cache melted")

    from django.urls import path

    urls.urlpatterns.append(path("explode/", explode))
    try:
        Client(raise_request_exception=False).get("/explode/")
    finally:
        urls.urlpatterns.pop()
    entry = AuditEntry.objects.get(kind="app_error")
    assert entry.summary == "RuntimeError on GET /explode/"
    assert entry.data["error"] == "the cache melted"


@pytest.mark.django_db
def test_sentry_station_lists_entries_newest_first_with_filters(client, carol):
    AuditEntry.objects.create(kind="login", actor="bob", summary="bob logged in")
    AuditEntry.objects.create(kind="app_error", summary="RuntimeError on GET /x/")
    client.force_login(carol)  # a login entry too
    everything = client.get("/station/").context["entries"]
    summaries = [e.summary for e in everything]
    assert summaries == ["carol logged in", "RuntimeError on GET /x/", "bob logged in"]
    errors = client.get("/station/", {"kind": "app_error"}).context["entries"]
    assert [e.kind for e in errors] == ["app_error"]


@pytest.mark.django_db
def test_sentry_station_pages_back_by_cursor(client, carol):
    client.force_login(carol)
    for n in range(60):
        AuditEntry.objects.create(kind="login", actor="x", summary=f"entry {n}")
    first = client.get("/station/", {"actor": "x"})
    assert len(first.context["entries"]) == 50 and first.context["older_query"]
    older = client.get(f"/station/?{first.context['older_query']}")
    assert [e.summary for e in older.context["entries"]] == [f"entry {n}" for n in range(9, -1, -1)]
    assert "ws-connect" not in older.content.decode()  # history does not stream


@pytest.mark.django_db
def test_only_admins_see_where_logins_came_from(client, carol, alice):
    AuditEntry.objects.create(
        kind="login", actor="bob", summary="bob logged in", data={"ip": "10.9.8.7"}
    )
    client.force_login(carol)
    assert b"10.9.8.7" not in client.get("/station/").content
    client.force_login(alice)
    assert b"10.9.8.7" in client.get("/station/").content


@pytest.mark.django_db
def test_a_bad_kind_is_named_not_a_500(client, carol):
    client.force_login(carol)
    response = client.get("/station/", {"kind": "gossip", "before": "zz"})
    assert response.status_code == 200 and b"Kind filter ignored" in response.content


def _headers(client):
    return [
        (b"host", b"127.0.0.1:8000"),
        (b"origin", b"http://127.0.0.1:8000"),
        (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()),
    ]


@pytest.mark.django_db(transaction=True)
def test_new_entries_stream_to_an_open_station_and_a_reconnect_catches_up(client, carol, mallory):
    client.force_login(carol)
    seen = AuditEntry.objects.order_by("-id").values_list("pk", flat=True)[0]

    async def scenario():
        page = WebsocketCommunicator(application, "/ws/audit/?kind=alert_action", _headers(client))
        assert (await page.connect(timeout=5))[0]
        alert = await sync_to_async(raise_alert)("Fan failure")
        await sync_to_async(AlertService().resolve_alert)(alert.pk, resolved_by="bob")
        live = await page.receive_from(timeout=5)
        await page.disconnect()
        # A second page that was away since `seen` asks to resume.
        again = WebsocketCommunicator(application, "/ws/audit/?kind=alert_action", _headers(client))
        assert (await again.connect(timeout=5))[0]
        await again.send_to(text_data=json.dumps({"resume": seen}))
        caught_up = await again.receive_from(timeout=5)
        await again.disconnect()
        return live, caught_up

    live, caught_up = async_to_sync(scenario)()
    assert '<tbody hx-swap-oob="afterbegin:#audit-rows">' in live and "bob resolved alert" in live
    assert "bob resolved alert" in caught_up and "logged in" not in caught_up


@pytest.mark.django_db(transaction=True)
def test_the_audit_socket_refuses_accounts_without_a_role(client, mallory):
    client.force_login(mallory)

    async def attempt():
        page = WebsocketCommunicator(application, "/ws/audit/", _headers(client))
        result = await page.connect(timeout=5)
        await page.disconnect()
        return result

    assert async_to_sync(attempt)() == (False, 4403)


@pytest.mark.django_db
def test_the_admin_shows_the_audit_stream_read_only(client, alice):
    from opsconsole.bootstrap import load_defaults

    load_defaults()
    AuditEntry.objects.create(kind="app_error", summary="RuntimeError on GET /x/")
    client.force_login(alice)
    listing = client.get("/admin/opsconsole/auditentry/")
    assert listing.status_code == 200 and b"RuntimeError on GET /x/" in listing.content
    assert client.get("/admin/opsconsole/auditentry/add/").status_code == 403


@pytest.mark.django_db
def test_a_failing_background_task_is_recorded_as_an_application_error():
    from django_q.signals import post_execute

    # What q2's monitor sends once a worker reports a task (inline tasks in the tests
    # raise instead of reporting, so the monitor's signal is sent here as it would be).
    post_execute.send(
        sender="django_q",
        task={
            "name": "alpha-bravo",
            "func": "math.sqrt",
            "success": False,
            "result": "ValueError: math domain error",
        },
    )
    post_execute.send(sender="django_q", task={"name": "ok", "func": "math.sqrt", "success": True})
    entry = AuditEntry.objects.get(kind="app_error")
    assert entry.summary == "background task math.sqrt failed"
    assert "math domain error" in entry.data["error"]

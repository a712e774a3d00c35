"""Acknowledge, resolve and suppress from the console, one by one or in bulk."""

from __future__ import annotations

import pytest

from alerts.constants import Status
from alerts.models import Alert
from tests.console.helpers import raise_alert

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def _post(client, **data):
    return client.post("/alerts/actions/", data, **HTMX)


def test_a_responder_acknowledges_with_notes_and_gets_the_new_row(client, bob):
    alert = raise_alert()
    client.force_login(bob)
    response = _post(client, action="acknowledge", alert=alert.pk, notes="Looking at it")
    assert response.status_code == 200
    alert.refresh_from_db()
    assert (alert.status, alert.acknowledged_by, alert.acknowledge_notes) == (
        Status.ACKNOWLEDGED,
        "bob",
        "Looking at it",
    )
    body = response.content.decode()
    assert f'id="alert-{alert.pk}"' in body and "Acknowledged" in body
    assert "1 alert updated" in body
    assert alert.events.filter(kind="acknowledged", actor="bob").exists()


def test_bulk_resolve_closes_every_chosen_alert(client, bob):
    alerts = [raise_alert(f"Alert {n}", resource=f"h{n}") for n in range(3)]
    client.force_login(bob)
    response = _post(
        client, action="resolve", alert=[a.pk for a in alerts[:2]], notes="Fixed the disk"
    )
    assert response.status_code == 200
    statuses = dict(Alert.objects.values_list("title", "status"))
    assert statuses == {"Alert 0": "resolved", "Alert 1": "resolved", "Alert 2": "active"}
    assert "2 alerts updated" in response.content.decode()


def test_suppress_holds_an_alert_for_the_chosen_hours(client, bob):
    alert = raise_alert()
    client.force_login(bob)
    _post(client, action="suppress", alert=alert.pk, duration_hours="2", notes="Maintenance")
    alert.refresh_from_db()
    assert alert.status == Status.SUPPRESSED and alert.suppressed_reason == "Maintenance"
    held = (alert.suppressed_until - alert.suppressed_at).total_seconds()
    assert held == pytest.approx(7200, abs=1)


def test_a_bad_suppress_duration_is_a_readable_400_and_changes_nothing(client, bob):
    alert = raise_alert()
    client.force_login(bob)
    response = _post(client, action="suppress", alert=alert.pk, duration_hours="forever")
    assert response.status_code == 400
    assert "not a number of hours" in response.content.decode()
    alert.refresh_from_db()
    assert alert.status == Status.ACTIVE


def test_acting_on_a_resolved_alert_says_why_instead_of_a_500(client, bob):
    alert = raise_alert()
    client.force_login(bob)
    _post(client, action="resolve", alert=alert.pk)
    response = _post(client, action="acknowledge", alert=alert.pk)
    assert response.status_code == 409
    assert f"Alert #{alert.pk} is resolved" in response.content.decode()


def test_in_bulk_one_closed_alert_does_not_stop_the_others(client, bob):
    done = raise_alert("Already done", resource="a")
    todo = raise_alert("To do", resource="b")
    client.force_login(bob)
    _post(client, action="resolve", alert=done.pk)
    response = _post(client, action="acknowledge", alert=[done.pk, todo.pk])
    assert response.status_code == 200
    todo.refresh_from_db()
    assert todo.status == Status.ACKNOWLEDGED
    assert "1 alert updated" in response.content.decode()
    assert "is resolved" in response.content.decode()


def test_a_viewer_post_is_refused(client, carol):
    alert = raise_alert()
    client.force_login(carol)
    response = _post(client, action="resolve", alert=alert.pk)
    assert response.status_code == 403
    alert.refresh_from_db()
    assert alert.status == Status.ACTIVE


def test_a_post_without_the_csrf_token_is_refused(bob):
    from django.test import Client

    alert = raise_alert()
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(bob)
    response = strict.post(
        "/alerts/actions/", {"action": "resolve", "alert": alert.pk}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 403
    alert.refresh_from_db()
    assert alert.status == Status.ACTIVE


def test_without_javascript_the_form_post_redirects_back_with_the_message(client, bob):
    alert = raise_alert()
    client.force_login(bob)
    response = client.post(
        "/alerts/actions/",
        {"action": "acknowledge", "alert": alert.pk, "next": "/alerts/?severity=warning"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == "/alerts/?severity=warning"
    assert b"1 alert updated" in response.content


def test_from_the_alert_page_the_summary_is_swapped(client, bob):
    alert = raise_alert()
    client.force_login(bob)
    response = _post(client, action="acknowledge", alert=alert.pk, view="detail")
    body = response.content.decode()
    assert 'id="alert-summary"' in body and f'id="alert-{alert.pk}"' not in body


def test_a_bulk_action_with_nothing_selected_says_so(client, bob):
    client.force_login(bob)
    response = _post(client, action="resolve")
    assert response.status_code == 400
    assert "no alert was chosen" in response.content.decode()


def test_an_unknown_action_is_refused_and_changes_nothing(client, bob):
    alert = raise_alert()
    client.force_login(bob)
    response = _post(client, action="delete", alert=alert.pk)
    assert response.status_code == 400 and "Unknown action" in response.content.decode()
    alert.refresh_from_db()
    assert alert.status == Status.ACTIVE

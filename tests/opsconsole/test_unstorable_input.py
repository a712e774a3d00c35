"""Input no database can store (NUL characters, integers past a column's range) gets a
4xx with the reason on SQLite and PostgreSQL alike, never a 500."""

from __future__ import annotations

import pytest

from alerts.models import Alert
from alerts.service import AlertService
from opsconsole.bootstrap import load_defaults

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer(client, carol):
    client.raise_request_exception = False
    client.force_login(carol)
    AlertService().create_system_alert("cpu_percent", 92, 80, "web-01")
    return client


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/api/v1/alerts?q=%00", "query parameter 'q' contains a NUL character"),
        ("/api/v1/alerts?resource=web%00", "query parameter 'resource' contains a NUL"),
        ("/api/v1/alerts?offset=9223372036854775808", "'offset' is out of range"),
        ("/api/v1/services/api%00", "the path contains a NUL character"),
        ("/api/v1/metrics/latest/%00", "the path contains a NUL character"),
        ("/alerts/?q=%00", "query parameter 'q' contains a NUL character"),
        ("/station/?q=%00", "query parameter 'q' contains a NUL character"),
        ("/badge/%00.svg", "the path contains a NUL character"),
    ],
)
def test_a_viewers_filters_and_paths_get_the_reason(viewer, path, reason):
    response = viewer.get(path)
    assert response.status_code == 400, response.content
    assert reason in response.content.decode()


def test_an_api_body_with_a_nul_names_the_field(bob, token_for, api_client):
    response = api_client(token_for(bob, "read,write")).post(
        "/alerts", {"alert_type": "disk\u0000full", "title": "Disk full"}
    )
    assert response.status_code == 400
    assert response.json()["detail"].startswith("alert_type contains a NUL character")
    assert not Alert.objects.exists()


@pytest.mark.parametrize("count", [2**31, 2**63])
def test_an_integer_past_its_column_is_a_422_naming_it(bob, token_for, api_client, count):
    response = api_client(token_for(bob, "read,write")).post(
        "/alerts", {"alert_type": "errors", "title": "Errors", "affected_users": count}
    )
    # Refused by the API's schema (its documented bound) before the model's check.
    assert response.status_code == 422, response.content
    assert "affected_users" in response.json()["detail"]
    assert "less than or equal to 2147483647" in response.json()["detail"]
    assert not Alert.objects.exists()


def test_an_escaped_nul_inside_a_json_field_is_refused_by_the_model(bob, token_for, api_client):
    # Reaches the database through a form's JSON field: refused at save, named.
    response = api_client(token_for(bob, "read,write")).post(
        "/alerts",
        {"alert_type": "x", "title": "x", "metadata": {"note": "a\\u0000b"}},
    )
    assert response.status_code == 201  # a backslash and "u0000" are ordinary text
    from opsconsole.inputguard import problems_of

    assert problems_of(Alert(metadata={"note": "a\u0000b"})) == {
        "metadata": "note contains a NUL character (\\u0000)"
    }


def test_a_form_post_with_a_nul_is_refused_before_the_view(client, alice):
    load_defaults()
    client.force_login(alice)
    client.raise_request_exception = False
    response = client.post("/admin/alerts/silence/add/", {"comment": "db\x00", "matchers": "[]"})
    assert response.status_code == 400
    assert "field 'comment' contains a NUL character" in response.content.decode()


def test_a_cookie_with_a_nul_is_refused(client):
    client.raise_request_exception = False
    client.cookies["sessionid"] = "abc\x00def"
    response = client.get("/alerts/")
    assert response.status_code == 400


def test_ordinary_input_passes(viewer):
    assert viewer.get("/api/v1/alerts?q=web&offset=9223372036854775807").status_code == 200
    assert viewer.get("/alerts/?q=web").status_code == 200


def test_the_channel_page_opens_for_staff_who_may_only_view(client, carol):
    from django.contrib.auth.models import Permission

    from notifications.models import NotificationChannel

    channel = NotificationChannel.objects.create(name="ops", kind="dashboard")
    carol.is_staff = True
    carol.save()
    carol.user_permissions.add(Permission.objects.get(codename="view_notificationchannel"))
    client.force_login(carol)
    response = client.get(f"/admin/notifications/notificationchannel/{channel.pk}/change/")
    assert response.status_code == 200
    assert "ops" in response.content.decode()
    assert client.get("/admin/notifications/notificationchannel/").status_code == 200

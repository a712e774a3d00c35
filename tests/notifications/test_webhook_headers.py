"""A webhook channel's extra headers are secrets: sent, never shown to anyone, exported
as references, and moved out of ``config`` for channels stored before."""

from __future__ import annotations

import importlib
import io
from types import SimpleNamespace

import pytest
import yaml
from django.core.management import call_command
from django.db import connection

from notifications.models import NotificationChannel
from opsconsole.bootstrap import load_defaults
from tests.conftest import _user
from tests.notifications.helpers import fire

pytestmark = pytest.mark.django_db

BEARER = "Bearer hdr-s3cret-value-42"


@pytest.fixture
def admin_api(alice, token_for, api_client):
    return api_client(token_for(alice, "read,write"))


def _hook(receiver, **secrets):
    return {
        "name": "ops-hook",
        "kind": "webhook",
        "secrets": {"url": f"{receiver.url}/incoming", **secrets},
    }


def test_a_viewer_sees_the_header_names_but_never_their_values(
    admin_api, carol, token_for, api_client, receiver
):
    body = _hook(receiver, headers={"Authorization": BEARER, "X-Team": "db"})
    created = admin_api.post("/channels", body)
    assert created.status_code == 201, created.content
    viewer = api_client(token_for(carol, "read"))
    listed = viewer.get("/channels")
    assert "hdr-s3cret-value-42" not in listed.content.decode()
    (channel,) = listed.json()
    assert channel["secrets_set"] == ["headers.Authorization", "headers.X-Team", "url"]
    assert "headers" not in channel["config"]


def test_headers_in_config_are_refused_with_where_they_belong(admin_api, receiver):
    body = _hook(receiver)
    body["config"] = {"headers": {"Authorization": BEARER}}
    response = admin_api.post("/channels", body)
    assert response.status_code == 422
    assert "headers is a secret: put it in secrets" in response.json()["detail"]


def test_the_headers_are_sent_and_merged_one_by_one(
    admin_api, receiver, route_all, django_capture_on_commit_callbacks
):
    channel_id = admin_api.post(
        "/channels", _hook(receiver, headers={"Authorization": BEARER, "X-Team": "db"})
    ).json()["id"]
    # A PATCH naming one header keeps the other; null removes one.
    patched = admin_api.client_patch(
        f"/channels/{channel_id}", {"secrets": {"headers": {"X-Team": None, "X-Env": "prod"}}}
    )
    assert patched.status_code == 200, patched.content
    assert patched.json()["secrets_set"] == ["headers.Authorization", "headers.X-Env", "url"]
    fire(django_capture_on_commit_callbacks)
    request = receiver.requests[0]
    assert request.headers["authorization"] == BEARER and request.headers["x-env"] == "prod"
    assert "x-team" not in request.headers


def test_a_header_value_echoed_in_an_error_is_redacted(
    make_channel, receiver, route_all, django_capture_on_commit_callbacks
):
    from notifications.models import Notification

    make_channel("webhook", receiver=receiver, secrets={"headers": {"X-Key": "k3y-echoed-back"}})
    receiver.answer((500, {"Content-Type": "text/plain"}, b"bad key k3y-echoed-back"))
    fire(django_capture_on_commit_callbacks)
    error = Notification.objects.get().last_error
    assert "k3y-echoed-back" not in error and "bad key ***" in error


def _export() -> str:
    out = io.StringIO()
    call_command("export_config", "--section", "channels", stdout=out)
    return out.getvalue()


def test_an_export_writes_each_header_as_a_reference(tmp_path, monkeypatch, receiver):
    NotificationChannel.objects.create(
        name="ops-hook",
        kind="webhook",
        secrets={"url": f"{receiver.url}/in", "headers": {"Authorization": BEARER}},
    )
    exported = _export()
    assert "hdr-s3cret-value-42" not in exported
    (hook,) = yaml.safe_load(exported)["channels"]
    assert hook["secrets"]["headers"] == {
        "Authorization": "${NOTIFY_OPS_HOOK_HEADERS_AUTHORIZATION}"
    }
    # Applied where the variables are not set, the stored values are kept.
    path = tmp_path / "channels.yaml"
    path.write_text(exported)
    out = io.StringIO()
    call_command("import_config", str(path), stdout=out)
    assert "channels: no changes" in out.getvalue()
    # With the variable set, the header takes its value, and the diff names no value.
    monkeypatch.setenv("NOTIFY_OPS_HOOK_HEADERS_AUTHORIZATION", "Bearer rotated-value-43")
    out = io.StringIO()
    call_command("import_config", str(path), stdout=out)
    assert "rotated-value-43" not in out.getvalue()
    channel = NotificationChannel.objects.get()
    assert channel.secrets["headers"] == {"Authorization": "Bearer rotated-value-43"}
    assert channel.secret_refs["headers.Authorization"] == "NOTIFY_OPS_HOOK_HEADERS_AUTHORIZATION"


def test_the_admin_shows_header_names_to_view_only_staff_and_no_values(client, receiver):
    load_defaults()
    channel = NotificationChannel.objects.create(
        name="ops-hook",
        kind="webhook",
        secrets={"url": f"{receiver.url}/in", "headers": {"Authorization": BEARER}},
    )
    client.force_login(_user("vera", "Viewers", is_staff=True))
    for page in (
        "/admin/notifications/notificationchannel/",
        f"/admin/notifications/notificationchannel/{channel.pk}/change/",
    ):
        response = client.get(page)
        assert response.status_code == 200
        content = response.content.decode()
        assert "headers.Authorization" in content and "hdr-s3cret-value-42" not in content


def test_stored_headers_move_from_config_to_secrets_with_none_lost():
    migration = importlib.import_module("notifications.migrations.0003_webhook_headers_are_secrets")
    from django.apps import apps

    hook = NotificationChannel.objects.create(
        name="old-hook",
        kind="webhook",
        config={"headers": {"Authorization": BEARER, "X-Team": "db"}, "timeout": 5},
        secrets={"url": "https://hooks.example.com/in", "signing_secret": "sign"},
    )
    editor = SimpleNamespace(connection=connection)
    migration.to_secrets(apps, editor)
    hook.refresh_from_db()
    assert hook.config == {"timeout": 5}
    assert hook.secrets == {
        "url": "https://hooks.example.com/in",
        "signing_secret": "sign",
        "headers": {"Authorization": BEARER, "X-Team": "db"},
    }
    migration.to_config(apps, editor)
    hook.refresh_from_db()
    assert hook.config["headers"] == {"Authorization": BEARER, "X-Team": "db"}
    assert "headers" not in hook.secrets


def test_a_card_number_in_a_receivers_error_is_scrubbed_from_the_delivery_log(
    make_channel, receiver, route_all, django_capture_on_commit_callbacks
):
    from notifications.models import Notification

    make_channel("webhook", receiver=receiver)
    receiver.answer((422, {"Content-Type": "text/plain"}, b"card 4111-1111-1111-1111 refused"))
    fire(django_capture_on_commit_callbacks)
    error = Notification.objects.get().last_error
    assert "4111-1111-1111-1111" not in error and "card *** refused" in error

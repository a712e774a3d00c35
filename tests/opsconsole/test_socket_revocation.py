"""Live sockets end when the session that opened them stops being valid: the account's
password changed, it was deactivated or deleted, or it lost its role."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator

from opsconsole.asgi import application
from tests.console.helpers import raise_alert

pytestmark = pytest.mark.django_db(transaction=True)


def _headers(client):
    return [
        (b"host", b"127.0.0.1:8000"),
        (b"origin", b"http://127.0.0.1:8000"),
        (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()),
    ]


def _paths():
    from tests.metrics.helpers import store

    host = store("web-01", {}).host
    alert = raise_alert()
    return [
        f"/ws/vitals/{host.pk}/",
        "/ws/alerts/",
        f"/ws/alerts/{alert.pk}/",
        "/ws/audit/",
        "/ws/services/",
    ]


def _close_code_after(client, path, change):
    """Open ``path`` as the client's user, make ``change``, return the close it gets."""

    async def scenario():
        page = WebsocketCommunicator(application, path, _headers(client))
        connected, _ = await page.connect(timeout=5)
        assert connected
        try:
            await sync_to_async(change)()
            while True:
                output = await page.receive_output(timeout=5)
                if output["type"] == "websocket.close":
                    return output.get("code")
        finally:
            await page.disconnect()

    return async_to_sync(scenario)()


def _new_password(user):
    user.set_password("a-new-password-1")
    user.save()


def _deactivate(user):
    user.is_active = False
    user.save()


def test_every_socket_closes_when_the_password_changes(client, bob):
    client.force_login(bob)
    for path in _paths():
        bob.refresh_from_db()
        assert _close_code_after(client, path, lambda: _new_password(bob)) == 4401, path
        client.force_login(bob)  # a fresh session for the next page


def test_every_socket_closes_when_the_account_is_deactivated(client, bob):
    paths = _paths()
    for path in paths:
        bob.is_active = True
        bob.save()
        client.force_login(bob)
        assert _close_code_after(client, path, lambda: _deactivate(bob)) == 4401, path


def test_a_deleted_account_s_socket_closes(client, bob):
    client.force_login(bob)
    assert _close_code_after(client, "/ws/alerts/", bob.delete) == 4401


def test_an_account_that_loses_its_role_is_closed_with_no_role(client, bob):
    client.force_login(bob)
    assert _close_code_after(client, "/ws/alerts/", bob.groups.clear) == 4403


def test_an_edit_that_leaves_the_session_valid_keeps_the_socket_streaming(client, bob, carol):
    client.force_login(bob)

    async def scenario():
        page = WebsocketCommunicator(application, "/ws/alerts/", _headers(client))
        assert (await page.connect(timeout=5))[0]
        try:

            def edits():
                bob.email = "bob@example.com"
                bob.save()
                _new_password(carol)
                raise_alert(title="Queue backed up", resource="mq-01")

            await sync_to_async(edits)()
            return await page.receive_from(timeout=5)
        finally:
            await page.disconnect()

    assert "Queue backed up" in async_to_sync(scenario)()

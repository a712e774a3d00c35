"""An alert's page lists the deliveries made for it, on load and live."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from notifications import delivery
from notifications.models import DeliveryStatus, Notification
from opsconsole.asgi import application
from tests.notifications.helpers import fire
from tests.notifications.receivers import Receiver

JSON = {"Content-Type": "application/json"}


@pytest.mark.django_db
def test_it_shows_a_sent_delivery_to_a_viewer_without_the_channel_secret(
    client, carol, make_channel, route_all, receiver, django_capture_on_commit_callbacks
):
    make_channel(
        "webhook", name="ops-hook", receiver=receiver, secrets={"signing_secret": "s3cr3t-SIGN"}
    )
    alert = fire(django_capture_on_commit_callbacks)
    client.force_login(carol)
    html = client.get(f"/alerts/{alert.pk}/").content.decode()
    assert f'id="deliveries-{alert.pk}"' in html
    row = html.split('class="delivery delivery-sent"', 1)[1].split("</tr>", 1)[0]
    assert "ops-hook" in row and "Firing" in row and "Sent" in row and "HTTP 200" in row
    assert receiver.url not in html and "/incoming" not in html and "s3cr3t-SIGN" not in html


@pytest.mark.django_db
def test_it_shows_a_failed_delivery_with_its_error_and_response_code(
    settings, client, carol, make_channel, route_all, receiver, django_capture_on_commit_callbacks
):
    settings.NOTIFY_MAX_ATTEMPTS = 1
    make_channel("webhook", name="ops-hook", receiver=receiver)
    receiver.default = (503, JSON, b"{}")
    alert = fire(django_capture_on_commit_callbacks)
    client.force_login(carol)
    html = client.get(f"/alerts/{alert.pk}/").content.decode()
    row = html.split('class="delivery delivery-dead"', 1)[1].split("</tr>", 1)[0]
    assert "Dead letter" in row and "HTTP 503" in row and "503" in row.split("error-cell", 1)[1]


@pytest.mark.django_db
def test_an_alert_without_notifications_says_so(client, carol):
    from tests.console.helpers import raise_alert

    alert = raise_alert()
    client.force_login(carol)
    html = client.get(f"/alerts/{alert.pk}/").content.decode()
    assert "No notifications sent for this alert." in html


def _open_alert_page(client, alert_id, then):
    headers = [
        (b"host", b"127.0.0.1:8000"),
        (b"origin", b"http://127.0.0.1:8000"),
        (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()),
    ]

    async def scenario():
        page = WebsocketCommunicator(application, f"/ws/alerts/{alert_id}/", headers)
        connected, _ = await page.connect(timeout=5)
        assert connected
        try:
            return await then(page)
        finally:
            await page.disconnect()

    return async_to_sync(scenario)()


@pytest.mark.django_db(transaction=True)
def test_an_open_alert_page_gets_the_delivery_outcome_live(client, carol, make_channel):
    from tests.console.helpers import raise_alert

    server = Receiver()
    try:
        channel = make_channel("webhook", name="live-hook", receiver=server)
        alert = raise_alert()
        pending = Notification.objects.create(
            alert=alert,
            channel=channel,
            transition="firing",
            idempotency_key=f"{alert.pk}:{channel.pk}:firing:1",
            next_attempt_at=timezone.now(),
        )
        client.force_login(carol)

        async def then(page):
            outcome = await sync_to_async(delivery.deliver)(pending.pk)
            return outcome, await page.receive_from(timeout=5)

        outcome, frame = _open_alert_page(client, alert.pk, then)
    finally:
        server.stop()
    assert outcome == DeliveryStatus.SENT
    assert f'<div id="deliveries-{alert.pk}" class="deliveries" hx-swap-oob="true">' in frame
    assert "live-hook" in frame and "Sent" in frame and "HTTP 200" in frame


@pytest.mark.django_db(transaction=True)
def test_an_alert_page_ignores_deliveries_of_other_alerts(client, carol, make_channel):
    from tests.console.helpers import raise_alert

    server = Receiver()
    try:
        channel = make_channel("webhook", receiver=server)
        watched = raise_alert("Watched", resource="a")
        other = raise_alert("Other", resource="b")
        pending = Notification.objects.create(
            alert=other,
            channel=channel,
            transition="firing",
            idempotency_key=f"{other.pk}:{channel.pk}:firing:1",
            next_attempt_at=timezone.now(),
        )
        client.force_login(carol)

        async def then(page):
            await sync_to_async(delivery.deliver)(pending.pk)
            return await page.receive_nothing(timeout=0.3)

        assert _open_alert_page(client, watched.pk, then) is True
    finally:
        server.stop()


@pytest.mark.django_db(transaction=True)
def test_the_alert_pages_own_refresh_carries_its_deliveries(client, carol, make_channel):
    from alerts.service import AlertService
    from tests.console.helpers import raise_alert

    channel = make_channel("dashboard", name="screen")
    alert = raise_alert()
    Notification.objects.create(
        alert=alert,
        channel=channel,
        transition="firing",
        idempotency_key=f"{alert.pk}:{channel.pk}:firing:1",
        status=DeliveryStatus.SENT,
        attempts=1,
        next_attempt_at=timezone.now(),
        sent_at=timezone.now(),
    )
    client.force_login(carol)

    async def then(page):
        await sync_to_async(AlertService().acknowledge_alert)(alert.pk, acknowledged_by="bob")
        return await page.receive_from(timeout=5)

    frame = _open_alert_page(client, alert.pk, then)
    assert 'id="alert-summary"' in frame
    assert f'id="deliveries-{alert.pk}"' in frame and "screen" in frame and "Sent" in frame


@pytest.mark.django_db
def test_an_alert_with_a_value_but_no_unit_still_renders(client, carol):
    from tests.console.helpers import raise_alert

    alert = raise_alert(value=97.0, threshold=90.0)
    client.force_login(carol)
    response = client.get(f"/alerts/{alert.pk}/")
    assert response.status_code == 200 and "threshold 90" in response.content.decode()

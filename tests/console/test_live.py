"""The alerts websockets: who may connect, what a page receives live, and catching up
after a dropped connection."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator

from alerts.service import AlertService
from opsconsole.asgi import application
from tests.console.helpers import raise_alert

# The consumers reach the database from their own threads, as in production.
pytestmark = pytest.mark.django_db(transaction=True)


def _headers(client=None, origin=b"http://127.0.0.1:8000"):
    headers = [(b"host", b"127.0.0.1:8000")]
    if origin:
        headers.append((b"origin", origin))
    if client is not None:
        headers.append((b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()))
    return headers


def _connect(path, headers):
    async def attempt():
        communicator = WebsocketCommunicator(application, path, headers)
        connected, code = await communicator.connect(timeout=5)
        await communicator.disconnect()
        return connected, code

    return async_to_sync(attempt)()


def _open(path, client, then):
    """Connect as the client's user, run ``then(communicator)``, and return its result."""

    async def scenario():
        communicator = WebsocketCommunicator(application, path, _headers(client))
        connected, _ = await communicator.connect(timeout=5)
        assert connected
        try:
            return await then(communicator)
        finally:
            await communicator.disconnect()

    return async_to_sync(scenario)()


def test_anonymous_sockets_are_refused():
    assert _connect("/ws/alerts/", _headers())[0] is False


def test_a_foreign_origin_is_refused_even_with_a_session(client, bob):
    client.force_login(bob)
    assert _connect("/ws/alerts/", _headers(client, origin=b"http://evil.example"))[0] is False


def test_an_account_without_a_role_is_refused(client, mallory):
    client.force_login(mallory)
    assert _connect("/ws/alerts/", _headers(client)) == (False, 4403)


def test_a_new_alert_reaches_an_open_console_as_a_row_with_counts(client, bob):
    client.force_login(bob)

    async def then(page):
        alert = await sync_to_async(raise_alert)("Replica lag on db-02", "critical")
        return alert, await page.receive_from(timeout=5)

    alert, frame = _open("/ws/alerts/", client, then)
    assert f'id="alert-{alert.pk}"' in frame and "Replica lag on db-02" in frame
    assert 'data-match="1"' in frame and 'data-action="acknowledge"' in frame
    assert 'id="severity-counts"' in frame and "<strong>1</strong> critical" in frame
    last = alert.events.order_by("-id").first().pk
    assert f'id="live-cursor" data-event="{last}"' in frame


def test_a_viewer_gets_rows_without_action_buttons(client, carol):
    client.force_login(carol)

    async def then(page):
        await sync_to_async(raise_alert)("Read only")
        return await page.receive_from(timeout=5)

    frame = _open("/ws/alerts/", client, then)
    assert "Read only" in frame and "data-action" not in frame


def test_an_acknowledgement_elsewhere_updates_the_row(client, carol):
    alert = raise_alert("Ack me")
    client.force_login(carol)

    async def then(page):
        await sync_to_async(AlertService().acknowledge_alert)(alert.pk, acknowledged_by="bob")
        return await page.receive_from(timeout=5)

    frame = _open("/ws/alerts/", client, then)
    assert f'id="alert-{alert.pk}"' in frame and "Acknowledged" in frame and "by bob" in frame


def test_an_alert_outside_the_page_filters_is_marked_not_to_be_inserted(client, carol):
    client.force_login(carol)

    async def then(page):
        await sync_to_async(raise_alert)("Just info", "info")
        return await page.receive_from(timeout=5)

    frame = _open("/ws/alerts/?severity=critical", client, then)
    assert 'data-match="0"' in frame


def test_a_live_page_filtered_by_resource_takes_it_anywhere_in_the_name(client, carol):
    """The API's and the page's rule (``alerts.filtering``): db finds orders-DB-02."""
    client.force_login(carol)

    async def then(page):
        frames = []
        for resource in ("orders-DB-02", "web-01"):
            await sync_to_async(raise_alert)(f"Slow on {resource}", "error", resource)
            frames.append(await page.receive_from(timeout=5))
        return frames

    inside, outside = _open("/ws/alerts/?resource=db", client, then)
    assert "orders-DB-02" in inside and 'data-match="1"' in inside
    assert "web-01" in outside and 'data-match="0"' in outside


def test_a_reconnecting_console_catches_up_on_what_it_missed(client, carol):
    kept = raise_alert("Was open when the page loaded")
    cursor = kept.events.order_by("-id").first().pk
    # While the page was away: one alert resolved, another fired.
    AlertService().resolve_alert(kept.pk, resolved_by="bob")
    raise_alert("Fired while away", "error")
    client.force_login(carol)

    async def then(page):
        await page.send_to(text_data=json.dumps({"resume": cursor}))
        return await page.receive_from(timeout=5)

    frame = _open("/ws/alerts/", client, then)
    assert '<tbody id="alert-rows" hx-swap-oob="true">' in frame
    assert "Fired while away" in frame
    assert "Was open when the page loaded" not in frame  # resolved, so off the open list
    assert "caught up on 2 changes" in frame


def test_a_console_that_missed_nothing_gets_nothing_on_resume(client, carol):
    alert = raise_alert()
    cursor = alert.events.order_by("-id").first().pk
    client.force_login(carol)

    async def then(page):
        await page.send_to(text_data=json.dumps({"resume": cursor}))
        return await page.receive_nothing(timeout=0.3)

    assert _open("/ws/alerts/", client, then) is True


def test_an_alert_page_appends_new_timeline_events_live(client, carol):
    alert = raise_alert()
    client.force_login(carol)

    async def then(page):
        await sync_to_async(AlertService().acknowledge_alert)(
            alert.pk, acknowledged_by="bob", notes="Checking the replica"
        )
        return await page.receive_from(timeout=5)

    frame = _open(f"/ws/alerts/{alert.pk}/", client, then)
    assert 'id="alert-summary"' in frame and "Acknowledged" in frame
    assert '<ol hx-swap-oob="beforeend:#timeline">' in frame and "Checking the replica" in frame


def test_an_alert_page_ignores_other_alerts(client, carol):
    watched = raise_alert("Watched", resource="a")
    client.force_login(carol)

    async def then(page):
        await sync_to_async(raise_alert)("Another", resource="b")
        return await page.receive_nothing(timeout=0.3)

    assert _open(f"/ws/alerts/{watched.pk}/", client, then) is True


def test_a_reconnecting_alert_page_gets_only_the_events_it_missed(client, carol):
    alert = raise_alert()
    seen = alert.events.order_by("-id").first().pk
    AlertService().acknowledge_alert(alert.pk, acknowledged_by="bob", notes="first look")
    AlertService().resolve_alert(alert.pk, resolved_by="bob", resolution_notes="fixed it")
    client.force_login(carol)

    async def then(page):
        await page.send_to(text_data=json.dumps({"resume": seen}))
        return await page.receive_from(timeout=5)

    frame = _open(f"/ws/alerts/{alert.pk}/", client, then)
    assert "first look" in frame and "fixed it" in frame
    assert f'id="event-{seen}"' not in frame
    assert frame.count('class="event ') == 2


def test_the_count_and_pager_follow_new_alerts_on_an_open_list(client, carol, monkeypatch):
    from alerts import console, consumers

    monkeypatch.setattr(console, "PAGE_SIZE", 2)
    monkeypatch.setattr(consumers, "SUMMARY_DELAY", 0)
    client.force_login(carol)

    async def then(page):
        for n in range(3):
            await sync_to_async(raise_alert)(f"Disk full on db-0{n}", "error")
        frames: list[str] = []
        while not any('id="list-count"' in f and "of 3 alerts" in f for f in frames):
            frames.append(await page.receive_from(timeout=5))
        return frames[-1]

    frame = _open("/ws/alerts/", client, then)
    # Two rows a page: the first shows two of three, and the pager leads to the second.
    assert "1\u20132 of 3 alerts" in frame
    assert 'id="pager"' in frame and "page 1 of 2" in frame and "page=2" in frame
    assert "hidden" not in frame.split('id="pager"', 1)[1].split(">", 1)[0]


def test_the_list_tells_the_page_size_and_the_pending_rules(client, carol):
    from datetime import timedelta

    from django.utils import timezone

    from alerts.models import AlertRule, RuleState

    rule = AlertRule.objects.create(
        name="CPU hot", metric="cpu_usage_percent", threshold=90, for_seconds=300, severity="error"
    )
    RuleState.objects.create(
        rule=rule,
        target="web-01/cpu_usage_percent",
        state=RuleState.State.PENDING,
        since=timezone.now() - timedelta(seconds=40),
        last_value=95.5,
    )
    client.force_login(carol)
    html = client.get("/alerts/").content.decode()
    assert 'data-page-size="50"' in html
    assert "Pending: 1 rule about to fire" in html
    assert "CPU hot" in html and "web-01/cpu_usage_percent" in html and "95.5 %" in html
    assert 'data-prefix="fires in"' in html

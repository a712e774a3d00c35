"""The vitals websocket: who may connect, and what a connected page receives."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator

from opsconsole.asgi import application
from tests.metrics.helpers import store

# The consumer reaches the database from its own thread and closes connections
# between events, as in production, so each test commits for real.
pytestmark = pytest.mark.django_db(transaction=True)


def _sample(cpu: float):
    return store("web-01", {"cpu_usage_percent": [(datetime.now(UTC), cpu)]})


def _headers(client=None, origin=b"http://127.0.0.1:8000"):
    headers = [(b"host", b"127.0.0.1:8000")]
    if origin:
        headers.append((b"origin", origin))
    if client is not None:
        headers.append((b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()))
    return headers


def _connect(host_id: int, headers) -> tuple[bool, int | None]:
    async def attempt():
        communicator = WebsocketCommunicator(application, f"/ws/vitals/{host_id}/", headers)
        connected, code = await communicator.connect(timeout=5)
        await communicator.disconnect()
        return connected, code

    return async_to_sync(attempt)()


def test_anonymous_sockets_are_refused():
    host = _sample(10.0).host
    assert _connect(host.pk, _headers())[0] is False


def test_a_foreign_origin_is_refused_even_with_a_session(client, carol):
    host = _sample(10.0).host
    client.force_login(carol)
    assert _connect(host.pk, _headers(client, origin=b"http://evil.example"))[0] is False


def test_an_account_without_a_role_is_refused(client, mallory):
    host = _sample(10.0).host
    client.force_login(mallory)
    connected, code = _connect(host.pk, _headers(client))
    assert connected is False and code == 4403


def test_a_viewer_receives_fresh_gauges_when_a_batch_lands(client, carol):
    host = _sample(10.0).host
    client.force_login(carol)

    async def scenario():
        communicator = WebsocketCommunicator(
            application, f"/ws/vitals/{host.pk}/", _headers(client)
        )
        connected, _ = await communicator.connect(timeout=5)
        assert connected
        await sync_to_async(_sample)(97.0)
        frame = await communicator.receive_from(timeout=5)
        await communicator.disconnect()
        return frame

    frame = async_to_sync(scenario)()
    # An out-of-band swap of the whole vitals block, showing the new value as critical.
    assert 'id="vitals"' in frame and 'hx-swap-oob="true"' in frame
    assert 'data-value="97.0"' in frame and "Critical load" in frame


def test_pages_opened_together_share_one_subscription_and_get_each_event_once(client, carol):
    from opsconsole.live import local_fanout

    host = _sample(10.0).host
    client.force_login(carol)

    async def scenario():
        pages = [
            WebsocketCommunicator(application, f"/ws/vitals/{host.pk}/", _headers(client))
            for _ in range(3)
        ]
        connected = await asyncio.gather(*(page.connect(timeout=5) for page in pages))
        assert all(ok for ok, _ in connected)
        relays = sorted(local_fanout().relays)
        await sync_to_async(_sample)(55.0)
        frames = [await page.receive_from(timeout=5) for page in pages]
        quiet = [await page.receive_nothing(timeout=0.3) for page in pages]
        for page in pages:
            await page.disconnect()
        return relays, frames, quiet, sorted(local_fanout().relays)

    relays, frames, quiet, relays_after = async_to_sync(scenario)()
    # One for the vitals, one that tells them of account changes (opsconsole.sockets).
    assert relays == ["accounts", "vitals"], "three pages on one host make one subscription"
    assert all('data-value="55.0"' in frame for frame in frames)
    assert all(quiet), "each page gets each event once"
    assert relays_after == [], "the subscriptions end with the last page"


def test_one_request_for_several_hosts_reaches_each_hosts_pages_only(client, carol):
    from django.test import TestCase

    from metrics.ingest import Batch, ingest_many

    watched, other = _sample(10.0).host, store("db-01", {"cpu_usage_percent": []}).host
    quiet_host = store("cache-01", {"cpu_usage_percent": [(datetime.now(UTC), 5.0)]}).host
    client.force_login(carol)

    def push():
        now = datetime.now(UTC)
        with TestCase.captureOnCommitCallbacks(execute=True):
            ingest_many(
                [
                    Batch(hostname="web-01", samples=[("cpu_usage_percent", 61.0, now)]),
                    Batch(hostname="db-01", samples=[("cpu_usage_percent", 73.0, now)]),
                ]
            )

    async def scenario():
        pages = {
            host.hostname: WebsocketCommunicator(
                application, f"/ws/vitals/{host.pk}/", _headers(client)
            )
            for host in (watched, other, quiet_host)
        }
        for page in pages.values():
            assert (await page.connect(timeout=5))[0]
        await sync_to_async(push)()
        web = await pages["web-01"].receive_from(timeout=5)
        db = await pages["db-01"].receive_from(timeout=5)
        untouched = await pages["cache-01"].receive_nothing(timeout=0.5)
        for page in pages.values():
            await page.disconnect()
        return web, db, untouched

    web, db, untouched = async_to_sync(scenario)()
    # One live event names both hosts; each page draws its own host's gauges.
    # Compare the gauge's own value: a timestamp may hold any two digits.
    assert 'data-value="61.0"' in web and 'data-value="73.0"' not in web
    assert 'data-value="73.0"' in db and 'data-value="61.0"' not in db
    assert untouched, "a host the request did not name gets no frame"


def test_open_sockets_are_counted_for_metrics_while_they_stay_open(client, carol):
    from opsconsole.live import open_sockets, socket_series

    host = _sample(10.0).host
    client.force_login(carol)

    async def scenario():
        pages = [
            WebsocketCommunicator(application, f"/ws/vitals/{host.pk}/", _headers(client))
            for _ in range(3)
        ]
        for page in pages:
            assert (await page.connect(timeout=5))[0]
        while_open = open_sockets()
        [family] = list(socket_series())
        await pages[0].disconnect()
        after_one_left = open_sockets()
        for page in pages[1:]:
            await page.disconnect()
        return while_open, family, after_one_left

    while_open, family, after_one_left = async_to_sync(scenario)()
    assert while_open == {"VitalsConsumer": 3}
    assert [s.value for s in family.samples] == [3]
    assert family.samples[0].labels["consumer"] == "VitalsConsumer"
    assert after_one_left == {"VitalsConsumer": 2}

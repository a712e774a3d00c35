"""The Services page and its live updates."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator

from healthchecks.probes import ProbeResult
from healthchecks.state import apply_results
from opsconsole.asgi import application


@pytest.mark.django_db
def test_a_viewer_sees_each_endpoint_with_its_state_and_last_error(client, carol, make_endpoint):
    endpoint = make_endpoint("chat-service")
    apply_results([(endpoint, ProbeResult(ok=False, error="status 503, expected 200-399"))])
    client.force_login(carol)
    response = client.get("/services/")
    assert response.status_code == 200
    html = response.content.decode()
    assert f'id="service-{endpoint.pk}" data-state="down"' in html
    assert "status 503, expected 200-399" in html
    assert '<svg class="spark"' in html


@pytest.mark.django_db
def test_the_nav_links_to_services(client, carol):
    client.force_login(carol)
    assert 'href="/services/"' in client.get("/").content.decode()


@pytest.mark.django_db
def test_an_account_without_a_role_gets_403(client, mallory):
    client.force_login(mallory)
    assert client.get("/services/").status_code == 403


@pytest.mark.django_db
def test_anonymous_visitors_go_to_the_login_page(client):
    response = client.get("/services/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


@pytest.mark.django_db(transaction=True)
def test_a_state_change_reaches_an_open_page(client, carol, make_endpoint):
    endpoint = make_endpoint("chat-service")
    client.force_login(carol)
    headers = [
        (b"host", b"127.0.0.1:8000"),
        (b"origin", b"http://127.0.0.1:8000"),
        (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()),
    ]

    async def scenario():
        from channels.db import database_sync_to_async

        communicator = WebsocketCommunicator(application, "/ws/services/", headers)
        connected, _ = await communicator.connect(timeout=5)
        assert connected
        await database_sync_to_async(apply_results)(
            [(endpoint, ProbeResult(ok=False, error="refused"))]
        )
        frame = await communicator.receive_from(timeout=5)
        await communicator.disconnect()
        return frame

    frame = async_to_sync(scenario)()
    assert 'data-state="down"' in frame and 'hx-swap-oob="true"' in frame


@pytest.mark.django_db(transaction=True)
def test_the_socket_refuses_an_account_without_a_role(client, mallory):
    client.force_login(mallory)
    headers = [
        (b"host", b"127.0.0.1:8000"),
        (b"origin", b"http://127.0.0.1:8000"),
        (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()),
    ]

    async def attempt():
        communicator = WebsocketCommunicator(application, "/ws/services/", headers)
        connected, code = await communicator.connect(timeout=5)
        await communicator.disconnect()
        return connected, code

    assert async_to_sync(attempt)() == (False, 4403)


@pytest.mark.django_db
def test_problems_are_listed_first(client, carol, make_endpoint):
    healthy = make_endpoint("alpha")
    broken = make_endpoint("zulu")
    apply_results(
        [
            (healthy, ProbeResult(ok=True, response_ms=5.0)),
            (broken, ProbeResult(ok=False, error="refused")),
        ]
    )
    client.force_login(carol)
    html = client.get("/services/").content.decode()
    assert html.index(f'id="service-{broken.pk}"') < html.index(f'id="service-{healthy.pk}"')

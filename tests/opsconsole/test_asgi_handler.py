"""HTTP under ASGI: the middleware chain and the view run in one thread, entered once per
request, instead of switching between the event loop and threads at every boundary
between a synchronous and an asynchronous middleware."""

from __future__ import annotations

import asyncio
import threading

import pytest
from asgiref.sync import AsyncToSync, SyncToAsync
from channels.testing import HttpCommunicator
from django.core.handlers.asgi import ASGIHandler

from opsconsole.asgi import application
from opsconsole.handlers import OneThreadASGIHandler

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def switches(monkeypatch):
    """How often code went from a thread to the loop (AsyncToSync) and from the loop
    to a thread (SyncToAsync), with the threads the view ran in."""
    counted = {"to_loop": 0, "to_thread": 0}
    to_loop, to_thread = AsyncToSync.__call__, SyncToAsync.__call__

    def counting_to_loop(self, *args, **kwargs):
        counted["to_loop"] += 1
        return to_loop(self, *args, **kwargs)

    def counting_to_thread(self, *args, **kwargs):
        counted["to_thread"] += 1
        return to_thread(self, *args, **kwargs)

    monkeypatch.setattr(AsyncToSync, "__call__", counting_to_loop)
    monkeypatch.setattr(SyncToAsync, "__call__", counting_to_thread)
    return counted


def _get(app, path, headers=()):
    communicator = HttpCommunicator(app, "GET", path, headers=[(b"host", b"localhost"), *headers])
    return asyncio.run(communicator.get_response(timeout=10))


def test_an_api_request_never_goes_back_to_the_loop_inside_the_chain(switches, alice, token_for):
    token = token_for(alice, "read")
    switches.update(to_loop=0, to_thread=0)
    response = _get(application, "/api/v1/alerts", [(b"authorization", f"Bearer {token}".encode())])
    assert response["status"] == 200, response["body"][:300]
    assert switches["to_loop"] == 0
    # Into a thread for the request_started receivers, for the request, and for
    # closing the response (Django's own handler: 5, and once back to the loop).
    assert switches["to_thread"] <= 3


def test_django_s_own_handler_switches_inside_the_chain(switches):
    # What the handler is for: the stock chain goes back to the loop at least once.
    response = _get(ASGIHandler(), "/login/")
    assert response["status"] == 200
    assert switches["to_loop"] >= 1


def test_middleware_and_view_share_the_request_s_thread(monkeypatch):
    seen: list[int] = []
    from opsconsole import timing

    original = timing.ServerTimingMiddleware.__call__

    def recording(self, request):
        seen.append(threading.get_ident())
        response = original(self, request)
        seen.append(threading.get_ident())
        return response

    monkeypatch.setattr(timing.ServerTimingMiddleware, "__call__", recording)
    response = _get(OneThreadASGIHandler(), "/login/")
    assert response["status"] == 200
    assert len(seen) == 2 and seen[0] == seen[1] != threading.get_ident()

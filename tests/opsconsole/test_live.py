"""publish_soon hands an event to a background thread; it still arrives."""

from __future__ import annotations

import threading
import time

import pytest

from opsconsole import live


class SlowLayer:
    """Stands in for a cross-process layer (Redis, SQLite) whose sends take time: each
    waits until ``go`` is set."""

    def __init__(self):
        self.sent = []
        self.go = threading.Event()

    async def group_send(self, group, message):
        self.go.wait(5)
        self.sent.append((group, message))


@pytest.fixture
def layer(monkeypatch):
    slow = SlowLayer()
    monkeypatch.setattr(live, "get_channel_layer", lambda: slow)
    monkeypatch.setattr(live, "_background", live._Background())
    return slow


def test_the_caller_does_not_wait_for_the_send_and_the_event_still_arrives(layer):
    live.publish_soon("deliveries", {"type": "deliveries.changed", "alert_ids": [1]})
    # Back at once, while the layer is still busy with the send.
    assert layer.sent == [] and live._background.pending == 1
    layer.go.set()
    live._background.flush(timeout=5)
    assert layer.sent == [("deliveries", {"type": "deliveries.changed", "alert_ids": [1]})]


def test_events_keep_their_order_and_a_failing_send_does_not_stop_the_thread(layer, monkeypatch):
    calls = []

    def flaky(group, message):
        calls.append(message["n"])
        if message["n"] == 2:
            raise RuntimeError("a bug past publish_now's own guard")

    monkeypatch.setattr(live, "publish_now", flaky)
    for n in range(1, 5):
        live.publish_soon("g", {"n": n})
    deadline = time.monotonic() + 5
    while len(calls) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert calls == [1, 2, 3, 4]
    live._background.flush(timeout=5)
    assert live._background.pending == 0


@pytest.mark.skipif(not __import__("django.conf").conf.settings.REDIS_URL, reason="needs REDIS_URL")
def test_a_quiet_redis_channel_simply_waits():
    """A page whose group says nothing for longer than the layer's blocking pop (5 s)
    must not log a receive error every few seconds."""
    import asyncio

    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    assert layer is not None

    async def listen_quietly() -> str:
        channel = await layer.new_channel()
        try:
            await asyncio.wait_for(layer.receive(channel), timeout=7)
        except TimeoutError:
            return "waited"
        return "received"

    assert async_to_sync(listen_quietly)() == "waited"

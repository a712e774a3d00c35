"""Publishing to websocket groups from any process (web, q2 worker, ticker).

The channel layer is configured to cross processes in both modes (SQLite-backed
embedded, Redis in production), so a worker's event reaches daphne's consumers.
Publishing never breaks the caller: a failed send is logged, the data is stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)


def publish_now(group: str, message: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, message)
    except Exception:
        logger.exception("publishing to %s failed", group)


def publish_on_commit(group: str, message: dict, *, using: str | None = None) -> None:
    """Publish once the surrounding transaction commits, never for rolled-back data."""
    transaction.on_commit(lambda: publish_now(group, message), using=using)


class LocalFanout:
    """One channel-layer subscription per group per process, shared by its consumers.

    With 100 pages open on one host's vitals, the layer would otherwise carry 100 copies
    of every event and, for the SQLite layer, poll 100 channels. Here one relay task per
    group receives each event once and hands it to every local consumer in memory.
    """

    # Channel layers forget group members after a day; renew well before.
    RENEW_SECONDS = 3600

    def __init__(self, layer):
        self.layer = layer
        self.members: dict[str, set] = {}
        self.relays: dict[str, asyncio.Task] = {}
        self._joined: dict[str, asyncio.Future] = {}

    async def join(self, group: str, deliver) -> None:
        members = self.members.setdefault(group, set())
        members.add(deliver)
        if group not in self.relays:
            # Registered before any await, so pages joining at the same moment share it.
            joined = asyncio.get_running_loop().create_future()
            self._joined[group] = joined
            relay = asyncio.create_task(self._relay(group, joined))
            self.relays[group] = relay
            # A relay that ended (its last page left, or it failed) is forgotten, so
            # the next page starts a fresh one instead of waiting on a dead one.
            relay.add_done_callback(lambda done, g=group: self._forget(g, done))
        # Accept the page only once its events are certain to reach it.
        await asyncio.shield(self._joined[group])

    async def leave(self, group: str, deliver) -> None:
        members = self.members.get(group)
        if members is None:
            return
        members.discard(deliver)
        if not members:
            del self.members[group]
            relay = self.relays.pop(group, None)
            self._joined.pop(group, None)
            if relay is not None:
                relay.cancel()

    def _forget(self, group: str, relay: asyncio.Task) -> None:
        if self.relays.get(group) is relay:
            del self.relays[group]
            self._joined.pop(group, None)

    async def _relay(self, group: str, joined: asyncio.Future) -> None:
        try:
            channel = await self.layer.new_channel(prefix="fanout.")
            await self.layer.group_add(group, channel)
        except Exception as exc:
            self.relays.pop(group, None)
            self._joined.pop(group, None)
            joined.set_exception(exc)
            return
        joined.set_result(channel)
        # Membership is renewed beside the receive loop: cancelling a pending receive
        # to do it could drop an event that was arriving at that moment.
        renewal = asyncio.create_task(self._renew(group, channel))
        try:
            while True:
                try:
                    message = await self.layer.receive(channel)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    logger.exception("receiving for %s failed; retrying", group)
                    await asyncio.sleep(1)
                    continue
                for deliver in list(self.members.get(group, ())):
                    try:
                        await deliver(message)
                    except Exception:
                        logger.exception("a %s consumer failed on an event", group)
        finally:
            renewal.cancel()
            with contextlib.suppress(Exception):
                await asyncio.shield(self.layer.group_discard(group, channel))

    async def _renew(self, group: str, channel: str) -> None:
        while True:
            await asyncio.sleep(self.RENEW_SECONDS)
            try:
                await self.layer.group_add(group, channel)
            except Exception:
                logger.exception("renewing %s failed", group)


_fanouts: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def local_fanout() -> LocalFanout:
    """The fan-out of the running event loop (daphne runs one per process)."""
    loop = asyncio.get_running_loop()
    fanout = _fanouts.get(loop)
    if fanout is None:
        fanout = _fanouts[loop] = LocalFanout(get_channel_layer())
    return fanout


def open_sockets() -> dict[str, int]:
    """Live sockets open in this process, by the kind of page (consumer class).

    A page follows one or more groups through the fan-out; each consumer is counted once.
    Read from the thread that serves ``/metrics`` while the event loop changes the sets,
    so copies are taken and a set that changed meanwhile is read on the next scrape.
    """
    consumers = set()
    for fanout in list(_fanouts.values()):
        for members in list(fanout.members.values()):
            try:
                consumers.update(getattr(d, "__self__", d) for d in list(members))
            except RuntimeError:
                continue
    counts: dict[str, int] = {}
    for consumer in consumers:
        kind = type(consumer).__name__
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def socket_series():
    """``/metrics``: sockets open in the web process that serves the scrape."""
    import os
    import socket

    from prometheus_client.core import GaugeMetricFamily

    family = GaugeMetricFamily(
        "opsconsole_websocket_clients",
        "Live sockets open in the web process serving this scrape, by page; with several "
        "web processes, scrape each one.",
        labels=["consumer", "process"],
    )
    process = f"{socket.gethostname()}:{os.getpid()}"
    for kind, count in sorted(open_sockets().items()):
        family.add_metric([kind, process], count)
    yield family

"""Publishing to websocket groups from any process (web, q2 worker, ticker).

The channel layer is configured to cross processes in both modes (SQLite-backed
embedded, Redis in production), so a worker's event reaches daphne's consumers.
Publishing never breaks the caller: a failed send is logged, the data is stored.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import functools
import logging
import os
import queue
import threading
import time
import weakref

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
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


class _Background:
    """One daemon thread per process that sends events handed to ``publish_soon``.

    For events a page refreshes itself by (a panel changed), where the sender should
    not wait for the layer: on the embedded SQLite layer a send is a write of its own.
    Started on first use in each process, so a forked worker gets its own thread.
    """

    def __init__(self):
        self.pid = None
        self.queue: queue.SimpleQueue | None = None
        self.lock = threading.Lock()
        self.pending = 0  # queued or being sent

    def put(self, group: str, message: dict) -> None:
        with self.lock:
            if self.pid != os.getpid():
                self.pid, self.queue = os.getpid(), queue.SimpleQueue()
                threading.Thread(
                    target=self._run, args=(self.queue,), name="publish-soon", daemon=True
                ).start()
                atexit.register(self.flush)
            self.pending += 1
            assert self.queue is not None  # made above for this process
            self.queue.put((group, message))

    def _run(self, events: queue.SimpleQueue) -> None:
        while True:
            item = events.get()
            try:
                publish_now(*item)
            except Exception:  # publish_now logs its own; this thread must outlive any
                logger.exception("publishing to %s failed", item[0])
            finally:
                with self.lock:
                    self.pending -= 1

    def flush(self, timeout: float = 1.0) -> None:
        """Send what is queued before the process exits (best effort, bounded)."""
        if self.queue is None or self.pid != os.getpid():
            return
        deadline = time.monotonic() + timeout
        while self.pending and time.monotonic() < deadline:
            time.sleep(0.01)


_background = _Background()
# A worker forked while the thread held the lock would wait on it forever: the child
# starts afresh (its first publish_soon starts its own thread).
os.register_at_fork(after_in_child=lambda: _Background.__init__(_background))


def publish_soon(group: str, message: dict) -> None:
    """Publish from a background thread: the caller goes on at once. For refresh hints
    only; an event the page must not miss goes through ``publish_now``."""
    if isinstance(get_channel_layer(), InMemoryChannelLayer):
        # The tests' layer wakes its readers without crossing threads safely.
        publish_now(group, message)
        return
    _background.put(group, message)


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
            relay.add_done_callback(functools.partial(self._forget, group))
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
    consumers: set[object] = set()
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

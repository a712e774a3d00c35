"""Live vitals: one layer group for every host; each event re-renders a host's gauges once
per process, however many pages watch it."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict

from channels.db import database_sync_to_async
from django.template.loader import render_to_string

from metrics.fleet import gauge_alerts
from metrics.ingest import VITALS_GROUP
from metrics.models import Host
from metrics.vitals import summarize
from opsconsole.live import local_fanout
from opsconsole.sockets import LiveConsumer, admit

# (host id, sample time) -> rendered HTML, shared by every consumer in this process, so
# 100 open pages cost one render per collection, not 100.
_rendered: OrderedDict[tuple[int, str | None], str] = OrderedDict()
_RENDERED_MAX = 64


@database_sync_to_async
def _render(host_id: int, at: str | None) -> str | None:
    key = (host_id, at)
    cached = _rendered.get(key)
    if cached is not None:
        return cached
    host = Host.objects.filter(pk=host_id).first()
    if host is None:
        return None
    html = render_to_string(
        "metrics/partials/vitals.html",
        {
            "host": host,
            "vitals": summarize(host),
            "live": True,
            "gauge_alerts": gauge_alerts(host.hostname),
        },
    )
    _rendered[key] = html
    while len(_rendered) > _RENDERED_MAX:
        _rendered.popitem(last=False)
    return html


class VitalsConsumer(LiveConsumer):
    async def connect(self):
        if await admit(self) is None:
            return
        self.host_id = int(self.scope["url_route"]["kwargs"]["host_id"])
        self.host_key = str(self.host_id)
        self.group = VITALS_GROUP
        # One layer subscription per process, shared by every page open on any host.
        await local_fanout().join(self.group, self.vitals_update)
        await self.accept()

    async def disconnect(self, code):
        if hasattr(self, "group"):
            await local_fanout().leave(self.group, self.vitals_update)

    async def receive(self, text_data=None, bytes_data=None):
        # The page sends nothing that needs an answer; ignore pings and stray frames.
        return

    async def vitals_update(self, event):
        # An event lists the hosts of one ingest call with their newest sample time.
        hosts = event.get("hosts", {})
        if self.host_key not in hosts:
            return
        html = await _render(self.host_id, hosts[self.host_key])
        if html:
            await self.send(text_data=html)


# How often one Hosts page is sent a fresh table at most: at fleet size some host
# reports every few milliseconds, and a table per batch would be a frame per batch.
FLEET_FRAME_SECONDS = 5.0
# (query string, time slot) -> rendered table, shared by the pages open on one view.
_fleet_rendered: OrderedDict[tuple[str, int], str] = OrderedDict()


@database_sync_to_async
def _render_fleet(query: str, slot: int) -> str:
    from django.http import QueryDict

    from metrics.fleet import params_from
    from metrics.views import fleet_context

    key = (query, slot)
    cached = _fleet_rendered.get(key)
    if cached is not None:
        return cached
    context = {**fleet_context(params_from(QueryDict(query))), "live": True}
    html = render_to_string("metrics/partials/hosts_table.html", context)
    _fleet_rendered[key] = html
    while len(_fleet_rendered) > _RENDERED_MAX:
        _fleet_rendered.popitem(last=False)
    return html


class FleetConsumer(LiveConsumer):
    """The Hosts page: its table again, at most every FLEET_FRAME_SECONDS, while hosts
    report (a host that stops reporting turns stale in the next frame of any other's)."""

    async def connect(self):
        if await admit(self) is None:
            return
        self.query = self.scope.get("query_string", b"").decode("latin-1")[:1000]
        self.group = VITALS_GROUP
        self._sent_at = 0.0
        self._pending: asyncio.Task | None = None
        await local_fanout().join(self.group, self.vitals_update)
        await self.accept()

    async def disconnect(self, code):
        if hasattr(self, "group"):
            await local_fanout().leave(self.group, self.vitals_update)
        if (pending := getattr(self, "_pending", None)) is not None:
            pending.cancel()

    async def receive(self, text_data=None, bytes_data=None):
        return

    async def vitals_update(self, event):
        if self._pending is not None:
            return  # a frame is already due; it will show this batch too
        wait = self._sent_at + FLEET_FRAME_SECONDS - time.monotonic()
        self._pending = asyncio.ensure_future(self._send_after(max(wait, 0.0)))

    async def _send_after(self, wait: float) -> None:
        try:
            if wait:
                await asyncio.sleep(wait)
            self._sent_at = time.monotonic()
            html = await _render_fleet(self.query, int(self._sent_at // FLEET_FRAME_SECONDS))
            await self.send(text_data=html)
        finally:
            self._pending = None

"""Live alerts: the console list and one alert's page, kept current over a websocket.

Every change AlertService commits is published to the ``alerts`` group; each web
process holds one subscription (``opsconsole.live.LocalFanout``) and hands the change
to its open pages, which get server-rendered rows swapped in out of band.

Resume: a page remembers the id of the last timeline event it showed and sends
``{"resume": <id>}`` whenever its socket opens. If changes were committed after that
id (the page was rendered before the socket opened, or the connection dropped), the
list page gets its rows re-rendered in full and an alert's page gets the events it
missed, so nothing stale stays on screen.
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from typing import Any

from channels.db import database_sync_to_async
from django.http import QueryDict
from django.template.loader import render_to_string

from alerts import console
from alerts.models import Alert
from alerts.service import ALERTS_GROUP
from opsconsole.live import local_fanout
from opsconsole.panels import live_panels, render_live_panels
from opsconsole.roles import Role
from opsconsole.sockets import LiveConsumer, admit

# Rendered rows and counts shared by every page open in this process, by the change
# that caused them, so 100 open consoles cost one render and query per change, not 100.
_rows: OrderedDict[tuple, Any] = OrderedDict()  # rows, counts and summaries
_ROWS_MAX = 256
# Changes missed beyond this many are shown by re-rendering the list, not one by one.
CATCH_UP_LIMIT = 500


def _remember(key, value):
    _rows[key] = value
    while len(_rows) > _ROWS_MAX:
        _rows.popitem(last=False)


def _cursor_html(event_id: int) -> str:
    return f'<span id="live-cursor" data-event="{int(event_id)}" hx-swap-oob="true" hidden></span>'


def _change_key(event: dict):
    """What names one change: its timeline event, or for a repeat counted without one
    the alert's count then (published as ``count``); None when neither is known."""
    if event.get("event_id") is not None:
        return event["event_id"]
    if event.get("count") is not None:
        return ("count", event.get("alert_id"), event["count"])
    return None


async def _row(alert_id: int, change, can_act: bool) -> tuple[Alert, str] | None:
    # Looked up here, not in a worker thread: pages get each change one after another,
    # and all but the first find it rendered already.
    cached = _rows.get((alert_id, change, can_act)) if change is not None else None
    return cached if cached is not None else await _load_row(alert_id, change, can_act)


@database_sync_to_async
def _load_row(alert_id: int, change, can_act: bool) -> tuple[Alert, str] | None:
    alert = Alert.objects.select_related("rule").filter(pk=alert_id).first()
    if alert is None:
        return None
    html = render_to_string("alerts/partials/row.html", {"alert": alert, "can_act": can_act})
    if change is not None:
        _remember((alert_id, change, can_act), (alert, html))
    return alert, html


async def _counts_html(change=None) -> str:
    cached = _rows.get(("counts", change)) if change is not None else None
    return cached if cached is not None else await _load_counts(change)


@database_sync_to_async
def _load_counts(change) -> str:
    html = render_to_string("alerts/partials/counts.html", {"counts": console.open_counts()})
    if change is not None:
        _remember(("counts", change), html)
    return html


# A burst of changes is answered with one count and pager per page, this long after the
# first of them, instead of one count query per change.
SUMMARY_DELAY = 0.5


async def _summary_html(filters: console.Filters, change=None) -> str:
    key = ("summary", tuple(sorted(filters.as_query().items())), change)
    cached = _rows.get(key) if change is not None else None
    return cached if cached is not None else await _load_summary(filters, change, key)


@database_sync_to_async
def _load_summary(filters: console.Filters, change, key) -> str:
    page = console.page_count(filters)
    html = render_to_string(
        "alerts/partials/list_summary.html",
        {"page": page, "oob": True, **console.pager_queries(filters, page)},
    )
    if change is not None:
        _remember(key, html)
    return html


@database_sync_to_async
def _missed(cursor: int, alert_id: int | None = None) -> list:
    return console.events_since(cursor, alert_id=alert_id, limit=CATCH_UP_LIMIT)


@database_sync_to_async
def _whole_list(filters: console.Filters, can_act: bool) -> str:
    page = console.page_of(filters)
    rows = "".join(
        render_to_string(
            "alerts/partials/row.html", {"alert": alert, "can_act": can_act, "nested": True}
        )
        for alert in page.alerts
    )
    return f'<tbody id="alert-rows" hx-swap-oob="true">{rows}</tbody>' + _cursor_html(
        console.last_event_id()
    )


class _LiveAlerts(LiveConsumer):
    async def connect(self):
        role = await admit(self)
        if role is None:
            return
        self.can_act = role >= Role.RESPONDER
        self.prepare()
        await local_fanout().join(ALERTS_GROUP, self.alert_changed)
        self.joined = True
        await self.accept()

    async def disconnect(self, code):
        if getattr(self, "joined", False):
            await local_fanout().leave(ALERTS_GROUP, self.alert_changed)

    async def receive(self, text_data=None, bytes_data=None):
        try:
            message = json.loads(text_data or "{}")
            cursor = int(message["resume"])
        except (ValueError, KeyError, TypeError):
            return  # pings and stray frames need no answer
        frame = await self.catch_up(max(cursor, 0))
        if frame:
            await self.send(text_data=frame)

    def prepare(self) -> None:
        raise NotImplementedError

    async def catch_up(self, cursor: int) -> str:
        raise NotImplementedError

    async def alert_changed(self, event):
        raise NotImplementedError


class AlertListConsumer(_LiveAlerts):
    """The console list with the page's own filters (from the socket's query string)."""

    def prepare(self):
        params = QueryDict(self.scope.get("query_string", b"").decode("latin-1"))
        self.filters = console.parse_filters(params)
        self.summary_due: asyncio.Task | None = None
        self.last_change = None

    async def disconnect(self, code):
        if (due := getattr(self, "summary_due", None)) is not None:
            due.cancel()
        await super().disconnect(code)

    async def alert_changed(self, event):
        loaded = await _row(event["alert_id"], _change_key(event), self.can_act)
        if loaded is None:
            return
        alert, html = loaded
        if not self.filters.selection().matches(alert):
            # Still swapped if the row is on the page; never inserted as a new one.
            html = html.replace('data-match="1"', 'data-match="0"', 1)
        parts = [html, await _counts_html(_change_key(event))]
        if event.get("event_id"):
            parts.append(_cursor_html(event["event_id"]))
        await self.send(text_data="".join(parts))
        # A status change or a new alert may move the count and the pager: sent once
        # for a burst, keyed by its last change so pages with the same filters share it.
        if event.get("event_id") is not None:
            self.last_change = _change_key(event)
            if self.summary_due is None:
                self.summary_due = asyncio.create_task(self.send_summary())

    async def send_summary(self):
        await asyncio.sleep(SUMMARY_DELAY)
        self.summary_due = None
        await self.send(text_data=await _summary_html(self.filters, self.last_change))

    async def catch_up(self, cursor):
        missed = await _missed(cursor)
        if not missed:
            return ""
        body = await _whole_list(self.filters, self.can_act)
        note = render_to_string(
            "alerts/partials/flash.html",
            {
                "message": f"Reconnected: caught up on {len(missed)}"
                f"{'+' if len(missed) >= CATCH_UP_LIMIT else ''} change"
                f"{'s' if len(missed) != 1 else ''}.",
                "level": "ok",
            },
        )
        return body + await _counts_html() + await _summary_html(self.filters) + note


class AlertDetailConsumer(_LiveAlerts):
    """One alert's page: its summary, the timeline events as they are written, and the
    live panels other apps add (the deliveries made for it, as their outcomes are
    recorded)."""

    async def connect(self):
        await super().connect()
        if getattr(self, "joined", False):
            self.panel_groups = sorted({p.group for p in live_panels("alert_detail")})
            for group in self.panel_groups:
                await local_fanout().join(group, self.panel_changed)

    async def disconnect(self, code):
        for group in getattr(self, "panel_groups", ()):
            await local_fanout().leave(group, self.panel_changed)
        await super().disconnect(code)

    async def panel_changed(self, event):
        if self.alert_id not in event.get("alert_ids", ()):
            return
        html = await database_sync_to_async(render_live_panels)(
            "alert_detail", self.alert_id, event.get("group")
        )
        if html:
            await self.send(text_data=html)

    def prepare(self):
        self.alert_id = int(self.scope["url_route"]["kwargs"]["alert_id"])
        # The newest event shown, once known; ids already sent are never sent twice.
        self.cursor: int | None = None
        self.sent: set[int] = set()

    async def alert_changed(self, event):
        if event.get("alert_id") != self.alert_id:
            return
        base = self.cursor
        if base is None and event.get("event_id"):
            base = event["event_id"] - 1
        events = await _missed(base, self.alert_id) if base is not None else []
        frame = await self._frame(events)
        if frame:
            await self.send(text_data=frame)

    async def catch_up(self, cursor):
        return await self._frame(await _missed(cursor, self.alert_id))

    async def _frame(self, events) -> str:
        fresh = [e for e in events if e.pk not in self.sent]
        html = await self._render(fresh)
        self.sent.update(e.pk for e in fresh)
        if fresh:
            self.cursor = max(self.cursor or 0, fresh[-1].pk)
        return html

    @database_sync_to_async
    def _render(self, events) -> str:
        alert = Alert.objects.select_related("rule").filter(pk=self.alert_id).first()
        if alert is None:
            return ""
        parts: list[str] = [
            render_to_string(
                "alerts/partials/summary.html",
                {
                    "alert": alert,
                    "can_act": self.can_act,
                    "suppress_hours": console.SUPPRESS_HOURS,
                },
            )
        ]
        if events:
            items = "".join(
                render_to_string("alerts/partials/event.html", {"event": e}) for e in events
            )
            parts.append(f'<ol hx-swap-oob="beforeend:#timeline">{items}</ol>')
            parts.append(_cursor_html(events[-1].pk))
        # Routing wrote the alert's outbox rows in the same transaction as the change.
        parts.append(render_live_panels("alert_detail", self.alert_id))
        return "".join(parts)

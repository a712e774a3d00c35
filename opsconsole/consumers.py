"""Sentry Station's live audit stream: new entries are prepended to the open page."""

from __future__ import annotations

import json
from typing import Any

from channels.db import database_sync_to_async
from django.http import QueryDict
from django.template.loader import render_to_string

from opsconsole import audit
from opsconsole.live import local_fanout
from opsconsole.models import AuditEntry
from opsconsole.roles import Role
from opsconsole.sockets import LiveConsumer, admit

CATCH_UP_LIMIT = 200


class AuditConsumer(LiveConsumer):
    async def connect(self):
        role = await admit(self)
        if role is None:
            return
        # Where logins came from is for admins only.
        self.show_ip = role >= Role.ADMIN
        params = QueryDict(self.scope.get("query_string", b"").decode("latin-1"))
        try:
            kind = audit.parse_kind(params.get("kind"))
        except ValueError:
            kind = ""
        self.filters: dict[str, Any] = {
            "kind": kind,
            "actor": params.get("actor", ""),
            "q": params.get("q", ""),
        }
        self.sent: set[int] = set()
        await local_fanout().join(audit.AUDIT_GROUP, self.audit_entry)
        self.joined = True
        await self.accept()

    async def disconnect(self, code):
        if getattr(self, "joined", False):
            await local_fanout().leave(audit.AUDIT_GROUP, self.audit_entry)

    async def receive(self, text_data=None, bytes_data=None):
        try:
            cursor = int(json.loads(text_data or "{}")["resume"])
        except (ValueError, KeyError, TypeError):
            return
        await self._send(await self._since(cursor))

    async def audit_entry(self, event):
        await self._send(await self._load(event["entry_id"]))

    @database_sync_to_async
    def _load(self, entry_id):
        return list(AuditEntry.objects.filter(pk=entry_id))

    @database_sync_to_async
    def _since(self, cursor):
        found = audit.entries(**self.filters).filter(id__gt=cursor)
        return list(found[:CATCH_UP_LIMIT])

    async def _send(self, entries):
        fresh = [e for e in entries if e.pk not in self.sent and audit.matches(e, **self.filters)]
        if not fresh:
            return
        self.sent.update(e.pk for e in fresh)
        fresh.sort(key=lambda e: -e.pk)
        rows = "".join(
            render_to_string(
                "opsconsole/partials/audit_row.html", {"entry": e, "show_ip": self.show_ip}
            )
            for e in fresh
        )
        cursor = (
            f'<span id="live-cursor" data-event="{fresh[0].pk}" hx-swap-oob="true" hidden></span>'
        )
        await self.send(
            text_data=f'<tbody hx-swap-oob="afterbegin:#audit-rows">{rows}</tbody>{cursor}'
        )

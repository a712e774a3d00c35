"""Live Services page: each state change re-renders the table once per process."""

from __future__ import annotations

from channels.db import database_sync_to_async
from django.template.loader import render_to_string

from healthchecks.state import SERVICES_GROUP
from opsconsole.live import local_fanout
from opsconsole.sockets import LiveConsumer, admit

# The last change rendered in this process: every open page is sent the same render.
_last: dict[str, object] = {"at": None, "html": ""}


@database_sync_to_async
def _render(at) -> str:
    from healthchecks.views import services_context

    if at is None or _last["at"] != at:
        _last["html"] = render_to_string(
            "healthchecks/partials/services_table.html", services_context()
        )
        _last["at"] = at
    return str(_last["html"])


class ServicesConsumer(LiveConsumer):
    async def connect(self):
        if await admit(self) is None:
            return
        self.joined = True
        await local_fanout().join(SERVICES_GROUP, self.services_update)
        await self.accept()

    async def disconnect(self, code):
        if getattr(self, "joined", False):
            await local_fanout().leave(SERVICES_GROUP, self.services_update)

    async def receive(self, text_data=None, bytes_data=None):
        return

    async def services_update(self, event):
        await self.send(text_data=await _render(event.get("at")))

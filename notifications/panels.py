"""The deliveries made for an alert, on its page (the ``alert_detail`` panel slot), and
the live refresh of that panel when a delivery changes.

The panel shows what happened to each message (channel, transition, status, attempts,
last error, response code, when), never a channel's configuration or secrets: a viewer
reads it. Errors were redacted of the channel's secrets when they were recorded.
"""

from __future__ import annotations

from django.template.loader import render_to_string

from alerts.models import Alert
from notifications.grouping import messages_of
from opsconsole.live import publish_soon
from opsconsole.panels import Panel

TEMPLATE = "notifications/partials/deliveries.html"
# Alert pages follow delivery outcomes here; the alerts group stays for alert changes,
# so open consoles do not re-render a row for every message sent.
DELIVERIES_GROUP = "deliveries"
# An alert that fired for days can have many repeats: the page shows the newest.
SHOWN = 50


def panel_context(alert_id: int) -> dict:
    # Its own messages and its groups' messages (which may tell of many alerts).
    rows = messages_of(Alert(pk=alert_id))
    deliveries = list(rows.order_by("-created", "-id")[:SHOWN])
    total = rows.count() if len(deliveries) == SHOWN else len(deliveries)
    return {
        "alert_id": alert_id,
        "deliveries": [
            {
                "channel": n.channel.name,
                "kind": n.channel.get_kind_display(),
                "transition": n.get_transition_display()
                + (f" (group #{n.group_id})" if n.group_id and n.alert_id is None else ""),
                "status": n.status,
                "status_label": n.get_status_display(),
                "attempts": n.attempts,
                "last_error": n.last_error,
                "response_code": n.response_code,
                "when": n.sent_at or n.updated,
            }
            for n in deliveries
        ],
        "total": total,
        "shown": len(deliveries),
    }


def deliveries_panel(alert, request=None) -> Panel:
    return Panel(title="Deliveries", template=TEMPLATE, context=panel_context(alert.pk))


def render_live(alert_id: int) -> str:
    """The panel's body, swapped in place on an open alert page."""
    return render_to_string(TEMPLATE, {"panel": {**panel_context(alert_id), "oob": True}})


def publish_deliveries(alert_ids) -> None:
    """Tell open alert pages that deliveries of these alerts changed."""
    alert_ids = sorted(alert_ids)
    if alert_ids:
        # A hint to re-render the panel: the worker does not wait for the layer.
        publish_soon(
            DELIVERIES_GROUP,
            {"type": "deliveries.changed", "group": DELIVERIES_GROUP, "alert_ids": alert_ids},
        )

"""Durations as an operator reads them (42 s, 12.5 min, 3.2 h, 2.1 d), alert types
by the names of the rules that raised them, and metadata values (links where safe)."""

from __future__ import annotations

from urllib.parse import urlsplit

from django import template
from django.utils.html import format_html

register = template.Library()


@register.filter
def minutes(value) -> str:
    if value is None:
        return "—"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if number < 1:
        return f"{number * 60:.0f} s"
    if number < 120:
        return f"{number:.1f} min"
    if number < 48 * 60:
        return f"{number / 60:.1f} h"
    return f"{number / 1440:.1f} d"


@register.filter
def type_name(alert_type: str) -> str:
    from alerts.service import type_name as name_of

    return name_of(alert_type)


@register.filter
def metadata_value(value, key: str = ""):
    """A metadata value for the alert page: a ``*_url`` entry (the generator URL an
    Alertmanager alert came with, a runbook) as a link when it is http(s), since it came
    from outside and a ``javascript:`` URL must never become one; anything else as code."""
    if str(key).endswith("_url") and isinstance(value, str) and _is_web_url(value):
        return format_html('<a href="{}" rel="noopener noreferrer nofollow">{}</a>', value, value)
    return format_html("<code>{}</code>", value)


def _is_web_url(value: str) -> bool:
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


@register.simple_tag
def inhibition_of(alert) -> dict | None:
    """What holds an inhibited alert back: its source alert and the rule's name (from
    its latest hold on the timeline), or None."""
    from alerts.constants import INHIBITION_ACTOR, EventKind

    if not alert.held_back or alert.suppressed_by != INHIBITION_ACTOR:
        return None
    data = (
        alert.events.filter(kind=EventKind.SILENCED, data__policy=INHIBITION_ACTOR)
        .order_by("-id")
        .values_list("data", flat=True)
        .first()
    ) or {}
    source = alert.inhibited_by
    return {
        "source_id": alert.inhibited_by_id or data.get("inhibited_by"),
        "source_title": source.title if source is not None else data.get("source_title", ""),
        "source_status": source.status if source is not None else "",
        "rule_name": data.get("rule_name", ""),
    }

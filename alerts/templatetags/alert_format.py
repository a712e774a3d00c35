"""Durations as an operator reads them (42 s, 12.5 min, 3.2 h, 2.1 d), and alert types
by the names of the rules that raised them."""

from __future__ import annotations

from django import template

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

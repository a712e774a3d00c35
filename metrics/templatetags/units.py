"""Template filters over ``opsconsole.units``: ``{{ value|unit:"percent" }}``, gauges'
levels and sparklines. Python code imports ``opsconsole.units`` itself."""

from __future__ import annotations

from django import template

from metrics.charts import sparkline
from opsconsole.units import exact_value, humanize_value

__all__ = ["exact_value", "humanize_value"]

register = template.Library()


@register.filter
def unit(value, unit_name: str = "") -> str:
    return humanize_value(value, unit_name)


@register.filter
def clamp_percent(value) -> float:
    try:
        return max(0.0, min(100.0, float(value)))
    except (TypeError, ValueError):
        return 0.0


@register.filter
def level(value, threshold) -> str:
    """ok / warn / crit for a gauge: warn within 10 points of the threshold."""
    try:
        number, limit = float(value), float(threshold)
    except (TypeError, ValueError):
        return "none"
    if number > limit:
        return "crit"
    if number > limit - 10:
        return "warn"
    return "ok"


@register.filter
def spark(values) -> str:
    """SVG polyline points of a percentage trend (metrics.charts.sparkline)."""
    return sparkline(list(values or []))

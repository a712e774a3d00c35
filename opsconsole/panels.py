"""Panels one app contributes to another's page, by slot.

An app that keeps data the console should show (the deliveries made for an alert, the
service endpoints' health on Sentry Station) registers a function in its
``AppConfig.ready()``; the page shows what each returns, in order of registration.
Nothing is shown for an app that is not installed. Slots: ``alert_detail`` (called
with the alert and the request), ``alert_list`` (above the alerts list, called with
the request), ``station`` and ``system_monitor`` (called with the request).

Warnings (``register_warnings``): functions returning lines that something is wrong
with the configuration (a severity that reaches no channel), listed by
``/api/v1/status``.

A panel that changes while the page is open also registers a live source: the group
its app publishes to and a function rendering the panel's out-of-band swap for an
alert, which the page's consumer sends when an event of that group names its alert.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)


@dataclass
class Panel:
    title: str
    template: str
    context: dict


PanelSource = Callable[..., "Panel | None"]
_sources: dict[str, list[PanelSource]] = {}


def register_panel(slot: str, source: PanelSource) -> None:
    """``source(*args) -> Panel | None``; None shows nothing this time."""
    sources = _sources.setdefault(slot, [])
    if source not in sources:
        sources.append(source)


@dataclass(frozen=True)
class LivePanel:
    group: str
    render: Callable[[int], str]


_live: dict[str, list[LivePanel]] = {}


def register_live_panel(slot: str, group: str, render: Callable[[int], str]) -> None:
    """Events on ``group`` that carry ``alert_ids`` re-render the panel on the pages of
    those alerts: ``render(alert_id)`` returns the swap."""
    live = _live.setdefault(slot, [])
    panel = LivePanel(group, render)
    if panel not in live:
        live.append(panel)


def live_panels(slot: str) -> list[LivePanel]:
    return list(_live.get(slot, []))


def render_live_panels(slot: str, alert_id: int, group: str | None = None) -> str:
    """Every live panel's swap for this alert (only ``group``'s, when given)."""
    parts = []
    for panel in _live.get(slot, []):
        if group is not None and panel.group != group:
            continue
        try:
            parts.append(panel.render(alert_id))
        except Exception:
            logger.exception("live panel %r for %s failed", panel.render, slot)
    return "".join(parts)


def unregister_panel(slot: str, source: PanelSource) -> None:
    if source in _sources.get(slot, []):
        _sources[slot].remove(source)


def panels_for(slot: str, *args) -> list[Panel]:
    panels = []
    for source in _sources.get(slot, []):
        try:
            panel = source(*args)
        except Exception:
            # One broken panel must not take the page down with it.
            logger.exception("panel %r for %s failed", source, slot)
            continue
        if panel is not None:
            panels.append(panel)
    return panels


_warnings: list[Callable[[], list[str]]] = []


def register_warnings(source: Callable[[], list[str]]) -> None:
    if source not in _warnings:
        _warnings.append(source)


def configuration_warnings() -> list[str]:
    """Every registered source's lines; a failing source is logged and left out."""
    lines: list[str] = []
    for source in _warnings:
        try:
            lines.extend(source())
        except Exception:
            logger.exception("warnings source %r failed", source)
    return lines

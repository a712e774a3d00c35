"""Panels one app contributes to another's page, by slot.

An app that keeps data the console should show (the deliveries made for an alert, the
service endpoints' health on Sentry Station) registers a function in its
``AppConfig.ready()``; the page shows what each returns, in order of registration.
Nothing is shown for an app that is not installed. Slots: ``alert_detail`` (called
with the alert and the request) and ``station`` (called with the request).
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

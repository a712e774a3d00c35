"""Extra panels on the alert page, contributed by other apps.

An app that keeps data about alerts (the deliveries made for one, say) registers a
function in its ``AppConfig.ready()``; the alert page shows what each returns, in order.
Nothing is shown for an app that is not installed.
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
_sources: list[PanelSource] = []


def register_detail_panel(source: PanelSource) -> None:
    """``source(alert, request) -> Panel | None``; None shows nothing for that alert."""
    if source not in _sources:
        _sources.append(source)


def detail_panels(alert, request) -> list[Panel]:
    panels = []
    for source in _sources:
        try:
            panel = source(alert, request)
        except Exception:
            # One broken panel must not take the alert page down with it.
            logger.exception("alert panel %r failed", source)
            continue
        if panel is not None:
            panels.append(panel)
    return panels

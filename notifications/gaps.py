"""Where routing leads nowhere: a severity (or a category of it) whose alerts reach no
enabled channel, because no routing rule takes them, or the rules that do name only
channels that are missing, disabled or set to a higher minimum severity.

Asked by the alerts page (the ``alert_list`` panel slot), the routing rules' admin page
and ``/api/v1/status`` (the ``status`` warnings registry), so the alerts app and the
project package never import this app. Read from the cached routing table with alerts
built in memory: no query beyond the table's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

from alerts.constants import Category, Severity
from notifications import table
from notifications.routing import channels_for
from opsconsole.panels import Panel


@dataclass
class Gap:
    severity: str
    categories: list[str]  # empty: every category
    why: str

    @property
    def text(self) -> str:
        which = f"{self.severity} alerts" + (
            f" of category {', '.join(self.categories)}" if self.categories else ""
        )
        return f"{which} reach no enabled channel: {self.why}"


def _probe(severity: str, category: str):
    # What routing reads of an alert, with no labels and no channels of its own.
    return SimpleNamespace(severity=severity, category=category, labels={}, metadata={})


def _why(severity: str, category: str) -> str:
    enabled, rules = table.routing_table()
    if not enabled:
        return "no channel is enabled (none may exist yet)"
    taking = [rule for rule, _ids in rules if not table.matches(rule, _probe(severity, category))]
    if not taking:
        return "no enabled routing rule takes them"
    names = ", ".join(f"'{rule.name}'" for rule in taking)
    return (
        f"{names} take{'s' if len(taking) == 1 else ''} them, but none of the channels "
        "named there exists, is enabled and takes this severity"
    )


def routing_gaps() -> list[Gap]:
    """One gap per severity that reaches nothing, most severe first; a severity that
    reaches nothing for some categories only names them."""
    gaps = []
    for severity in reversed(Severity.values):
        missing = [c for c in Category.values if not channels_for(_probe(severity, c), severity)]
        if not missing:
            continue
        everywhere = len(missing) == len(Category.values)
        gaps.append(
            Gap(
                severity=severity,
                categories=[] if everywhere else missing,
                why=_why(severity, missing[0]),
            )
        )
    return gaps


def warnings() -> list[str]:
    """The gaps as lines (``/api/v1/status``'s ``warnings``)."""
    return [gap.text for gap in routing_gaps()]


def alert_list_panel(request=None) -> Panel | None:
    """The warning above the alerts list, for as long as a severity reaches nobody."""
    gaps = routing_gaps()
    if not gaps:
        return None
    return Panel(
        title="Routing leads nowhere",
        template="notifications/partials/routing_gaps.html",
        context={"gaps": gaps, "can_edit": bool(request and request.user.is_staff)},
    )

"""Where routing leads nowhere: a severity (or a category of it) whose alerts reach no
enabled channel, because no routing rule takes them, or the rules that do name only
channels that are missing, disabled or set to a higher minimum severity; and, where
another app pages people for routing rules (on-call's escalation policies), a severity
whose rules page people of whom nobody can be reached.

That app says who its rules reach through ``register_people_check`` (called in its
``AppConfig.ready()``): this app never imports it. A severity that reaches someone
through such a check and no channel is no gap (a rule may escalate instead of sending).

Asked by the alerts page (the ``alert_list`` panel slot), the routing rules' admin page
and ``/api/v1/status`` (the ``status`` warnings registry), so the alerts app and the
project package never import this app. Read from the cached routing table with alerts
built in memory: no query beyond the table's own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import TYPE_CHECKING

from alerts.constants import Category, Severity
from notifications import table
from notifications.models import RoutingRule
from notifications.routing import channels_for
from opsconsole.panels import Panel

if TYPE_CHECKING:
    from django.http import HttpRequest


@dataclass(frozen=True)
class PeopleReach:
    """What a people check found for the routing rules taking some alerts."""

    reaches: bool  # at least one person (or step) would be paged
    why: str = ""  # when not: which policy reaches nobody, and why


# ``check(rules) -> PeopleReach | None``: None when none of the rules pages people. A
# factory is registered (called once per look, so a check may remember what it read).
PeopleCheck = Callable[[Sequence[RoutingRule]], "PeopleReach | None"]
_people_checks: list[Callable[[], PeopleCheck]] = []


def register_people_check(factory: Callable[[], PeopleCheck]) -> None:
    if factory not in _people_checks:
        _people_checks.append(factory)


# What a gap is: no channel at all, or on-call paging that reaches nobody.
NO_CHANNEL = "channel"
NOBODY = "nobody"


@dataclass
class Gap:
    severity: str
    categories: list[str]  # empty: every category
    why: str
    reach: str = NO_CHANNEL

    @property
    def text(self) -> str:
        which = f"{self.severity} alerts" + (
            f" of category {', '.join(self.categories)}" if self.categories else ""
        )
        if self.reach == NOBODY:
            return f"{which} page nobody on call: {self.why}"
        return f"{which} reach no enabled channel: {self.why}"


def _probe(severity: str, category: str) -> SimpleNamespace:
    # What routing reads of an alert, with no labels and no channels of its own.
    return SimpleNamespace(severity=severity, category=category, labels={}, metadata={})


def _no_channel_why(severity: str, taking: list[RoutingRule]) -> str:
    enabled, _rules = table.routing_table()
    if not enabled:
        return "no channel is enabled (none may exist yet)"
    if not taking:
        return "no enabled routing rule takes them"
    names = ", ".join(f"'{rule.name}'" for rule in taking)
    return (
        f"{names} take{'s' if len(taking) == 1 else ''} them, but none of the channels "
        "named there exists, is enabled and takes this severity"
    )


def _problem(severity: str, category: str, checks: list[PeopleCheck]) -> tuple[str, str] | None:
    """(what kind of gap, why) for alerts of this severity and category; None: none."""
    probe = _probe(severity, category)
    _enabled, rules = table.routing_table()
    taking = [rule for rule, _ids in rules if not table.matches(rule, probe, severity)]
    found = [reach for check in checks if (reach := check(taking)) is not None]
    nobody = "; ".join(reach.why for reach in found if not reach.reaches)
    if not channels_for(probe, severity):
        if any(reach.reaches for reach in found):
            return None  # escalated to someone instead of sent to a channel
        why = _no_channel_why(severity, taking)
        if nobody:  # the rules escalate, but to nobody: said as on-call's gap
            return NOBODY, f"{nobody}; and no channel either: {why}"
        return NO_CHANNEL, why
    return (NOBODY, nobody) if nobody else None


def routing_gaps() -> list[Gap]:
    """Gaps by severity, most severe first (one of each kind a severity has); a gap of
    some categories only names them."""
    checks = [factory() for factory in _people_checks]
    gaps = []
    for severity in reversed(Severity.values):
        by_kind: dict[str, list[tuple[str, str]]] = {}
        for category in Category.values:
            problem = _problem(severity, category, checks)
            if problem is not None:
                by_kind.setdefault(problem[0], []).append((category, problem[1]))
        for reach in (NO_CHANNEL, NOBODY):
            missing = by_kind.get(reach)
            if not missing:
                continue
            everywhere = len(missing) == len(Category.values)
            gaps.append(
                Gap(
                    severity=severity,
                    categories=[] if everywhere else [c for c, _why in missing],
                    why=missing[0][1],
                    reach=reach,
                )
            )
    return gaps


def warnings() -> list[str]:
    """The gaps as lines (``/api/v1/status``'s ``warnings``)."""
    return [gap.text for gap in routing_gaps()]


def alert_list_panel(request: HttpRequest | None = None) -> Panel | None:
    """The warning above the alerts list, for as long as a severity reaches nobody."""
    gaps = routing_gaps()
    if not gaps:
        return None
    return Panel(
        title="Routing leads nowhere",
        template="notifications/partials/routing_gaps.html",
        context={
            "gaps": gaps,
            "can_edit": bool(request and request.user.is_staff),
            # A gap of on-call's is fixed on its pages (its app's URL exists then).
            "nobody": any(gap.reach == NOBODY for gap in gaps),
        },
    )

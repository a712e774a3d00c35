"""Why an alert was (or was not) sent: one ordered list of every decision about it.

The alerts app knows what happened to the alert itself (the rule that matched, with
its value and window; the ``for`` that elapsed; repeats folded into it; policies that
held it back, by what; escalations, acknowledgements, resolution) from its timeline.
What became of it afterwards (groups, routing rules, channels, deliveries) belongs to
the apps that decide it; they add their part with ``register_source(source)`` from an
``AppConfig.ready()``, where ``source(alert) -> list[Decision]``.

``GET /api/v1/alerts/{id}/decisions`` and the alert page read ``decisions_of(alert)``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, cast

from alerts.constants import EventKind
from alerts.models import Alert

logger = logging.getLogger(__name__)


@dataclass
class Decision:
    at: datetime | None  # None: as things stand now (the routing table, a channel)
    stage: str  # rule, policy, dedup, state, group, route, channel, delivery
    outcome: str  # a word or two: fired, held, matched, not matched, sent, not sent...
    summary: str  # one readable sentence
    channel: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


Source = Callable[[Alert], list[Decision]]
_sources: list[Source] = []


def register_source(source: Source) -> None:
    if source not in _sources:
        _sources.append(source)


_KINDS: dict[str, tuple[str, str]] = {
    EventKind.PENDING: ("rule", "pending"),
    EventKind.FIRED: ("rule", "fired"),
    EventKind.DEDUPLICATED: ("dedup", "deduplicated"),
    EventKind.ESCALATED: ("rule", "escalated"),
    EventKind.ACKNOWLEDGED: ("state", "acknowledged"),
    EventKind.RESOLVED: ("state", "resolved"),
    EventKind.EXPIRED: ("state", "expired"),
    EventKind.SUPPRESSED: ("policy", "held"),
    EventKind.SILENCED: ("policy", "held"),
    EventKind.UNSUPPRESSED: ("policy", "let go"),
    EventKind.COOLDOWN: ("policy", "cooldown"),
    EventKind.FLAPPING: ("rule", "flapping"),
}


def decisions_of(alert: Alert) -> list[Decision]:
    """Every decision about this alert, oldest first; the ones that describe how things
    stand now (routing as configured, each channel) come last."""
    found = _timeline(alert)
    for source in _sources:
        try:
            found.extend(source(alert))
        except Exception:
            # One app that cannot explain itself must not hide the rest.
            logger.exception("decision source %r failed for alert %s", source, alert.pk)
            found.append(
                Decision(None, "error", "unknown", f"{getattr(source, '__name__', source)} failed")
            )
    dated = sorted((d for d in found if d.at is not None), key=lambda d: cast(datetime, d.at))
    return dated + [d for d in found if d.at is None]


def _timeline(alert: Alert) -> list[Decision]:
    decisions = []
    events = list(alert.events.all())
    for event in events:
        stage, outcome = _KINDS.get(event.kind, ("state", event.kind))
        data = dict(event.data or {})
        if event.kind == EventKind.FIRED:
            summary = _fired(alert, data, event.reason)
        elif event.kind == EventKind.DEDUPLICATED:
            summary = (
                f"the same alert again (now seen {alert.notification_count} times): counted "
                "on the open alert, no new message"
            )
        elif event.kind in (EventKind.SUPPRESSED, EventKind.SILENCED):
            summary = f"held back by {event.actor}: {event.reason or 'no reason given'}"
        else:
            summary = event.reason or event.get_kind_display()
            if event.actor and event.actor not in ("pipeline", "evaluator"):
                summary = f"{summary} (by {event.actor})"
        decisions.append(Decision(event.created, stage, outcome, summary, data=data))
    if alert.notification_count > 1 and not any(e.kind == EventKind.DEDUPLICATED for e in events):
        decisions.append(
            Decision(
                alert.last_seen,
                "dedup",
                "deduplicated",
                f"seen {alert.notification_count} times: repeats were counted on this alert, "
                "not sent",
            )
        )
    return decisions


_UNITS = {"percent": " %", "ms": " ms", "seconds": " s"}


def _fired(alert: Alert, data: dict, reason: str) -> str:
    rule = alert.rule
    if rule is None:
        return f"raised by {alert.alert_type}: {reason or alert.title}"
    value = data.get("value", alert.value)
    metadata = alert.metadata if isinstance(alert.metadata, dict) else {}
    unit = _UNITS.get(str(metadata.get("unit") or ""), "")
    parts = [f"rule {rule.name!r} matched"]
    if isinstance(value, int | float) and rule.threshold is not None:
        parts.append(
            f"{rule.aggregation} over {rule.window_seconds} s was {value:.4g}{unit}, "
            f"{rule.get_operator_display()} {rule.threshold:g}{unit}"
        )
    if rule.for_seconds:
        parts.append(f"for {rule.for_seconds} s elapsed")
    return "; ".join(parts)

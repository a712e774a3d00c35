"""Acknowledge or resolve as a person, from outside the console's pages (a link in a
message, a Slack button, an SMS reply): the same AlertService calls as the pages, so
the timeline, the audit stream and the escalation's stop are the same."""

from __future__ import annotations

from dataclasses import dataclass

from alerts.pipeline import AlertStateError
from alerts.service import AlertService
from opsconsole.roles import Role, has_role


@dataclass
class Outcome:
    ok: bool
    detail: str


def perform(action: str, alert_id: int, person, *, via: str) -> Outcome:
    if not has_role(person, Role.RESPONDER):
        return Outcome(False, f"{person.get_username()} may not {action} alerts")
    who = person.get_username()
    try:
        if action == "acknowledge":
            AlertService().acknowledge_alert(alert_id, who, f"acknowledged from {via}")
            return Outcome(True, f"alert #{alert_id} acknowledged by {who}")
        if action == "resolve":
            AlertService().resolve_alert(alert_id, who, f"resolved from {via}")
            return Outcome(True, f"alert #{alert_id} resolved by {who}")
    except AlertStateError as exc:
        return Outcome(False, str(exc))
    return Outcome(False, f"unknown action {action!r}")

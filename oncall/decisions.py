"""The on-call part of an alert's decisions (``alerts.decisions``): each escalation it
started, every step taken with whom it reached and whom not, and how it stands now."""

from __future__ import annotations

from alerts.decisions import Decision
from oncall.models import Escalation, EscalationStatus


def decisions(alert) -> list[Decision]:
    found: list[Decision] = []
    runs = Escalation.objects.filter(alert=alert).select_related("policy", "routing_rule")
    for esc in runs.prefetch_related("steps_taken"):
        data = {"escalation_id": esc.pk, "policy": esc.policy.name}
        via = f" (routing rule {esc.routing_rule.name!r})" if esc.routing_rule else ""
        found.append(
            Decision(
                esc.started_at,
                "escalation",
                "started",
                f"escalation policy {esc.policy.name!r} started{via}",
                data=data,
            )
        )
        for step in esc.steps_taken.all():
            found.append(
                Decision(
                    step.at,
                    "escalation",
                    "nobody reached" if step.unreached and not step.reached else "step",
                    step.summary,
                    data={
                        **data,
                        "sequence": step.sequence,
                        "round": step.round + 1,
                        "reached": step.reached,
                        "unreached": step.unreached,
                    },
                )
            )
        if esc.status == EscalationStatus.ACTIVE and esc.next_step_at:
            found.append(
                Decision(
                    None,
                    "escalation",
                    "waiting",
                    f"{esc.policy.name}: next step (number {esc.next_position + 1}) at "
                    f"{esc.next_step_at:%Y-%m-%d %H:%M:%S} UTC unless acknowledged",
                    data=data,
                )
            )
        elif esc.status != EscalationStatus.ACTIVE:
            found.append(
                Decision(
                    esc.ended_at,
                    "escalation",
                    esc.status,
                    f"{esc.policy.name}: {esc.get_status_display().lower()}"
                    + (f" ({esc.ended_reason})" if esc.ended_reason else ""),
                    data=data,
                )
            )
    return found

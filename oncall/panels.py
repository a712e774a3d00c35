"""The alert page's "On call" panel: the escalations of the alert and, for the
schedules their policies name, who is on call now."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.utils import timezone

from oncall import people, schedules
from oncall.escalation import policies_for
from oncall.models import Escalation, EscalationStep
from opsconsole.panels import Panel

TEMPLATE = "oncall/partials/alert_panel.html"


def alert_panel(alert, request=None) -> Panel | None:
    runs = list(Escalation.objects.filter(alert=alert).select_related("policy"))
    policy_ids = {esc.policy_id for esc in runs}
    if not runs and alert.is_open:
        policy_ids = {policy.pk for _rule, policy in policies_for(alert)}
    if not policy_ids:
        return None
    schedule_ids = set(
        EscalationStep.objects.filter(policy__in=policy_ids, schedule__isnull=False).values_list(
            "schedule_id", flat=True
        )
    )
    now = timezone.now()
    views = schedules.load(schedule_ids, since=now)
    shifts = {pk: schedules.on_call(view, now) for pk, view in views.items()}
    ids = {s.user_id for s in shifts.values() if s}
    users = get_user_model().objects.in_bulk(ids)
    reachable = people.reachable_ids(ids)
    on_call = [
        {
            "schedule": views[pk],
            "person": users.get(s.user_id) if s else None,
            "reachable": s is not None and s.user_id in reachable,
            "until": s.end if s else None,
        }
        for pk, s in sorted(shifts.items(), key=lambda item: views[item[0]].name)
    ]
    return Panel(
        title="On call",
        template=TEMPLATE,
        context={"escalations": runs, "on_call": on_call},
    )

"""What would make a page reach nobody, said when a schedule or policy is saved: a
schedule nobody is in, people without a verified contact method, steps no escalation
can reach."""

from __future__ import annotations

from django.contrib.auth import get_user_model

from oncall import people
from oncall.models import RotationMember, Schedule


def _names(ids) -> list[str]:
    return sorted(u.get_username() for u in get_user_model().objects.filter(pk__in=set(ids)))


def schedule_problems(schedule: Schedule) -> list[str]:
    members = set(
        RotationMember.objects.filter(rotation__schedule=schedule).values_list("user_id", flat=True)
    )
    if not members:
        return [f"schedule {schedule.name!r} has nobody in any rotation"]
    unreachable = people.unreachable_ids(members)
    if unreachable:
        return [
            f"schedule {schedule.name!r}: nobody would reach {', '.join(_names(unreachable))} "
            "(no verified contact method)"
        ]
    return []

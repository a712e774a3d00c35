"""What would make a page reach nobody, said when a schedule or policy is saved: a
schedule nobody is in, people without a verified contact method, steps no escalation
can reach."""

from __future__ import annotations

from django.contrib.auth import get_user_model

from oncall import people
from oncall.models import (
    EscalationPolicy,
    EscalationStep,
    RotationMember,
    Schedule,
    StepAction,
)


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


def policy_problems(policy: EscalationPolicy) -> list[str]:
    """Everything about a policy that would page nobody or never run."""
    steps = list(policy.steps.select_related("schedule", "person", "group", "channel"))
    if not steps:
        return ["the policy has no steps: it notifies nobody"]
    problems: list[str] = []
    for index, step in enumerate(steps):
        label = f"step {index + 1}"
        if step.action == StepAction.REPEAT_FROM:
            target = step.repeat_from or 0
            if not 1 <= target <= index:
                problems.append(f"{label} repeats from step {target}, which is not before it")
            elif policy.repeat == 0:
                problems.append(f"{label} never repeats: the policy's repeat count is 0")
            for later in range(index + 1, len(steps)):
                problems.append(
                    f"step {later + 1} is unreachable: step {index + 1} repeats from step "
                    f"{target} before it, and the escalation ends there"
                )
            break
        problems.extend(f"{label}: {p}" for p in _step_problems(step))
    return problems


def _step_problems(step: EscalationStep) -> list[str]:
    if step.action in (StepAction.SCHEDULE, StepAction.NEXT_ON_CALL):
        if step.schedule is None:
            return ["no schedule chosen"]
        return schedule_problems(step.schedule)
    if step.action == StepAction.PERSON:
        if step.person is None:
            return ["no person chosen"]
        if people.unreachable_ids([step.person_id]):
            return [f"nobody would reach {step.person.get_username()} (no verified contact method)"]
        return []
    if step.action == StepAction.GROUP:
        if step.group is None:
            return ["no group chosen"]
        members = set(step.group.user_set.filter(is_active=True).values_list("pk", flat=True))
        if not members:
            return [f"group {step.group.name} has no members"]
        unreachable = people.unreachable_ids(members)
        if unreachable:
            return [
                f"group {step.group.name}: nobody would reach {', '.join(_names(unreachable))} "
                "(no verified contact method)"
            ]
        return []
    if step.action == StepAction.CHANNEL:
        if step.channel is None:
            return ["no channel chosen"]
        return [] if step.channel.enabled else [f"channel {step.channel.name} is disabled"]
    return []


def refresh(policy: EscalationPolicy) -> list[str]:
    """Lint the policy and store what was found (shown wherever the policy is)."""
    problems = policy_problems(policy)
    EscalationPolicy.objects.filter(pk=policy.pk).update(problems=problems)
    policy.problems = problems
    return problems

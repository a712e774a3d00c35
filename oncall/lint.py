"""What would make a page reach nobody, said when a schedule or policy is saved: a
schedule nobody is in, people without a verified contact method, steps no escalation
can reach.

``people_check`` answers the routing gaps (``notifications.gaps``) for the on-call
app: whether the policies that a severity's routing rules name would page anyone at
all, that is someone with a verified contact method an enabled channel sends to (or
an enabled channel of a "notify a channel" step).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.contrib.auth import get_user_model

from notifications.gaps import PeopleCheck, PeopleReach
from notifications.models import NotificationChannel, RoutingRule
from oncall import people
from oncall.escalation import policy_table
from oncall.models import (
    CHANNEL_KIND,
    ContactKind,
    ContactMethod,
    EscalationPolicy,
    EscalationStep,
    RotationMember,
    Schedule,
    StepAction,
)


def _names(ids: Iterable[int]) -> list[str]:
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


# -- whom a severity's routing pages (the routing gaps' people check) ----------------------
def usable_ids(user_ids: Iterable[int]) -> set[int]:
    """Which of these (active) people a page would reach: a verified contact method
    that an enabled channel sends to (its own channel, else one of its kind)."""
    enabled = dict(NotificationChannel.objects.filter(enabled=True).values_list("pk", "kind"))
    kinds = set(enabled.values())
    methods = ContactMethod.objects.filter(
        user_id__in=set(user_ids), user__is_active=True, verified_at__isnull=False
    ).values_list("user_id", "kind", "channel_id")
    usable = set()
    for user_id, kind, channel_id in methods:
        wanted = CHANNEL_KIND[ContactKind(kind)]
        if enabled.get(channel_id) == wanted if channel_id else wanted in kinds:
            usable.add(user_id)
    return usable


def _step_people(step: EscalationStep) -> tuple[set[int], str]:
    """(the people a step may page, what it names) for the steps that page people."""
    if step.action in (StepAction.SCHEDULE, StepAction.NEXT_ON_CALL):
        if step.schedule is None:
            return set(), "no schedule chosen"
        members = RotationMember.objects.filter(rotation__schedule=step.schedule)
        return set(members.values_list("user_id", flat=True)), f"schedule {step.schedule.name!r}"
    if step.action == StepAction.PERSON:
        if step.person is None:
            return set(), "no person chosen"
        return {step.person.pk}, step.person.get_username()
    if step.group is None:
        return set(), "no group chosen"
    in_group = step.group.user_set.values_list("pk", flat=True)
    return set(in_group), f"group {step.group.name}"


def _nobody_in(ids: set[int], what: str) -> str:
    if not ids:
        return what if what.startswith("no ") else f"{what} has nobody in it"
    return (
        f"{what}: nobody can reach {', '.join(_names(ids))} "
        "(no verified contact method that an enabled channel sends to)"
    )


def policy_reach(policy: EscalationPolicy) -> str:
    """Why the policy pages nobody: "" when some step would page someone."""
    steps = list(policy.steps.select_related("schedule", "person", "group", "channel"))
    if not steps:
        return f"policy {policy.name!r} has no steps"
    why = []
    for index, step in enumerate(steps):
        if step.action == StepAction.REPEAT_FROM:
            break  # the steps after it are never taken; those before it were read
        if step.action == StepAction.CHANNEL:
            if step.channel is not None and step.channel.enabled:
                return ""
            what = (
                f"channel {step.channel.name} is disabled" if step.channel else "no channel chosen"
            )
        else:
            ids, named = _step_people(step)
            if usable_ids(ids):
                return ""
            what = _nobody_in(ids, named)
        why.append(f"step {index + 1}: {what}")
    return f"policy {policy.name!r} pages nobody ({'; '.join(why)})"


def people_check() -> PeopleCheck:
    """The routing gaps' check for one look: each policy is read once."""
    by_rule = policy_table()
    reach: dict[int, str] = {}

    def check(rules: Sequence[RoutingRule]) -> PeopleReach | None:
        policies = {p.pk: p for rule in rules for p in by_rule.get(rule.pk, [])}
        if not policies:
            return None
        for pk, policy in policies.items():
            if pk not in reach:
                reach[pk] = policy_reach(policy)
        whys = [reach[pk] for pk in sorted(policies)]
        if not all(whys):
            return PeopleReach(reaches=True)
        return PeopleReach(reaches=False, why="; ".join(whys))

    return check

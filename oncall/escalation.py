"""Escalations: an alert that a routing rule takes is escalated by the rule's policies,
step by step, until someone acknowledges it (the escalation stops), it resolves (it
ends) or the policy runs out of steps and repeats.

State lives in ``Escalation`` rows (next step, round, when), so an escalation survives
restarts and worker deaths. The ticker asks every ``ONCALL_TICK_SECONDS`` whether a
step is due (one indexed query, ``escalation_due``) and a task takes the due ones; the
first step of a new escalation is also taken right after the alert's commit, so
"notify at once" does not wait for a tick.

Each step is taken exactly once. Taking one is a single transaction that locks the
escalation's row (skipping rows another process holds), re-checks that the step is
still due, writes the step's messages to the outbox, its ``StepTaken`` record (unique
per escalation and sequence number) and its timeline entry, and moves the escalation
on with an UPDATE conditional on the sequence it read. A process killed before its
commit leaves nothing behind and the step is taken by the next tick; one killed after
it has taken the step, which no later tick takes again.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.utils import timezone

from alerts.constants import EventKind, Status
from alerts.models import Alert, AlertEvent
from alerts.pipeline import ALERTS_GROUP
from notifications.models import Notification, Transition
from notifications.outbox import insert, listed, schedule_delivery, urgency_of
from notifications.table import matches, routing_table
from oncall import people, schedules
from oncall.models import (
    Escalation,
    EscalationPolicy,
    EscalationStatus,
    EscalationStep,
    StepAction,
    StepTaken,
)
from opsconsole.live import publish_now

logger = logging.getLogger(__name__)

ACTOR = "escalation"
# Escalations one task takes at most; the rest wait for the next tick.
BATCH = 200


# -- starting and stopping, inside the alert's transaction -----------------------------------
def on_transition(sender, *, alert, event, **kwargs) -> None:
    """The ``alert_transition`` receiver: start, stop or hold escalations."""
    kind = event.kind
    if kind in (EventKind.FIRED, EventKind.UNSUPPRESSED, EventKind.ESCALATED):
        if alert.status == Status.SUPPRESSED or (event.data or {}).get("held_by"):
            return  # held back by a policy: escalated once it is let go
        start(alert)
    elif kind == EventKind.ACKNOWLEDGED:
        stop(alert, EscalationStatus.ACKNOWLEDGED, f"acknowledged by {event.actor}")
    elif kind in (EventKind.RESOLVED, EventKind.EXPIRED):
        stop(alert, EscalationStatus.RESOLVED, f"alert {kind}")
    elif kind in (EventKind.SUPPRESSED, EventKind.SILENCED):
        stop(alert, EscalationStatus.HELD, "alert held back", only_active=True)


def policies_for(alert) -> list[tuple[int, EscalationPolicy]]:
    """(routing rule id, policy) for every enabled routing rule that takes the alert and
    names a policy. An alert that names its own channels goes only to them."""
    metadata = alert.metadata if isinstance(alert.metadata, dict) else {}
    if listed(metadata.get("notification_channels")) is not None:
        return []
    _enabled, rules = routing_table()
    by_rule = policy_table()
    if not by_rule:
        return []
    found: dict[int, tuple[int, EscalationPolicy]] = {}
    for rule, _ids in sorted(rules, key=lambda pair: pair[0].pk):
        if rule.pk in by_rule and not matches(rule, alert):
            for policy in by_rule[rule.pk]:
                found.setdefault(policy.pk, (rule.pk, policy))
    return list(found.values())


# Which policies each routing rule names, kept per process like the routing table (a
# storm fires hundreds of alerts a second; policies change a few times a week). An
# edit in this process drops the copy at once; another's is at most
# CONFIG_CACHE_SECONDS old.
_policy_lock = threading.Lock()
_policies: tuple[float, dict[int, list[EscalationPolicy]]] | None = None


def policy_table() -> dict[int, list[EscalationPolicy]]:
    global _policies
    now = time.monotonic()
    with _policy_lock:
        table = _policies
    if table is not None and now - table[0] < settings.CONFIG_CACHE_SECONDS:
        return table[1]
    by_rule: dict[int, list[EscalationPolicy]] = {}
    links = EscalationPolicy.routing_rules.through.objects.select_related("escalationpolicy")
    for link in links.order_by("routingrule_id", "escalationpolicy_id"):
        by_rule.setdefault(link.routingrule_id, []).append(link.escalationpolicy)
    with _policy_lock:
        _policies = (now, by_rule)
    return by_rule


def forget_policy_table(**kwargs) -> None:
    global _policies
    with _policy_lock:
        _policies = None


post_save.connect(forget_policy_table, sender=EscalationPolicy, dispatch_uid="oncall.policy.saved")
post_delete.connect(
    forget_policy_table, sender=EscalationPolicy, dispatch_uid="oncall.policy.deleted"
)
m2m_changed.connect(
    forget_policy_table,
    sender=EscalationPolicy.routing_rules.through,
    dispatch_uid="oncall.policy.rules",
)


def start(alert, now: datetime | None = None) -> list[int]:
    """Escalations for this alert under its routing rules' policies (one per policy);
    one that a hold paused starts over. Their first steps are taken after commit."""
    now = now or timezone.now()
    ids = []
    for rule_id, policy in policies_for(alert):
        esc, created = Escalation.objects.get_or_create(
            alert=alert,
            policy=policy,
            defaults={"routing_rule_id": rule_id, "started_at": now, "next_step_at": now},
        )
        if created:
            ids.append(esc.pk)
        elif esc.status == EscalationStatus.HELD:
            Escalation.objects.filter(pk=esc.pk, status=EscalationStatus.HELD).update(
                status=EscalationStatus.ACTIVE,
                next_position=0,
                round=0,
                next_step_at=now,
                ended_at=None,
                ended_reason="",
            )
            ids.append(esc.pk)
    if ids:
        transaction.on_commit(lambda: _take_soon(ids))
    return ids


def _take_soon(ids: list[int]) -> None:
    for pk in ids:
        try:
            take_step(pk)
        except Exception:  # the ticker takes it on its next round
            logger.exception("taking the first step of escalation %s failed", pk)


def stop(alert, status: str, reason: str, *, only_active: bool = False) -> int:
    running = Escalation.objects.filter(alert=alert, status=EscalationStatus.ACTIVE)
    if not only_active:
        running = Escalation.objects.filter(
            alert=alert, status__in=(EscalationStatus.ACTIVE, EscalationStatus.HELD)
        )
    return running.update(
        status=status, next_step_at=None, ended_at=timezone.now(), ended_reason=reason[:200]
    )


# -- taking steps -----------------------------------------------------------------------------
def due(now: datetime):
    """Running escalations whose next step is due (served by escalation_due)."""
    return Escalation.objects.filter(status=EscalationStatus.ACTIVE, next_step_at__lte=now)


def due_args() -> tuple | None:
    """The ticker's question: anything due? (None: enqueue nothing this time.)"""
    return () if due(timezone.now()).exists() else None


def tick(now: datetime | None = None) -> int:
    """Take every due step (up to BATCH escalations); how many steps were taken."""
    now = now or timezone.now()
    ids = list(due(now).order_by("next_step_at").values_list("pk", flat=True)[:BATCH])
    # Schedules and channels read once per tick, not once per step.
    cache = Cache()
    return sum(1 for pk in ids if take_step(pk, now, cache) is not None)


class Cache:
    """What the steps of one tick share: schedule views, each method's channel."""

    def __init__(self) -> None:
        self.views: dict[int, schedules.ScheduleView | None] = {}
        self.channels: dict[int, object] = {}
        self.steps: dict[int, list[EscalationStep]] = {}

    def policy_steps(self, policy: EscalationPolicy) -> list[EscalationStep]:
        if policy.pk not in self.steps:
            steps = list(policy.steps.select_related("schedule", "person", "group", "channel"))
            for index, step in enumerate(steps):
                # A step's number is its place in the policy, whatever its stored position.
                step.position_index, step.position_label = index, str(index + 1)
            self.steps[policy.pk] = steps
        return self.steps[policy.pk]

    def view(self, schedule_id: int, now: datetime):
        if schedule_id not in self.views:
            self.views[schedule_id] = schedules.load_one(schedule_id, since=now)
        return self.views[schedule_id]


def take_step(
    escalation_id: int, now: datetime | None = None, cache: Cache | None = None
) -> StepTaken | None:
    """Take this escalation's due step, once; None when it is not due (or another
    process holds it)."""
    now = now or timezone.now()
    try:
        return _take_locked(escalation_id, now, cache or Cache())
    except StepRace:
        return None


def _take_locked(escalation_id: int, now: datetime, cache: Cache) -> StepTaken | None:
    with transaction.atomic():
        rows = Escalation.objects.select_related("alert", "policy").filter(
            pk=escalation_id, status=EscalationStatus.ACTIVE, next_step_at__lte=now
        )
        if connection.vendor == "postgresql":
            # Another process taking this escalation holds the row: leave it to them.
            rows = rows.select_for_update(skip_locked=True, of=("self",))
        esc = rows.first()
        if esc is None:
            return None
        return _take(esc, now, cache)


def _take(esc: Escalation, now: datetime, cache: Cache) -> StepTaken | None:
    alert, policy = esc.alert, esc.policy
    esc.read_taken = esc.taken
    if alert.status != Status.ACTIVE:
        # An acknowledgement or resolution whose stop this row missed (it was written
        # by an older process, or before the escalation existed).
        status = (
            EscalationStatus.ACKNOWLEDGED
            if alert.status == Status.ACKNOWLEDGED
            else EscalationStatus.HELD
            if alert.status == Status.SUPPRESSED
            else EscalationStatus.RESOLVED
        )
        _move(
            esc,
            status=status,
            next_step_at=None,
            ended_at=now,
            ended_reason=f"alert {alert.status}",
        )
        return None
    steps = cache.policy_steps(policy)
    taken: StepTaken | None = None
    for _hop in range(len(steps) + 2):
        if esc.next_position >= len(steps):
            if steps and esc.round < policy.repeat:
                esc.round += 1
                esc.next_position = 0
                continue
            reason = "no steps" if not steps else f"every step taken ({esc.round + 1} round(s))"
            return _end(esc, now, None, reason)
        step = steps[esc.next_position]
        if step.action == StepAction.REPEAT_FROM:
            target = (step.repeat_from or 1) - 1
            if esc.round < policy.repeat and 0 <= target < esc.next_position:
                esc.round += 1
                _record(
                    esc,
                    now,
                    step,
                    f"step {step.position_label}: repeat from step {target + 1} "
                    f"(round {esc.round + 1} of {policy.repeat + 1})",
                    [],
                    [],
                )
                esc.next_position = target
                continue
            return _end(esc, now, step, f"step {step.position_label}: repeats used up")
        reached, unreached, summary = _notify(esc, step, alert, now, cache)
        taken = _record(esc, now, step, summary, reached, unreached)
        _move(
            esc,
            next_position=esc.next_position + 1,
            round=esc.round,
            next_step_at=now + timedelta(minutes=step.wait_minutes),
        )
        return taken
    return taken


def _end(esc: Escalation, now: datetime, step, reason: str) -> StepTaken:
    """The policy has nothing more to do: recorded like a step, and the escalation ends."""
    taken = _record(esc, now, step, f"escalation ended: {reason}", [], [])
    _move(
        esc,
        status=EscalationStatus.EXHAUSTED,
        next_step_at=None,
        ended_at=now,
        ended_reason=reason,
    )
    return taken


def _move(esc: Escalation, **fields) -> None:
    """Move the escalation on, only from the state this transaction read: a second
    taker that got past the lock (SQLite has none) rolls back here."""
    fields.setdefault("next_position", esc.next_position)
    fields.setdefault("round", esc.round)
    moved = Escalation.objects.filter(pk=esc.pk, taken=esc.read_taken).update(
        taken=esc.taken, **fields
    )
    if moved != 1:
        raise StepRace(f"escalation {esc.pk} was moved on by another process")


class StepRace(Exception):
    pass


def _record(esc, now, step, summary, reached, unreached) -> StepTaken:
    sequence = esc.taken
    esc.taken += 1
    record = StepTaken.objects.create(
        escalation=esc,
        sequence=sequence,
        position=step.position_index if step is not None else esc.next_position,
        round=esc.round,
        action=step.action if step is not None else "",
        summary=summary,
        reached=reached,
        unreached=unreached,
        at=now,
    )
    event = AlertEvent.objects.create(
        alert_id=esc.alert_id,
        rule_id=esc.alert.rule_id,
        kind=EventKind.NOTE,
        actor=ACTOR,
        reason=f"{esc.policy.name}: {summary}",
        data={
            "escalation": esc.pk,
            "policy": esc.policy.name,
            "sequence": sequence,
            "step": (step.position_index + 1) if step is not None else None,
            "round": esc.round + 1,
            "reached": reached,
            "unreached": unreached,
        },
    )
    alert = esc.alert
    transaction.on_commit(
        lambda: publish_now(
            ALERTS_GROUP,
            {
                "type": "alert.changed",
                "alert_id": alert.pk,
                "event_id": event.pk,
                "status": alert.status,
                "severity": alert.severity,
                "count": alert.notification_count,
            },
        )
    )
    return record


def _notify(esc: Escalation, step: EscalationStep, alert: Alert, now: datetime, cache: Cache):
    """Write the step's messages; (reached, unreached, summary)."""
    label = f"step {step.position_label}"
    key = f"esc{esc.pk}:{esc.taken}"
    context = {"escalation": esc.pk, "step": step.position_index + 1}
    if step.action == StepAction.CHANNEL:
        channel = step.channel
        assert channel is not None  # EscalationStep.clean(): a channel step names one
        if not channel.enabled:
            return [], [f"channel {channel.name}"], f"{label}: channel {channel.name} is disabled"
        ids = insert(
            [
                Notification(
                    alert=alert,
                    channel=channel,
                    transition=Transition.FIRING,
                    idempotency_key=f"{key}:c{channel.pk}",
                    next_attempt_at=now,
                    enqueued_at=now,
                    context={"severity": alert.severity, **context},
                    urgency=urgency_of(alert.severity),
                )
            ],
            now,
        )
        if ids:
            schedule_delivery(ids)
        return [f"channel {channel.name}"], [], f"{label}: notified channel {channel.name}"
    targets, who = _targets(step, now, cache)
    if not targets:
        return [], [who], f"{label}: nobody to notify ({who})"
    pages = [
        people.plan_page(user, alert, key=key, now=now, context=context, channels=cache.channels)
        for user in targets
    ]
    people.write_pages(pages, now)
    reached = [_name(u) for u, p in zip(targets, pages, strict=True) if p.reached]
    unreached = [p.problem for p in pages if not p.reached]
    summary = f"{label}: {who}"
    if reached:
        summary += f": paged {', '.join(reached)}"
    if unreached:
        summary += f"; nobody would be reached: {'; '.join(unreached)}"
    return reached, unreached, summary


def _targets(step: EscalationStep, now: datetime, cache: Cache):
    """(people to page, what the step names)."""
    users = get_user_model().objects.filter(is_active=True)
    # EscalationStep.clean(): each of these actions names what it notifies.
    if step.action in (StepAction.SCHEDULE, StepAction.NEXT_ON_CALL):
        assert step.schedule_id is not None and step.schedule is not None
        view = cache.view(step.schedule_id, now)
        if step.action == StepAction.SCHEDULE:
            shift = schedules.on_call(view, now)
            who = f"on call in {step.schedule.name}"
        else:
            change = schedules.next_change(view, now)
            shift = change[1] if change else None
            who = f"next on call in {step.schedule.name}"
        if shift is None:
            return [], f"nobody is {who}"
        return list(users.filter(pk=shift.user_id)), who
    if step.action == StepAction.PERSON:
        assert step.person is not None
        return list(users.filter(pk=step.person.pk)), _name(step.person)
    if step.action == StepAction.GROUP:
        assert step.group is not None
        return list(users.filter(groups=step.group_id).order_by("username")), (
            f"every member of {step.group.name}"
        )
    return [], step.action


def _name(user) -> str:
    return user.get_full_name() or user.get_username()

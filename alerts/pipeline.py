"""The one alert pipeline: every source raises, clears and moves alerts here.

The rule evaluator, health checks, the latency monitor, application errors, the
database watch, the delivery lane's channel alerts, ``AlertService`` (seed 001),
``send_alert`` (seed 000), ``POST /api/v1/alerts`` and the inbound integrations
(``alerts.integrations``) all call ``raise_alert(spec)``;
each step happens in one place, in one order:

1. **normalise**: severity aliases (``high`` is error), the category, labels as text;
2. **fingerprint**: type, resource and labels (``spec.fingerprint_of``), or the
   source's own name for the problem (Alertmanager's fingerprint);
3. **deduplicate**: the open alert with that fingerprint counts a repeat (a partial
   unique index keeps it to one open alert even when two workers fire at once);
4. **policies** (``alerts.policies``): a silence, an inhibition or a dependency that
   holds the alert back stores it as suppressed, with the reason on its timeline, and
   sends nothing;
5. **lifecycle**: opened, escalated, back from a suppression that ended, or counted;
6. **timeline**: an ``AlertEvent`` for each decision, with its reason;
7. **hand-off**: ``alert_transition`` inside the transaction (the notifications app
   writes its outbox rows there, so a change and its messages commit together), then
   ``alert_fired`` / ``alert_changed`` and the live update after commit.

``clear_alert`` is "resolve my open alert, it cleared", for every source;
``transition`` moves an alert through acknowledge, resolve, suppress and expire;
``reapply_policies`` (each evaluation pass) lets held-back alerts go when their policy
ends and holds back open ones a new silence or a newly open inhibiting alert covers; an
inhibiting alert that closes lets its targets go right after its commit.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, connections, router, transaction
from django.db.models import BigIntegerField, F, Value
from django.db.models.functions import Cast, Least
from django.utils import timezone

from alerts import broadcast, inhibition, policies
from alerts.constants import (
    INHIBITION_ACTOR,
    OPEN_STATUSES,
    SEVERITY_RANK,
    EventKind,
    Severity,
    Status,
    parse_category,
)
from alerts.models import Alert, AlertEvent
from alerts.signals import alert_changed, alert_fired, alert_transition
from alerts.spec import AlertSpec, fingerprint_of
from opsconsole.inputguard import INT32_MAX
from opsconsole.live import publish_now
from opsconsole.prepared import NO_FLUSH_WAIT, server_cursor

logger = logging.getLogger(__name__)

ALERTS_GROUP = "alerts"
_REPEAT_FIELDS = (
    "id",
    "fingerprint",
    "title",
    "message",
    "severity",
    "status",
    "resource",
    "notification_count",
    "error_count",
    "affected_users",
    "value",
    "last_seen",
    "suppressed_until",
    "suppressed_by",
    "rule",
)
# Repeats of an open alert are counted on the alert; the timeline notes the first one
# and any that comes after this long a quiet spell.
DEDUP_EVENT_EVERY = timedelta(minutes=1)
# Open pages learn of a plain repeat (its new "last seen") at most this often.
LIVE_REPEAT_EVERY = timedelta(seconds=10)


class AlertStateError(ValueError):
    """The alert cannot make that transition (e.g. acknowledging a resolved alert)."""


# -- raising ---------------------------------------------------------------------------------
def raise_alert(spec: AlertSpec, *, actor: str = "system", at: datetime | None = None) -> Alert:
    """Open a new alert, or count a repeat of the open one with the same fingerprint.

    ``at``: when the source saw the problem (the evaluator's pass time); policies are
    judged at that moment. Stored times are the clock's.
    """
    severity = spec.severity
    category = parse_category(spec.category)
    if not spec.alert_type or not spec.title:
        raise ValueError("an alert needs an alert_type and a title")
    labels = _normal_labels(spec.labels)
    fingerprint = spec.fingerprint or fingerprint_of(spec.alert_type, spec.resource, labels)
    now = timezone.now()
    at = at or now
    counted = _count_plain_repeat(fingerprint, spec, severity, now, actor)
    if counted is not None:
        return counted
    with transaction.atomic():
        existing = _open(fingerprint)
        if existing is not None:
            return _repeat(existing, spec, severity, now, at, actor)
        fields = {**policies.fields_of(spec), "category": category}
        hold = policies.hold_for(fields, at)
        try:
            # A savepoint: if another process opens this fingerprint first, the
            # unique constraint stops us and we count a repeat of theirs instead.
            with transaction.atomic():
                record = Alert.objects.create(
                    fingerprint=fingerprint,
                    alert_type=spec.alert_type,
                    title=spec.title[:300],
                    message=spec.message,
                    severity=severity,
                    category=category,
                    resource=spec.resource,
                    labels=labels,
                    metadata=_metadata(spec),
                    recommendations=list(spec.recommendations)
                    or (spec.recommend() if spec.recommend else []),
                    stack_trace=spec.stack_trace,
                    related_logs=spec.related_logs,
                    affected_users=spec.affected_users,
                    error_count=spec.error_count,
                    value=spec.value,
                    threshold=spec.threshold,
                    first_seen=min(spec.started_at, now) if spec.started_at else now,
                    last_seen=now,
                    expires_at=now + spec.expires_in if spec.expires_in else None,
                    rule=spec.rule,
                    **(_held_fields(hold, now) if hold else {}),
                )
        except IntegrityError:
            existing = _open(fingerprint)
            if existing is None:
                raise
            return _repeat(existing, spec, severity, now, at, actor)
        if hold is None or hold.actor != INHIBITION_ACTOR:
            # Open and not inhibited: it may inhibit alerts raised after it.
            inhibition.note_opened(record, fields)
        data = {"held_by": hold.actor} if hold else None
        event = _event(record, EventKind.FIRED, actor, spec.message, data)
        if hold is not None:
            event = _event(record, EventKind.SILENCED, hold.actor, hold.reason, _hold_data(hold))
        transaction.on_commit(lambda: _announce(record, event, fired=True))
    return record


def clear_alert(
    alert_type: str,
    resource: str,
    labels: dict | None = None,
    *,
    actor: str,
    note: str = "",
    data: dict | None = None,
    fingerprint: str | None = None,
    at: datetime | None = None,
) -> Alert | None:
    """Resolve the open alert of this problem because it cleared, if there is one.

    Acknowledged, suppressed and held-back alerts resolve too: the problem is gone.
    ``fingerprint``: the one the source raised it with (``AlertSpec.fingerprint``);
    ``at``: when it cleared, if the source says (else now). Returns the resolved alert,
    or None when none was open (or someone resolved it meanwhile).
    """
    fingerprint = fingerprint or fingerprint_of(alert_type, resource, _normal_labels(labels or {}))
    alert_id = (
        Alert.objects.filter(fingerprint=fingerprint, status__in=OPEN_STATUSES)
        .values_list("pk", flat=True)
        .first()
    )
    if alert_id is None:
        return None
    try:
        return resolve(alert_id, actor, note, data=data, at=at)
    except AlertStateError:
        return None  # resolved meanwhile


def open_alert(alert_type: str, resource: str, labels: dict | None = None) -> Alert | None:
    """The open alert of this problem, if any: at most one, by the fingerprint's partial
    unique index."""
    return Alert.objects.filter(
        fingerprint=fingerprint_of(alert_type, resource, _normal_labels(labels or {})),
        status__in=OPEN_STATUSES,
    ).first()


# -- lifecycle ---------------------------------------------------------------------------------
def transition(
    alert_id: int,
    check: Callable[[Alert], None],
    changes: dict[str, Any],
    kind: EventKind,
    actor: str,
    reason: str = "",
    data: dict | None = None,
) -> Alert:
    """Lock the alert, let ``check`` refuse the change, apply it, and write it to the
    timeline; the change is announced after commit."""
    with transaction.atomic():
        alert = _locked(alert_id)
        check(alert)
        for name, value in changes.items():
            setattr(alert, name, value)
        alert.save(update_fields=list(changes))
        event = _event(alert, kind, actor, reason, data)
        transaction.on_commit(lambda: _announce(alert, event))
        if not alert.is_open:
            _source_closed(alert.pk)
        elif alert.status == Status.SUPPRESSED and alert.suppressed_by == INHIBITION_ACTOR:
            inhibition.note_closed(alert.pk)  # an inhibited alert inhibits nothing
    return alert


def allowing(action: str) -> Callable[[Alert], None]:
    """A ``transition`` check from the alert's own table (``Alert.refusal``)."""

    def check(alert: Alert) -> None:
        if (refusal := alert.refusal(action)) is not None:
            raise AlertStateError(refusal)

    return check


def resolve(
    alert_id: int,
    actor: str,
    note: str = "",
    *,
    data: dict | None = None,
    at: datetime | None = None,
):
    return transition(
        alert_id,
        allowing("resolve"),
        {
            "status": Status.RESOLVED,
            "resolved_by": actor,
            "resolved_at": at or timezone.now(),
            "resolution_notes": note,
        },
        EventKind.RESOLVED,
        actor,
        note,
        data,
    )


# -- policies over time ------------------------------------------------------------------------
def reapply_policies(now: datetime | None = None) -> dict[str, int]:
    """Hold back and let go, now that time has passed.

    - A suppressed alert whose suppression ended (an operator's, at its end time) or
      whose policy no longer holds (the silence ended or was deleted, the inhibiting
      alert closed, the parent is up again) becomes active: it is still open, so the
      problem persists, and it is sent. One still held for another reason (another
      inhibiting alert) says so on its timeline.
    - An active alert that a silence in force covers (one made after it fired, or a
      weekly window that opened), or that an open alert now inhibits, is held back;
      its waiting messages are dropped.

    The open inhibiting alerts are read once for the pass (``inhibition.Index``) and
    kept current as the pass holds and lets go.
    """
    now = now or timezone.now()
    index = inhibition.refreshed_index()
    suppressed = (
        Alert.objects.filter(status=Status.SUPPRESSED)
        .select_related("rule")
        .only(*_POLICY_FIELDS, "suppressed_by", "suppressed_until", "suppressed_reason")
        .order_by("id")
    )
    released = _reconsider(suppressed, index, now)
    held = 0
    if index or policies.any_silence_in_force(now):
        active = (
            Alert.objects.filter(status=Status.ACTIVE)
            .select_related("rule")
            .only(*_POLICY_FIELDS)
            .order_by("id")
        )
        held = _hold_active(active, index, now)
    return {"released": released, "held": held}


# What the policies read of a stored alert (its rule's kind in the same query).
_POLICY_FIELDS = inhibition.SOURCE_FIELDS


def _reconsider(alerts, index: inhibition.Index, now: datetime) -> int:
    """Let go the held or suppressed alerts no policy holds any more; return how many."""
    released = 0
    for alert in alerts:
        # One alert that cannot be moved (bad metadata, a receiver that fails) must not
        # keep every alert after it held back.
        try:
            fields = policies.fields_of(alert)
            hold = policies.hold_for(fields, now, alert_id=alert.pk, inhibitions=index)
            if alert.suppressed_by in policies.POLICY_ACTORS:
                if hold is not None:
                    if (hold.actor, hold.reason) != (alert.suppressed_by, alert.suppressed_reason):
                        # Held for another reason now (its inhibiting alert closed but
                        # another holds it): the page and the timeline say which.
                        _hold(alert.pk, hold, Status.SUPPRESSED)
                        _index_moved(index, alert, fields, alert.suppressed_by, hold.actor)
                    continue  # still held back
                reason = f"no longer held back (the {alert.suppressed_by} ended); still open"
                moved = _release(alert.pk, reason)
            elif alert.suppressed_until is not None and alert.suppressed_until <= now:
                # An operator's suppression ran out inside a silence or while the parent
                # is down: the policy takes over rather than paging now.
                moved = (
                    _hold(alert.pk, hold, Status.SUPPRESSED)
                    if hold is not None
                    else _release(alert.pk, "suppression ended; still open")
                )
            else:
                continue
        except Exception:
            logger.exception("could not re-apply the policies to alert #%s", alert.pk)
            continue
        if moved and hold is None:
            released += 1
            if alert.suppressed_by == INHIBITION_ACTOR:
                index.add(alert.pk, alert.title, fields)  # a source again
    return released


def _hold_active(alerts, index: inhibition.Index, now: datetime) -> int:
    """Hold back the active alerts a silence or an open alert now covers.

    Decided in two rounds: an alert about to be inhibited stops counting as a source
    at once, and each inhibition is asked again once all are known, so an alert whose
    inhibitor turned out to be inhibited itself is not held (and later paged again)."""
    planned = []
    for alert in alerts:
        try:
            fields = policies.fields_of(alert)
            hold = policies.hold_for(fields, now, alert_id=alert.pk, inhibitions=index)
        except Exception:
            logger.exception("could not hold back alert #%s", alert.pk)
            continue
        if hold is not None and hold.actor in (policies.SILENCE_ACTOR, INHIBITION_ACTOR):
            planned.append((alert, fields, hold))
            if hold.actor == INHIBITION_ACTOR:
                index.drop(alert.pk)
    held = 0
    for alert, fields, hold in planned:
        try:
            if hold.actor == INHIBITION_ACTOR:
                hold = policies.hold_for(fields, now, alert_id=alert.pk, inhibitions=index)
                if hold is None or hold.actor not in (policies.SILENCE_ACTOR, INHIBITION_ACTOR):
                    index.add(alert.pk, alert.title, fields)
                    continue
            held += _hold(alert.pk, hold, Status.ACTIVE)
        except Exception:
            logger.exception("could not hold back alert #%s", alert.pk)
    return held


def _index_moved(index, alert, fields, old_actor: str, new_actor: str) -> None:
    if old_actor == INHIBITION_ACTOR and new_actor != INHIBITION_ACTOR:
        index.add(alert.pk, alert.title, fields)
    elif new_actor == INHIBITION_ACTOR:
        index.drop(alert.pk)


def release_inhibited(now: datetime | None = None) -> int:
    """Let go the alerts an inhibition holds whose inhibiting alert closed; run right
    after an alert closes, so its targets need not wait for the next pass."""
    inhibited = list(
        Alert.objects.filter(status=Status.SUPPRESSED, suppressed_by=INHIBITION_ACTOR)
        .select_related("rule")
        .only(*_POLICY_FIELDS, "suppressed_by", "suppressed_until", "suppressed_reason")
        .order_by("id")
    )
    if not inhibited:
        return 0
    return _reconsider(inhibited, inhibition.refreshed_index(), now or timezone.now())


def _release_after_commit() -> None:
    release_inhibited()


def _source_closed(alert_id: int) -> None:
    """An alert closed: it inhibits nothing from now on. Its targets are let go after
    the commit, each in its own transaction (not in the closing one: a resolve must not
    wait on, or roll back with, the alerts it held), once per transaction however many
    alerts it closes; if the process dies first, the next pass lets them go."""
    inhibition.note_closed(alert_id)
    connection = connections[router.db_for_write(Alert)]
    # (savepoints, func, robust): django-stubs still declares the pairs of Django < 4.2.
    if any(entry[1] is _release_after_commit for entry in connection.run_on_commit):
        return
    transaction.on_commit(_release_after_commit, robust=True)


def _release(alert_id: int, reason: str) -> bool:
    changes = {"status": Status.ACTIVE, "suppressed_until": None, "inhibited_by": None}
    return _move(alert_id, Status.SUPPRESSED, changes, EventKind.UNSUPPRESSED, "pipeline", reason)


def _hold(alert_id: int, hold: policies.Hold, status: str) -> bool:
    changes = _held_fields(hold, timezone.now())
    kind, data = EventKind.SILENCED, _hold_data(hold)
    return _move(alert_id, status, changes, kind, hold.actor, hold.reason, data)


def _move(alert_id: int, status: str, changes: dict, kind, actor, reason, data=None) -> bool:
    """``transition`` from ``status`` only: False when the alert moved on meanwhile."""

    def check(alert: Alert) -> None:
        if alert.status != status:
            raise AlertStateError(f"alert #{alert.pk} is {alert.status}")

    try:
        transition(alert_id, check, changes, kind, actor, reason, data)
    except (AlertStateError, Alert.DoesNotExist):
        return False
    return True


def _held_fields(hold: policies.Hold, now: datetime) -> dict[str, Any]:
    return {
        "status": Status.SUPPRESSED,
        "suppressed_by": hold.actor,
        "suppressed_at": now,
        "suppressed_reason": hold.reason,
        "suppressed_until": hold.until,
        "inhibited_by_id": hold.inhibited_by,
    }


def _hold_data(hold: policies.Hold) -> dict:
    data: dict[str, Any] = {"policy": hold.actor}
    if hold.silence_id is not None:
        data["silence_id"] = hold.silence_id
    if hold.inhibited_by is not None:
        data.update(
            inhibited_by=hold.inhibited_by,
            source_title=hold.source_title,
            rule=hold.rule_id,
            rule_name=hold.rule_name,
        )
    if hold.until is not None:
        data["until"] = hold.until.isoformat()
    return data


# -- internals ---------------------------------------------------------------------------------
def _normal_labels(labels: dict | None) -> dict[str, str]:
    """Labels as text: matchers, routing and fingerprints compare strings."""
    if not labels:
        return {}
    if all(type(k) is str and type(v) is str for k, v in labels.items()):
        return labels
    return {str(k): v if isinstance(v, str) else str(v) for k, v in labels.items()}


def _metadata(spec: AlertSpec) -> dict:
    metadata = dict(spec.metadata)
    if spec.notification_channels is not None:
        metadata["notification_channels"] = [
            getattr(channel, "value", str(channel)) for channel in spec.notification_channels
        ]
    return metadata


def _open(fingerprint: str) -> Alert | None:
    # Only what a repeat needs: in a storm this runs thousands of times a second,
    # and the other columns (metadata, stack traces) load on first use.
    return (
        Alert.objects.select_for_update()
        .only(*_REPEAT_FIELDS, "alert_type", "category", "labels")
        .filter(fingerprint=fingerprint, status__in=OPEN_STATUSES)
        .first()
    )


def _locked(alert_id: int) -> Alert:
    alert = Alert.objects.select_for_update().filter(pk=alert_id).first()
    if alert is None:
        raise Alert.DoesNotExist(f"no alert #{alert_id}")
    return alert


def _count_plain_repeat(
    fingerprint: str, spec: AlertSpec, severity: Severity, now, actor: str
) -> Alert | None:
    """Count a repeat that changes nothing but counters in one statement, or None.

    Most firings in a storm are plain repeats: same or lower severity, not coming back
    from an expired suppression, not held back by a policy (which must be asked again).
    On PostgreSQL one UPDATE finds, locks and counts the open alert and hands back its
    previous ``last_seen``: one round trip where the general path takes five. Anything
    else (a new alert, an escalation, a suppression's end) matches no row and takes the
    general path. On SQLite every write is already serialised and a statement costs
    microseconds, so the general path serves.
    """
    connection = connections[router.db_for_write(Alert)]
    if connection.vendor != "postgresql":
        return None
    # Outside a transaction of the caller's the UPDATE is its own transaction, and
    # its commit need not wait for the WAL flush (see _plain_repeat_statement).
    sql, attnames = _plain_repeat_statement(severity, not connection.in_atomic_block)
    params = [
        fingerprint,
        now,
        max(spec.error_count, 1),
        now,
        spec.message,
        spec.value,
        spec.affected_users,
    ]
    # Prepared, so a storm plans this UPDATE once per connection instead of on every
    # firing (planning cost more than running it).
    with server_cursor(connection) as cursor:
        cursor.execute(sql, params, prepare=True)
        row = cursor.fetchone()
    if row is None:
        return None
    *values, previous_seen = row
    record = Alert.from_db(connection.alias, attnames, values)
    if record.notification_count == 2 or now - previous_seen >= DEDUP_EVENT_EVERY:
        _note_repeat(record, actor)
    elif now - previous_seen >= LIVE_REPEAT_EVERY:
        _announce(record, None)
    return record


def _note_repeat(alert: Alert, actor: str) -> None:
    # Noted on the first repeat and after a quiet spell; in between the count on the
    # alert says it, so a storm does not become thousands of timeline rows.
    with transaction.atomic():
        event = _event(
            alert,
            EventKind.DEDUPLICATED,
            actor,
            f"fired again ({alert.notification_count} times so far)",
        )
        transaction.on_commit(lambda: _announce(alert, event))


def _repeat(existing: Alert, spec: AlertSpec, severity: Severity, now, at, actor) -> Alert:
    updates: dict[str, Any] = {
        "notification_count": F("notification_count") + 1,
        # Summed in 64 bits and held at the column's top: a burst of large counts
        # would otherwise overflow PostgreSQL's integer and fail the repeat.
        "error_count": Least(
            Cast(F("error_count"), BigIntegerField()) + max(spec.error_count, 1),
            Value(INT32_MAX),
        ),
        "last_seen": now,
        "message": spec.message,
    }
    if spec.value is not None:
        updates["value"] = spec.value
    if spec.affected_users > existing.affected_users:
        updates["affected_users"] = spec.affected_users
    escalated = SEVERITY_RANK[severity] > existing.severity_rank
    if escalated:
        updates["severity"] = severity
    # The policies are asked again when the answer may change what is sent: a held or
    # suppressed alert, or one whose new severity would page.
    hold = None
    if existing.status == Status.SUPPRESSED or escalated:
        fields = policies.fields_of(existing)
        if escalated:
            fields["severity"] = str(severity)
        hold = policies.hold_for(fields, at, alert_id=existing.pk)
    unsuppressed = held_now = False
    if existing.status == Status.SUPPRESSED:
        if existing.suppressed_by in policies.POLICY_ACTORS:
            # Held back by a policy: asked again at every firing, so the alert goes out
            # as soon as the silence ends or the parent is up again.
            unsuppressed = hold is None
        elif existing.suppressed_until is not None and existing.suppressed_until <= now:
            # An operator's suppression ran out inside a silence: the policy takes over.
            unsuppressed, held_now = hold is None, hold is not None
    elif escalated and hold is not None and existing.status == Status.ACTIVE:
        held_now = True
    if unsuppressed:
        updates["status"] = Status.ACTIVE
        updates["suppressed_until"] = None
        updates["inhibited_by"] = None
    if held_now and hold is not None:
        updates.update(_held_fields(hold, now))
    previous_seen = existing.last_seen
    Alert.objects.filter(pk=existing.pk).update(**updates)
    existing.refresh_from_db(fields=[f for f in _REPEAT_FIELDS if f != "id"])
    if escalated or unsuppressed or held_now:
        # What it inhibits may have changed with its severity or its state.
        inhibition.note_closed(existing.pk)
        if existing.status != Status.SUPPRESSED or existing.suppressed_by != INHIBITION_ACTOR:
            inhibition.note_opened(existing, policies.fields_of(existing))
    event = None
    if unsuppressed:
        event = _event(
            existing,
            EventKind.UNSUPPRESSED,
            actor,
            "no longer held back; it fired again"
            if existing.suppressed_by in policies.POLICY_ACTORS
            else "suppression ended; it fired again",
        )
    if held_now and hold is not None:
        event = _event(existing, EventKind.SILENCED, hold.actor, hold.reason, _hold_data(hold))
    if escalated:
        # Under a silence (an acknowledged alert keeps its state) the escalation is on
        # the timeline, and routing sends nothing for it.
        event = _event(
            existing,
            EventKind.ESCALATED,
            actor,
            f"severity raised to {severity}: {spec.message}",
            {"held_by": hold.actor, "reason": hold.reason} if hold is not None else None,
        )
    elif event is None and (
        existing.notification_count == 2 or now - previous_seen >= DEDUP_EVENT_EVERY
    ):
        _note_repeat(existing, actor)
    elif event is None and now - previous_seen >= LIVE_REPEAT_EVERY:
        transaction.on_commit(lambda: _announce(existing, None))
    if event is not None:
        transaction.on_commit(lambda: _announce(existing, event))
    return existing


def _event(alert, kind, actor, reason="", data=None) -> AlertEvent:
    event = AlertEvent.objects.create(
        alert=alert,
        rule_id=alert.rule_id,
        kind=kind,
        actor=actor or "system",
        reason=reason,
        data=data or {},
    )
    # Receivers (the notifications outbox) write in this same transaction: no change
    # without its messages, no message for a change that rolled back.
    alert_transition.send(sender=Alert, alert=alert, event=event)
    return event


# The sender of alert_fired / alert_changed: AlertService (set by the alerts app's
# ready(); alerts.service builds on this module), so receivers written against seed
# 001's service, ``sender=AlertService``, keep working.
_sender: type = Alert


def announce_as(sender: type) -> None:
    global _sender
    _sender = sender


def _announce(alert: Alert, event: AlertEvent | None, *, fired: bool = False) -> None:
    if fired:
        alert_fired.send(sender=_sender, alert=alert)
    elif event is not None:
        alert_changed.send(sender=_sender, alert=alert, event=event)
    # Outside subscribers (seed 002's Redis channel), when there is a Redis.
    broadcast.publish(alert, event, fired=fired)
    publish_now(
        ALERTS_GROUP,
        {
            "type": "alert.changed",
            "alert_id": alert.pk,
            "event_id": event.pk if event else None,
            "status": alert.status,
            "severity": alert.severity,
            # A repeat counted without a timeline event is told apart by its count.
            "count": alert.notification_count,
        },
    )


def _sql_list(values) -> str:
    return ", ".join("'" + str(v) + "'" for v in values)


@functools.cache
def _plain_repeat_statement(severity: Severity, own_commit: bool) -> tuple[str, list[str]]:
    """The UPDATE that counts a plain repeat of an alert of ``severity`` or worse, and
    the fields it returns (built once per severity and mode).

    The state and severity lists are written into the statement rather than sent as
    array parameters: encoding two arrays took a fifth of a firing's Python time.

    ``own_commit``: the statement runs as its own transaction (the caller holds none),
    so it sets ``synchronous_commit`` off for that transaction alone. Its commit then
    does not wait for the WAL flush, which was two thirds of a repeat's time in a storm.
    What is at stake is a counter: a crash of the database server within the WAL
    writer's delay (0.2 s by default, up to three times that) could forget the last
    repeats counted, never a new alert, an escalation or a notification, which take the
    general path and commit as usual.
    """
    table = Alert._meta.db_table
    # In the model's order, which is the order from_db() reads values in.
    fields = [f for f in Alert._meta.concrete_fields if f.name in _REPEAT_FIELDS]
    columns = ", ".join(f"a.{f.column}" for f in fields)
    not_worse = [s for s in Severity if SEVERITY_RANK[s] >= SEVERITY_RANK[severity]]
    no_flush_wait = f", {NO_FLUSH_WAIT}" if own_commit else ""
    sql = f"""
        WITH open_alert AS (
            SELECT id, last_seen FROM {table}
            WHERE fingerprint = %s
              AND status IN ({_sql_list(OPEN_STATUSES)})
              AND severity IN ({_sql_list(not_worse)})
              AND NOT (status = '{Status.SUPPRESSED}' AND (
                  suppressed_by IN ({_sql_list(policies.POLICY_ACTORS)})
                  OR (suppressed_until IS NOT NULL AND suppressed_until <= %s)))
            FOR UPDATE
        )
        UPDATE {table} AS a SET
            notification_count = a.notification_count + 1,
            error_count = LEAST(a.error_count::bigint + %s, {INT32_MAX}),
            last_seen = %s,
            message = %s,
            value = COALESCE(%s, a.value),
            affected_users = GREATEST(a.affected_users, %s)
        FROM open_alert{no_flush_wait} WHERE a.id = open_alert.id
        RETURNING {columns}, open_alert.last_seen
    """
    return sql, [f.attname for f in fields]

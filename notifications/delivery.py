"""Deliver outbox rows: claim, send, record; retry, dead-letter, break circuits.

A row is claimed with one conditional UPDATE that sets a lease, so two senders that
pick the same row cannot both send it; a sender that dies mid-send leaves a lease
that expires, and the row is due again. Delivery is therefore at least once:
a receiver can drop the rare duplicate by the idempotency key (PagerDuty by dedup_key).

Failures: network errors, timeouts, 5xx, 408 and 429 are retried with capped, jittered
exponential backoff (or after the receiver's Retry-After); other 4xx are permanent.
When the last attempt fails the row becomes a dead letter and an alert about the
channel goes out through the other channels. After ``NOTIFY_CIRCUIT_FAILURES``
consecutive failures a channel's circuit opens for ``NOTIFY_CIRCUIT_OPEN_SECONDS``:
its messages wait instead of hammering a service that is down.
"""

from __future__ import annotations

import functools
import logging
import random
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import cast

from django.conf import settings
from django.db import connection, connections
from django.db.models import F, Field, Q, QuerySet
from django.db.models.sql import UpdateQuery
from django.utils import timezone

from alerts import pipeline
from alerts.constants import Status
from alerts.models import Alert
from alerts.pipeline import open_alert
from alerts.spec import AlertSpec
from notifications.models import (
    WAITING_STATUSES,
    DeliveryStatus,
    Notification,
    NotificationChannel,
    Transition,
)
from notifications.notifiers import DeliveryError, addressed, notifier, redact
from notifications.notifiers.message import for_notification
from notifications.panels import publish_deliveries
from opsconsole.prepared import NO_FLUSH_WAIT, server_cursor

logger = logging.getLogger(__name__)

CHANNEL_ALERT_TYPE = "notification_channel_failing"
# A rate-limited message waits in the worker for its slot up to this long; longer, and
# it goes back to the outbox until then.
MAX_INLINE_WAIT = 1.0
# A resolved message waits this long while the firing one is still being sent.
ORDER_WAIT = timedelta(seconds=5)
MAX_RETRY_AFTER = 3600.0
SWEEP_BATCH = 500
# How stale a claim's view of its rows and alerts may be before a send: past this a
# row renews its lease and re-reads its alert first.
RENEW_AFTER_SECONDS = 1.0
# The highest urgency (critical): nothing overtakes it.
SEVERITY_TOP = 3
# Rows one sweep sends per claim.
BATCH = 20


def _update_unhurried(rows: QuerySet, **fields) -> int:
    """``rows.update(**fields)``, committed without waiting for the WAL flush on
    PostgreSQL, in one round trip.

    Losing such a commit takes a crash of the database server itself within a fraction
    of a second, and then a row only goes back to an earlier state (claimed, or
    waiting): it is sent again, which at-least-once delivery allows. Not waiting saves
    the fsync, and one statement instead of BEGIN, SET, UPDATE, COMMIT saves three
    round trips: most of the outbox's cost per message.
    """
    if connection.vendor != "postgresql":
        return rows.update(**fields)
    query = cast(UpdateQuery, rows.query.chain(UpdateQuery))
    query.add_update_values(fields)
    statement, params = query.get_compiler(rows.db).as_sql()
    with connections[rows.db].cursor() as cursor:
        # Two statements in one simple query run as one implicit transaction, so the
        # SET LOCAL covers exactly this update (or the caller's transaction, if any).
        cursor.execute(f"SET LOCAL synchronous_commit = off; {statement}", params)
        cursor.nextset()
        return cursor.rowcount


def _record_claimed(pk: int, token: uuid.UUID, fields: dict) -> int:
    """Set ``fields`` on one row while our claim on it holds; the rows changed (0 or 1).

    Every message ends here, so on PostgreSQL it skips the ORM: a statement prepared
    once per connection and set of fields, committed like ``_update_unhurried`` without
    waiting for the WAL flush (``opsconsole.prepared.NO_FLUSH_WAIT``). Compiling the ORM
    update and planning it cost 1.2 ms a message; this, 0.3 ms.
    """
    if connection.vendor != "postgresql":
        return Notification.objects.filter(
            pk=pk, status=DeliveryStatus.SENDING, claim_token=token
        ).update(**fields)
    params = [*fields.values(), pk, DeliveryStatus.SENDING.value, token]
    with server_cursor(connection) as cursor:
        cursor.execute(_claimed_update(tuple(fields)), params, prepare=True)
        return cursor.rowcount


@functools.cache
def _claimed_update(names: tuple[str, ...]) -> str:
    meta = Notification._meta
    assignments = ", ".join(f"{cast(Field, meta.get_field(name)).column} = %s" for name in names)
    return (
        f"UPDATE {meta.db_table} SET {assignments} "
        f"FROM {NO_FLUSH_WAIT} "
        "WHERE id = %s AND status = %s AND claim_token = %s"
    )


def _renew(n: Notification, token: uuid.UUID) -> tuple[bool, str | None]:
    """Just before a row is sent: extend its lease while our claim holds, and read its
    alert's status as it is now. (still ours, alert status or None for a test message).

    A claim is taken for a whole batch; by its last row the lease may be near its end
    (slow receivers, a channel's own longer timeout), and the alert may have been
    silenced, acknowledged or resolved meanwhile. Without this a sender whose claim was
    taken over would send the row a second time.
    """
    lease_until = timezone.now() + timedelta(
        seconds=settings.NOTIFY_LEASE_SECONDS + _send_timeout(n.channel)
    )
    if connection.vendor != "postgresql":
        renewed = Notification.objects.filter(
            pk=n.pk, status=DeliveryStatus.SENDING, claim_token=token
        ).update(lease_until=lease_until)
        if not renewed:
            return False, None
        if n.alert_id is None:
            return True, None
        return True, Alert.objects.filter(pk=n.alert_id).values_list("status", flat=True).first()
    with server_cursor(connection) as cursor:
        cursor.execute(_renew_statement(), [lease_until, n.pk, token], prepare=True)
        row = cursor.fetchone()
    return (row is not None), (row[0] if row else None)


@functools.cache
def _renew_statement() -> str:
    table, alerts = Notification._meta.db_table, Alert._meta.db_table
    return (
        f"UPDATE {table} SET lease_until = %s FROM {NO_FLUSH_WAIT} "
        f"WHERE id = %s AND status = '{DeliveryStatus.SENDING}' AND claim_token = %s "
        f"RETURNING (SELECT status FROM {alerts} WHERE {alerts}.id = {table}.alert_id)"
    )


def _send_timeout(channel: NotificationChannel) -> float:
    """The longest one send to this channel may take."""
    config = channel.config if isinstance(channel.config, dict) else {}
    try:
        own = float(config.get("timeout") or 0)
    except (TypeError, ValueError):
        own = 0.0
    return max(own, settings.NOTIFY_HTTP_TIMEOUT, float(settings.EMAIL_TIMEOUT or 0)) + 1


def backoff(attempt: int) -> float:
    """Seconds before retry number ``attempt`` (1-based): doubling from the base, capped,
    with jitter so many rows failing together do not retry in step."""
    ceiling = min(
        settings.NOTIFY_RETRY_MAX_SECONDS,
        settings.NOTIFY_RETRY_BASE_SECONDS * 2 ** max(attempt - 1, 0),
    )
    return ceiling * random.uniform(0.5, 1.0)


def claim(ids: list[int], now: datetime | None = None) -> uuid.UUID | None:
    """Take the rows among ``ids`` that are due, for one attempt each, in one UPDATE;
    return the claim's token, or None when another worker got there first or none is
    due (or already done)."""
    if not ids:
        return None  # nothing asked for (and PostgreSQL's IN () would not compile)
    now = now or timezone.now()
    token = uuid.uuid4()
    # Long enough for every row of the batch to time out once.
    seconds = settings.NOTIFY_LEASE_SECONDS + len(ids) * settings.NOTIFY_HTTP_TIMEOUT
    claimed = _update_unhurried(
        due(now).filter(pk__in=ids),
        status=DeliveryStatus.SENDING,
        lease_until=now + timedelta(seconds=seconds),
        claim_token=token,
        attempts=F("attempts") + 1,
        updated=now,
    )
    return token if claimed else None


def due(now: datetime) -> QuerySet:
    """Rows that may be claimed now: waiting and due, or claimed by a sender that
    vanished (its lease ran out without an outcome)."""
    return Notification.objects.filter(
        Q(status__in=WAITING_STATUSES, next_attempt_at__lte=now)
        | Q(status=DeliveryStatus.SENDING, lease_until__lt=now)
    )


def waiting(now: datetime) -> QuerySet:
    """Waiting rows that are due (served by notification_due)."""
    return Notification.objects.filter(status__in=WAITING_STATUSES, next_attempt_at__lte=now)


def deliver_next(
    limit: int, now: datetime | None = None, *, stopping: Callable[[], bool] | None = None
) -> int:
    """Claim and send up to ``limit`` due rows of the most urgent severity waiting; the
    number of rows tried (0: nothing was due).

    One claim takes rows of one urgency only, and while it is sent the sender asks
    every YIELD_CHECK_SECONDS whether a more urgent message has arrived, handing the
    rest back if so (and at once when ``stopping()`` says the lane is stopping): a
    critical message waits for the messages in flight, never behind a queue of info
    ones. One read, served by notification_due_urgent in its order. Claims abandoned by
    a sender that died are put back by ``reclaim_abandoned``.
    """
    # Senders on other threads read the same head of the queue; one that loses the
    # claim to them reads again at once instead of idling until the next poll.
    for _ in range(3):
        now = timezone.now() if now is None else now
        rows = list(
            waiting(now)
            .order_by("-urgency", "next_attempt_at")
            .values_list("pk", "urgency")[:limit]
        )
        if not rows:
            return 0
        top = rows[0][1]
        ids = [pk for pk, urgency in rows if urgency == top]
        tried = deliver_batch(ids, now, yield_to=_more_urgent_than(top, stopping))
        if tried:
            return len(tried)
        now = None
    return 0


# While a sender works through a claim, it asks at most this often whether a more
# urgent message has arrived since (one indexed query).
YIELD_CHECK_SECONDS = 0.25


def _more_urgent_than(
    urgency: int, stopping: Callable[[], bool] | None = None
) -> Callable[[], bool] | None:
    if urgency >= SEVERITY_TOP and stopping is None:
        return None
    asked = time.monotonic()

    def more_urgent() -> bool:
        nonlocal asked
        if stopping is not None and stopping():
            return True
        if urgency >= SEVERITY_TOP or time.monotonic() - asked < YIELD_CHECK_SECONDS:
            return False
        asked = time.monotonic()
        return waiting(timezone.now()).filter(urgency__gt=urgency).exists()

    return more_urgent


def reclaim_abandoned(now: datetime | None = None) -> int:
    """Claims whose lease ran out without an outcome (their sender died) wait again, in
    their urgency's place; the attempt they used still counts. Served by
    notification_leased. A sender that was only slow finds its claim gone and records
    nothing (its token no longer matches)."""
    now = now or timezone.now()
    abandoned = Notification.objects.filter(status=DeliveryStatus.SENDING, lease_until__lt=now)
    # Asked first: on SQLite an UPDATE is a write lock taken twice a second for nothing.
    if not abandoned.exists():
        return 0
    return _update_unhurried(
        abandoned,
        status=DeliveryStatus.RETRYING,
        next_attempt_at=now,
        lease_until=None,
        claim_token=None,
        updated=now,
    )


def deliver(notification_id: int, now: datetime | None = None) -> str:
    """One delivery attempt of one row; returns the resulting status."""
    return deliver_batch([notification_id], now).get(notification_id, "not claimed")


def deliver_batch(
    ids: list[int],
    now: datetime | None = None,
    *,
    yield_to: Callable[[], bool] | None = None,
) -> dict[int, str]:
    """One delivery attempt of each due row among ``ids``: one claim and one read for
    the batch, then each row is sent and its outcome recorded on its own.

    ``yield_to``: asked before each row after the first; when it says a more urgent
    message waits, the rows not yet sent go back to the outbox (no attempt counted) and
    the batch ends, so the sender can take that message next.
    """
    now = now or timezone.now()
    token = claim(ids, now)
    if token is None:
        return {}
    rows = Notification.objects.select_related("channel", "alert").filter(
        pk__in=ids, claim_token=token
    )
    started = checked = time.monotonic()
    channels: dict[int, NotificationChannel] = {}
    outcomes = {}
    changed: set[int] = set()
    try:
        for position, n in enumerate(rows.order_by("pk")):
            elapsed = timedelta(seconds=time.monotonic() - started)
            if position and yield_to is not None and yield_to():
                outcomes[n.pk] = _release(n, token, now + elapsed, "a more urgent message first")
                yield_to = _always
                continue
            # One instance per channel, so a circuit opened by one row holds for the next.
            n.channel = channels.setdefault(n.channel_id, n.channel)
            # The claim and the alerts were read just now; once the batch has run a
            # while, each row renews its lease and re-reads its alert before it is sent.
            renew = time.monotonic() - checked > RENEW_AFTER_SECONDS
            if renew:
                checked = time.monotonic()
            try:
                outcomes[n.pk] = _attempt(n, token, now + elapsed, renew=renew)
            except Exception as exc:
                # One row that cannot be handled (its channel deleted meanwhile, a
                # database error) must not keep the rest of the claim waiting.
                logger.exception("delivering notification %s failed", n.pk)
                outcomes[n.pk] = _after_error(n, token, now + elapsed, exc)
            if outcomes[n.pk] != "lease lost" and n.alert_id is not None:
                changed.add(n.alert_id)
    finally:
        # One event for the batch: a publish per message cost more than its send.
        publish_deliveries(changed)
    return outcomes


def _always() -> bool:
    return True


def _after_error(n: Notification, token: uuid.UUID, now: datetime, exc: Exception) -> str:
    try:
        return _failed(n, token, now, DeliveryError(f"internal error: {type(exc).__name__}"))
    except Exception:
        logger.exception("could not record the failure of notification %s", n.pk)
        return "error"


def _attempt(n: Notification, token: uuid.UUID, now: datetime, *, renew: bool = True) -> str:
    channel, alert = n.channel, n.alert
    if n.attempts > settings.NOTIFY_MAX_ATTEMPTS:
        # Only reachable through expired leases: workers keep dying on this row.
        return _give_up(n, token, now, DeliveryError("workers died during every attempt"))
    if not channel.enabled:
        return _finish(n, token, DeliveryStatus.CANCELLED, now, error="channel disabled")
    if alert is not None and not _still_to_send(n, alert):
        return _finish(n, token, DeliveryStatus.CANCELLED, now, error=f"alert {alert.status}")
    if n.transition == Transition.RESOLVED and _firing_in_flight(n):
        return _release(n, token, now + ORDER_WAIT, "waiting for the firing message")
    if channel.circuit_open_until and channel.circuit_open_until > now:
        return _release(n, token, channel.circuit_open_until, "circuit open: channel failing")
    wait = _rate_slot(channel, now)
    if wait > MAX_INLINE_WAIT:
        return _release(n, token, now + timedelta(seconds=wait), "rate limited")
    if wait > 0:
        time.sleep(wait)
    ours, status = _renew(n, token) if renew else (True, None)
    if not ours:
        return "lease lost"
    if status is not None and alert is not None and status != alert.status:
        alert.status = status
        if not _still_to_send(n, alert):
            return _finish(n, token, DeliveryStatus.CANCELLED, now, error=f"alert {status}")
    try:
        code = notifier(channel.kind).send(addressed(channel, n.context), for_notification(n))
    except DeliveryError as exc:
        return _failed(n, token, now, exc)
    except Exception as exc:
        # A notifier bug or an SDK's own error: retried, and never a raw traceback in
        # the log, which could carry the channel's secrets.
        return _failed(n, token, now, DeliveryError(f"{type(exc).__name__}: {exc}"))
    if channel.consecutive_failures or channel.circuit_open_until:
        NotificationChannel.objects.filter(pk=channel.pk).update(
            consecutive_failures=0, circuit_open_until=None
        )
        channel.consecutive_failures, channel.circuit_open_until = 0, None
        _resolve_channel_alert(channel, n)
    return _finish(n, token, DeliveryStatus.SENT, now, code=code, sent=True)


def _still_to_send(n: Notification, alert) -> bool:
    """Whether the alert, as it stands, still wants this message: firing and
    escalated ones only while it is active or acknowledged (not held back, resolved or
    expired), repeats only while it is active; a page of an escalation (a person's
    "email me after 5 minutes if still unacknowledged") only while it is active."""
    if (n.context or {}).get("escalation") and n.transition != Transition.RESOLVED:
        return alert.status == Status.ACTIVE
    if n.transition in (Transition.FIRING, Transition.ESCALATED):
        return alert.status in (Status.ACTIVE, Status.ACKNOWLEDGED)
    if n.transition == Transition.REPEAT:
        return alert.status == Status.ACTIVE
    return True


def _firing_in_flight(n: Notification) -> bool:
    # django-stubs rejects None for an exact lookup; Django runs alert_id=None as IS NULL.
    return Notification.objects.filter(  # type: ignore[misc]
        alert_id=n.alert_id,
        channel_id=n.channel_id,
        transition__in=(Transition.FIRING, Transition.ESCALATED, Transition.REPEAT),
        status=DeliveryStatus.SENDING,
    ).exists()


def _rate_slot(channel: NotificationChannel, now: datetime) -> float:
    """Seconds until this channel may send. A slot is reserved only when it is near:
    a row sent back to the outbox must not push the schedule of every other row."""
    rate = channel.rate_limit_per_minute
    if rate is None:
        rate = notifier(channel.kind).RATE_PER_MINUTE
    if not rate:
        return 0.0
    spacing = timedelta(seconds=60 / rate)
    for _ in range(5):
        current = (
            NotificationChannel.objects.filter(pk=channel.pk)
            .values_list("next_send_at", flat=True)
            .get()
        )
        start = max(now, current) if current else now
        wait = (start - now).total_seconds()
        if wait > MAX_INLINE_WAIT:
            return wait
        # Conditional on the value read: two workers cannot take the same slot.
        if NotificationChannel.objects.filter(pk=channel.pk, next_send_at=current).update(
            next_send_at=start + spacing
        ):
            return wait
    return spacing.total_seconds() + MAX_INLINE_WAIT


def _failed(n: Notification, token: uuid.UUID, now: datetime, exc: DeliveryError) -> str:
    channel = n.channel
    NotificationChannel.objects.filter(pk=channel.pk).update(
        consecutive_failures=F("consecutive_failures") + 1
    )
    failures = (
        NotificationChannel.objects.filter(pk=channel.pk)
        .values_list("consecutive_failures", flat=True)
        .get()
    )
    channel.consecutive_failures = failures
    if failures >= settings.NOTIFY_CIRCUIT_FAILURES:
        until = now + timedelta(seconds=settings.NOTIFY_CIRCUIT_OPEN_SECONDS)
        opened = (
            NotificationChannel.objects.filter(pk=channel.pk)
            .filter(Q(circuit_open_until__isnull=True) | Q(circuit_open_until__lte=now))
            .update(circuit_open_until=until)
        )
        if opened:
            channel.circuit_open_until = until
            logger.warning(
                "channel %s failed %s times in a row: circuit open for %s s",
                channel.name,
                failures,
                settings.NOTIFY_CIRCUIT_OPEN_SECONDS,
            )
    error = redact(str(exc), channel.secrets)
    if exc.permanent:
        status = _finish(n, token, DeliveryStatus.FAILED, now, error=error, code=exc.code)
        if status == DeliveryStatus.FAILED:
            _audit_undelivered(n, status, error, exc.code)
        _raise_channel_alert(n, error)
        return status
    if n.attempts >= settings.NOTIFY_MAX_ATTEMPTS:
        return _give_up(n, token, now, exc)
    if exc.retry_after is not None:
        delay = min(exc.retry_after, MAX_RETRY_AFTER)
    else:
        delay = backoff(n.attempts)
    logger.info(
        "notification %s to %s failed (attempt %s): %s; retry in %.0f s",
        n.pk,
        channel.name,
        n.attempts,
        error,
        delay,
    )
    return _finish(
        n,
        token,
        DeliveryStatus.RETRYING,
        now,
        error=error,
        code=exc.code,
        next_attempt=now + timedelta(seconds=delay),
    )


def _give_up(n: Notification, token: uuid.UUID, now: datetime, exc: DeliveryError) -> str:
    error = redact(str(exc), n.channel.secrets)
    status = _finish(n, token, DeliveryStatus.DEAD, now, error=error, code=exc.code)
    logger.warning(
        "notification %s to %s is a dead letter after %s attempts: %s",
        n.pk,
        n.channel.name,
        n.attempts,
        error,
    )
    if status == DeliveryStatus.DEAD:
        _audit_undelivered(n, status, error, exc.code)
    _raise_channel_alert(n, error)
    return status


def _audit_undelivered(n: Notification, status: str, error: str, code: int | None) -> None:
    """A message given up on is on Sentry Station's audit stream, next to the edits
    that may have caused it."""
    from opsconsole import audit
    from opsconsole.models import AuditEntry

    channel = n.channel
    subject = subject_of(n)
    outcome = "refused" if status == DeliveryStatus.FAILED else f"dead after {n.attempts} attempts"
    try:
        audit.record(
            AuditEntry.Kind.DELIVERY_FAILED,
            f"{n.transition} message about {subject} to {channel.name} {outcome}: {error}",
            obj=n,
            data={
                "channel": channel.name,
                "channel_id": channel.pk,
                "alert_id": n.alert_id,
                "status": status,
                "attempts": n.attempts,
                "response_code": code,
            },
        )
    except Exception:
        logger.exception("could not record the undelivered notification %s", n.pk)


def subject_of(n: Notification) -> str:
    """What a message was about, for the log and the alert about its channel."""
    if n.alert_id:
        return f"alert #{n.alert_id}"
    if n.group_id:
        return f"alert group #{n.group_id}"
    return "a test"


def _raise_channel_alert(n: Notification, error: str) -> None:
    """An alert about the failing channel, routed to every channel but that one."""
    channel = n.channel
    subject = subject_of(n)
    try:
        pipeline.raise_alert(
            AlertSpec(
                alert_type=CHANNEL_ALERT_TYPE,
                title=f"Notification channel {channel.name} is failing",
                message=(
                    f"The {n.transition} message about {subject} could not be delivered "
                    f"to {channel.name} ({channel.kind}) after {n.attempts} attempt(s): {error}"
                ),
                priority="error",
                category="availability",
                resource=f"channel:{channel.name}",
                metadata={
                    "channel_id": channel.pk,
                    "notification_id": n.pk,
                    "exclude_channels": [channel.pk],
                },
                recommendations=[
                    f"Check {channel.name}'s settings in the admin and send a test message.",
                    "Resend the failed messages from the delivery log once it works.",
                ],
            ),
            actor="notifier",
        )
    except Exception:
        logger.exception("could not raise the alert about channel %s", channel.name)


def _resolve_channel_alert(channel: NotificationChannel, n: Notification) -> None:
    """The channel delivers again after failing: its "is failing" alert has cleared.

    Only on this transition (failures counted, then a success), so a healthy channel's
    deliveries pay nothing for it.
    """
    subject = subject_of(n)
    try:
        alert = open_alert(CHANNEL_ALERT_TYPE, f"channel:{channel.name}")
        if alert is None:
            return
        note = f"{channel.name} delivered the {n.transition} message about {subject}"
        # The messages that failed from the first failure on stay failed: say so, since
        # the alert's advice to resend them goes with it.
        undelivered = Notification.objects.filter(
            channel_id=channel.pk,
            status__in=(DeliveryStatus.FAILED, DeliveryStatus.DEAD),
            pk__gte=(alert.metadata or {}).get("notification_id") or 0,
        ).count()
        if undelivered:
            note += f"; {undelivered} message(s) that failed stay undelivered: "
            note += "resend them from the delivery log"
        pipeline.clear_alert(
            CHANNEL_ALERT_TYPE, f"channel:{channel.name}", actor="notifier", note=note
        )
    except Exception:
        logger.exception("could not resolve the alert about channel %s", channel.name)


def _release(n: Notification, token: uuid.UUID, when: datetime, reason: str) -> str:
    """Give the row back without counting an attempt: it did not try to send."""
    updated = Notification.objects.filter(
        pk=n.pk, status=DeliveryStatus.SENDING, claim_token=token
    ).update(
        status=DeliveryStatus.PENDING if n.attempts <= 1 else DeliveryStatus.RETRYING,
        attempts=F("attempts") - 1,
        next_attempt_at=when,
        enqueued_at=None,
        lease_until=None,
        last_error=reason,
        claim_token=None,
        updated=timezone.now(),
    )
    return "deferred" if updated else "lease lost"


def _finish(
    n: Notification,
    token: uuid.UUID,
    status: str,
    now: datetime,
    *,
    error: str = "",
    code: int | None = None,
    next_attempt: datetime | None = None,
    sent: bool = False,
) -> str:
    fields = {
        "status": status,
        "last_error": error[:2000],
        "response_code": code,
        "lease_until": None,
        "claim_token": None,
        "updated": timezone.now(),
    }
    if sent:
        fields["sent_at"] = timezone.now()
    if next_attempt is not None:
        fields["next_attempt_at"] = next_attempt
        fields["enqueued_at"] = None
    # Only while our claim holds: if its lease ran out and another worker took the row,
    # that worker's outcome is the one recorded.
    updated = _record_claimed(n.pk, token, fields)
    if not updated:
        logger.warning("notification %s: lease lost before recording %s", n.pk, status)
        return "lease lost"
    return status


def sweep_needed(now: datetime | None = None) -> bool:
    """Whether a sweep would do anything (a row due, or a repeat to route)."""
    from notifications import routing

    now = now or timezone.now()
    return due(now).exists() or routing.repeats_due(now).exists()


def sweep(now: datetime | None = None) -> dict:
    """Send every due row (retries, held messages, claims whose sender vanished), most
    urgent first, and route repeat messages: one round of what the delivery lane does
    continuously (``manage.py deliver --once``)."""
    from notifications import grouping, routing

    now = now or timezone.now()
    groups = grouping.flush_due(now)
    ids = list(
        due(now)
        .order_by("-urgency", "next_attempt_at", "pk")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    sent = 0
    for start in range(0, len(ids), BATCH):
        # Each batch's lease and backoff start from its own moment.
        sent += len(deliver_batch(ids[start : start + BATCH], timezone.now()))
    return {"sent": sent, "repeats": routing.route_repeats(now), "group_messages": groups}


def resend(notification_ids: list[int]) -> int:
    """Send again (an operator's decision): a fresh set of attempts, now."""
    from notifications import routing

    now = timezone.now()
    rows = Notification.objects.filter(pk__in=notification_ids).exclude(
        status=DeliveryStatus.SENDING
    )
    pairs = list(rows.values_list("pk", "alert_id"))
    ids = [pk for pk, _alert_id in pairs]
    rows.update(
        status=DeliveryStatus.PENDING,
        attempts=0,
        next_attempt_at=now,
        enqueued_at=now,
        last_error="",
        response_code=None,
        updated=now,
    )
    routing.schedule_delivery(ids)
    publish_deliveries({alert_id for _pk, alert_id in pairs if alert_id is not None})
    return len(ids)


def send_test(channel: NotificationChannel) -> Notification:
    """Send a test message now, outside the retry policy, and log it."""
    import uuid

    from notifications.notifiers.message import test_message

    now = timezone.now()
    record = Notification.objects.create(
        channel=channel,
        transition=Transition.TEST,
        idempotency_key=f"test:{channel.pk}:{uuid.uuid4().hex}",
        status=DeliveryStatus.SENDING,
        attempts=1,
        next_attempt_at=now,
        lease_until=now + timedelta(seconds=settings.NOTIFY_LEASE_SECONDS),
    )
    try:
        code = notifier(channel.kind).send(channel, test_message(record.idempotency_key))
    except DeliveryError as exc:
        record.status = DeliveryStatus.FAILED
        record.last_error = redact(str(exc), channel.secrets)
        record.response_code = exc.code
    except Exception as exc:
        record.status = DeliveryStatus.FAILED
        record.last_error = redact(f"{type(exc).__name__}: {exc}", channel.secrets)
    else:
        record.status = DeliveryStatus.SENT
        record.response_code = code
        record.sent_at = timezone.now()
    record.lease_until = None
    record.save()
    return record

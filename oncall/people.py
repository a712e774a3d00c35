"""Reaching people: contact methods, their verification, and pages sent by a person's
notification rules.

Messages to people are outbox rows (``notifications.Notification``) like every other
message: the row names the channel whose settings send it (the Twilio account, the
SMTP server, the Slack webhook, the Telegram bot) and carries the person's address in
its context (``to``), which the notifier uses in place of the channel's recipients.
So rate limits, retries, circuit breakers and the SSRF guard hold for them too.
"""

from __future__ import annotations

import hmac
import re
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from alerts.constants import SEVERITY_RANK, Severity
from notifications.models import Notification as OutboxRow
from notifications.models import NotificationChannel, Transition
from notifications.outbox import insert, schedule_delivery, urgency_of
from oncall.models import CHANNEL_KIND, ContactKind, ContactMethod, NotificationRule, Urgency

VERIFY_SECONDS = 30 * 60
_PHONE = re.compile(r"^\+[1-9]\d{6,14}$")
_SLACK_MEMBER = re.compile(r"^[UW][A-Z0-9]{2,20}$")
_TELEGRAM_CHAT = re.compile(r"^-?\d{1,20}$")


def address_problem(kind: str, address: str) -> str:
    """Why this address cannot be one of its kind ("" when it can)."""
    if kind == ContactKind.EMAIL:
        try:
            validate_email(address)
        except ValidationError:
            return f"{address!r} is not an email address"
    elif kind == ContactKind.PHONE and not _PHONE.match(address):
        return f"{address!r} is not a phone number in E.164 form (+15551234567)"
    elif kind == ContactKind.SLACK and not _SLACK_MEMBER.match(address):
        return f"{address!r} is not a Slack member id (U012AB3CD: profile, ⋮, Copy member ID)"
    elif kind == ContactKind.TELEGRAM and not _TELEGRAM_CHAT.match(address):
        return f"{address!r} is not a Telegram chat id (a number)"
    return ""


def channel_for(method: ContactMethod) -> NotificationChannel | None:
    """The enabled channel that sends to this method: its own, else the first enabled
    channel of the matching kind."""
    kind = CHANNEL_KIND[ContactKind(method.kind)]
    channel = method.channel
    if channel is not None:
        return channel if channel.enabled and channel.kind == kind else None
    return NotificationChannel.objects.filter(enabled=True, kind=kind).order_by("name").first()


def _context(method: ContactMethod, **extra) -> dict:
    context = {"person": method.user_id, "contact_method": method.pk, "to": method.address}
    if method.kind == ContactKind.PHONE:
        context["to"] = [method.address]
    if method.kind == ContactKind.SLACK:
        # A webhook posts to its channel: the member is mentioned there.
        context["mention"] = method.address
    context.update(extra)
    return context


def send_verification(method: ContactMethod) -> str:
    """Send a test message with a fresh code; "" when sent (queued), else the reason."""
    channel = channel_for(method)
    if channel is None:
        kind = CHANNEL_KIND[ContactKind(method.kind)]
        return f"no enabled {kind} channel can send to this {method.get_kind_display()}"
    code = f"{secrets.randbelow(10**6):06d}"
    now = timezone.now()
    with transaction.atomic():
        ContactMethod.objects.filter(pk=method.pk).update(
            verification_code=code, verification_sent_at=now
        )
        ids = insert(
            [
                OutboxRow(
                    channel=channel,
                    transition=Transition.TEST,
                    idempotency_key=f"verify:{method.pk}:{uuid.uuid4().hex}",
                    next_attempt_at=now,
                    enqueued_at=now,
                    context=_context(method, verification=code),
                    urgency=urgency_of(Severity.CRITICAL),
                )
            ],
            now,
        )
        if ids:
            schedule_delivery(ids)
    method.verification_code, method.verification_sent_at = code, now
    return ""


def confirm(method: ContactMethod, code: str) -> str:
    """Mark the method verified if ``code`` is the one sent; "" on success."""
    method.refresh_from_db()
    if not method.verification_code or method.verification_sent_at is None:
        return "send a test message first"
    if timezone.now() - method.verification_sent_at > timedelta(seconds=VERIFY_SECONDS):
        return "the code has expired: send a new test message"
    if not hmac.compare_digest(method.verification_code, str(code).strip()):
        return "that is not the code that was sent"
    ContactMethod.objects.filter(pk=method.pk).update(
        verified_at=timezone.now(), verification_code=""
    )
    method.refresh_from_db()
    return ""


def reachable_ids(user_ids) -> set[int]:
    """Which of these people have at least one verified contact method."""
    return set(
        ContactMethod.objects.filter(user_id__in=set(user_ids), verified_at__isnull=False)
        .values_list("user_id", flat=True)
        .distinct()
    )


def unreachable_ids(user_ids) -> set[int]:
    """Which of these people nobody would reach: no verified contact method."""
    ids = {pk for pk in user_ids if pk is not None}
    return ids - reachable_ids(ids)


def urgency_of_severity(severity: str) -> str:
    rank = SEVERITY_RANK[Severity(severity)]
    return Urgency.HIGH if rank >= SEVERITY_RANK[Severity.ERROR] else Urgency.LOW


@dataclass
class Page:
    """What paging one person wrote: the outbox rows, and why nobody was reached."""

    user_id: int
    rows: list[OutboxRow] = field(default_factory=list)
    problem: str = ""

    @property
    def reached(self) -> bool:
        return bool(self.rows)


def plan_page(
    user, alert, *, key: str, now: datetime, context: dict, channels: dict | None = None
) -> Page:
    """Outbox rows paging ``user`` about ``alert`` by their notification rules for its
    urgency (each after its delay; a later one is cancelled at send time if the alert
    was acknowledged meanwhile), or on every verified method at once when they have no
    rules. ``key`` makes the rows' idempotency keys: the same page is written once."""
    page = Page(user.pk)
    methods = {m.pk: m for m in ContactMethod.objects.filter(user=user, verified_at__isnull=False)}
    if not methods:
        page.problem = f"{user.get_username()} has no verified contact method"
        return page
    urgency = urgency_of_severity(alert.severity)
    own = list(NotificationRule.objects.filter(user=user).order_by("delay_minutes", "pk"))
    rules = [
        (rule.contact_method_id, rule.delay_minutes)
        for rule in own
        if rule.urgency in (Urgency.ANY, urgency)
    ]
    if not own:
        rules = [(pk, 0) for pk in methods]
    for method_id, delay in rules:
        method = methods.get(method_id)
        if method is None:
            continue  # a rule on a method not (yet) verified
        channel = channels.get(method.pk) if channels is not None else None
        if channel is None:
            channel = channel_for(method)
            if channels is not None:
                channels[method.pk] = channel
        if channel is None:
            continue
        page.rows.append(
            OutboxRow(
                alert=alert,
                channel=channel,
                transition=Transition.FIRING,
                idempotency_key=f"{key}:a{alert.pk}:p{user.pk}:m{method.pk}:{delay}"[:120],
                next_attempt_at=now + timedelta(minutes=delay),
                enqueued_at=now if not delay else None,
                context=_context(method, severity=alert.severity, **context),
                urgency=urgency_of(alert.severity),
            )
        )
    if not page.rows:
        page.problem = (
            f"{user.get_username()} has no rule for {urgency} urgency on a verified method "
            "with an enabled channel"
        )
    return page


def write_pages(pages: list[Page], now: datetime) -> list[int]:
    rows = [row for page in pages for row in page.rows]
    ids = insert(rows, now)
    if ids:
        schedule_delivery(ids)
    return ids


def personalize(notification, message) -> None:
    """The notifications app's personalizer: what a message to one person adds."""
    context = notification.context or {}
    if context.get("mention"):
        message.mention = str(context["mention"])
    code = context.get("verification")
    if code:
        message.title = "Verify this contact method for OpsConsole"
        message.text = (
            f"Your OpsConsole verification code is {code}. Enter it beside the contact "
            "method in the console to receive pages here."
        )
        message.reply_hint = f"Code {code}."
        return
    from oncall import links

    links.add_actions(notification, message)

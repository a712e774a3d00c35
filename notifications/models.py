"""Notification channels, the routing matrix, and the outbox of messages to deliver.

These tables were created by the alerts app and keep its table names (``db_table``):
moving the models here moved no data (see migrations/0001_initial.py).
"""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from alerts.constants import Category, Severity

# What a routing rule may group by, besides label names.
GROUP_FIELDS = ("rule", "alert_type", "category", "severity", "resource", "host")
NO_GROUPING = "..."
MAX_GROUP_SECONDS = 7 * 24 * 3600


def default_group_by() -> list[str]:
    return ["rule"]


class ChannelKind(models.TextChoices):
    SLACK = "slack", "Slack (incoming webhook)"
    EMAIL = "email", "Email"
    SMS = "sms", "SMS (Twilio)"
    PAGERDUTY = "pagerduty", "PagerDuty (Events API v2)"
    DISCORD = "discord", "Discord (webhook)"
    TELEGRAM = "telegram", "Telegram (bot)"
    WEBHOOK = "webhook", "Webhook (signed JSON)"
    DASHBOARD = "dashboard", "Dashboard (live in the console)"
    APPRISE = "apprise", "Apprise URL (Teams, Matrix, ...)"
    LOG = "log", "Log (the structured log, for log shippers)"


class NotificationChannel(models.Model):
    """Where messages go. Secrets (tokens, webhook URLs, credentials) live apart from
    the configuration: the API never returns them and the admin shows only their names."""

    # Seed 001 names channels as NotificationChannel.EMAIL etc.; they read as kinds here.
    SLACK = ChannelKind.SLACK
    EMAIL = ChannelKind.EMAIL
    SMS = ChannelKind.SMS
    PAGERDUTY = ChannelKind.PAGERDUTY
    DISCORD = ChannelKind.DISCORD
    TELEGRAM = ChannelKind.TELEGRAM
    WEBHOOK = ChannelKind.WEBHOOK
    DASHBOARD = ChannelKind.DASHBOARD
    APPRISE = ChannelKind.APPRISE
    LOG = ChannelKind.LOG

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=12, choices=ChannelKind.choices)
    config = models.JSONField(default=dict, blank=True)
    secrets = models.JSONField(default=dict, blank=True)
    # The environment variable each secret came from in a configuration file, so an
    # export writes the same ${NAME} references back; never the values themselves.
    secret_refs = models.JSONField(default=dict, blank=True, editable=False)
    min_severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.INFO)
    enabled = models.BooleanField(default=True)
    send_resolved = models.BooleanField(default=True)
    rate_limit_per_minute = models.PositiveIntegerField(
        null=True, blank=True, help_text="Blank: the kind's default (Slack 60, PagerDuty 120)."
    )
    # Circuit breaker: consecutive failed attempts, and when the channel may be tried again.
    consecutive_failures = models.PositiveIntegerField(default=0)
    circuit_open_until = models.DateTimeField(null=True, blank=True)
    # Rate limit: the earliest time the next message may go out.
    next_send_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "alerts_notificationchannel"
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"


class RoutingRule(models.Model):
    """Alerts matching severities, categories and labels go to channels. Every matching
    enabled rule contributes its channels (empty lists match anything)."""

    name = models.CharField(max_length=100, unique=True)
    position = models.PositiveIntegerField(default=100)
    enabled = models.BooleanField(default=True)
    severities = models.JSONField(
        default=list, blank=True, help_text=f"Any of {', '.join(Severity.values)}; [] = all."
    )
    categories = models.JSONField(
        default=list, blank=True, help_text=f"Any of {', '.join(Category.values)}; [] = all."
    )
    label_matchers = models.JSONField(
        default=dict, blank=True, help_text='Every label must equal: {"team": "db"}.'
    )
    channel_kinds = models.JSONField(
        default=list, blank=True, help_text="Every enabled channel of these kinds."
    )
    all_channels = models.BooleanField(default=False, help_text="Every enabled channel.")
    channels = models.ManyToManyField(
        NotificationChannel,
        blank=True,
        related_name="routes",
        db_table="alerts_routingrule_channels",
    )
    # Grouping (Alertmanager's timers): alerts that share the values of ``group_by``
    # go out together, one message per channel per group.
    group_by = models.JSONField(
        default=default_group_by,
        blank=True,
        help_text=(
            f"Any of {', '.join(GROUP_FIELDS)} or a label name; [] = one group for every "
            f'alert of this rule; ["{NO_GROUPING}"] = no grouping (one message per alert).'
        ),
    )
    group_wait = models.PositiveIntegerField(
        default=30,
        validators=[MaxValueValidator(MAX_GROUP_SECONDS)],
        help_text="Seconds a new group waits for more alerts before its first message.",
    )
    group_interval = models.PositiveIntegerField(
        default=300,
        validators=[MaxValueValidator(MAX_GROUP_SECONDS)],
        help_text="Seconds at least between two messages of a group that changed.",
    )
    repeat_interval = models.PositiveIntegerField(
        default=4 * 3600,
        validators=[MinValueValidator(60), MaxValueValidator(MAX_GROUP_SECONDS)],
        help_text="Seconds before a group whose alerts are still firing, unchanged and "
        "unacknowledged is sent again.",
    )
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "alerts_routingrule"
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name

    @property
    def grouped(self) -> bool:
        return NO_GROUPING not in (self.group_by or [])


class AlertGroup(models.Model):
    """Alerts of one routing rule that share their ``group_by`` values: what one
    message per channel tells about together. Its timer (``next_flush_at``) says when
    it next sends; a group whose alerts are all resolved and reported is closed."""

    rule = models.ForeignKey(RoutingRule, on_delete=models.CASCADE, related_name="groups")
    # rule-independent identity of the group: the values it groups by, hashed (or the
    # alert's own fingerprint when the rule does not group). PagerDuty's dedup key.
    key = models.CharField(max_length=64)
    labels = models.JSONField(default=dict, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    # When the group next sends: set when something changed (or a repeat is due).
    next_flush_at = models.DateTimeField(null=True, blank=True)
    last_sent_at = models.DateTimeField(null=True, blank=True)
    flushes = models.PositiveIntegerField(default=0)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [
            # One open group per rule and key; closed ones stay for the history.
            models.UniqueConstraint(
                fields=["rule", "key"],
                condition=Q(closed_at__isnull=True),
                name="alertgroup_one_open",
            )
        ]
        indexes = [
            models.Index(
                fields=["next_flush_at"],
                condition=Q(next_flush_at__isnull=False),
                name="alertgroup_due",
            )
        ]

    def __str__(self) -> str:
        values = ", ".join(f"{k}={v}" for k, v in sorted(self.labels.items()))
        return f"{self.rule.name}: {values or 'all alerts'}"


class AlertGroupMember(models.Model):
    """One alert in a group, and what the group's messages have said of it."""

    group = models.ForeignKey(AlertGroup, on_delete=models.CASCADE, related_name="members")
    alert = models.ForeignKey(
        "alerts.Alert", on_delete=models.CASCADE, related_name="group_memberships"
    )
    joined_at = models.DateTimeField()
    # The severity the last message told (an escalation is news).
    sent_severity = models.CharField(max_length=10, blank=True)
    firing_sent_at = models.DateTimeField(null=True, blank=True)
    resolved_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["joined_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["group", "alert"], name="alertgroupmember_once")
        ]


class Transition(models.TextChoices):
    FIRING = "firing", "Firing"
    REPEAT = "repeat", "Still firing (repeat)"
    ESCALATED = "escalated", "Escalated"
    RESOLVED = "resolved", "Resolved"
    TEST = "test", "Test message"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    RETRYING = "retrying", "Retrying"
    FAILED = "failed", "Failed (permanent)"
    DEAD = "dead", "Dead letter (retries exhausted)"
    CANCELLED = "cancelled", "Cancelled (no longer relevant)"


WAITING_STATUSES = (DeliveryStatus.PENDING, DeliveryStatus.RETRYING)


class Notification(models.Model):
    """One message for one channel: the outbox row, written in the same transaction as
    the alert change that caused it, and its delivery record."""

    alert = models.ForeignKey(
        "alerts.Alert",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    channel = models.ForeignKey(
        NotificationChannel, on_delete=models.CASCADE, related_name="notifications"
    )
    transition = models.CharField(max_length=10, choices=Transition.choices)
    # alert:channel:transition:occurrence; a second routing of the same change is refused.
    idempotency_key = models.CharField(max_length=120, unique=True)
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    # Set by the sweeper when it enqueues: a lost task is enqueued again after a grace.
    enqueued_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    # Which claim holds the row: an outcome is recorded only by the claim that sent it.
    claim_token = models.UUIDField(null=True, blank=True, editable=False)
    last_error = models.TextField(blank=True)
    response_code = models.PositiveIntegerField(null=True, blank=True)
    context = models.JSONField(default=dict, blank=True)
    # A message about a group of alerts (``alert`` is set too when it tells of one).
    group = models.ForeignKey(
        "AlertGroup", null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    # The alert's severity rank when routed (0 info .. 3 critical): the delivery lane
    # sends the most urgent due message first.
    urgency = models.PositiveSmallIntegerField(default=0)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "alerts_notification"
        ordering = ["-created", "-id"]
        indexes = [
            # The delivery lane: the most urgent waiting rows that are due.
            models.Index(
                fields=["-urgency", "next_attempt_at"],
                condition=Q(status__in=["pending", "retrying"]),
                name="notification_due_urgent",
            ),
            # Waiting rows that are due: the lane's idle check and the oldest-age gauge.
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status__in=["pending", "retrying"]),
                name="notification_due",
            ),
            # Claims whose sender vanished (lease expired).
            models.Index(
                fields=["lease_until"],
                condition=Q(status="sending"),
                name="notification_leased",
            ),
            # Routing: what this alert already sent to each channel (resolved, cooldown).
            models.Index(fields=["alert", "channel", "transition"], name="notification_alert"),
            # The delivery log of one channel, newest first.
            models.Index(fields=["channel", "-created"], name="notification_channel_log"),
            # The delivery log filtered by status, newest first.
            models.Index(fields=["status", "-created"], name="notification_status_log"),
        ]

    def __str__(self) -> str:
        return f"{self.transition} → {self.channel_id} ({self.status})"

"""People: how to reach them (contact methods) and in what order (notification rules)."""

from __future__ import annotations

import secrets
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models


def new_secret() -> str:
    """A feed's secret: 32 random bytes, URL-safe."""
    return secrets.token_urlsafe(32)


def validate_time_zone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"{value!r} is not a time zone (e.g. Europe/Berlin, UTC)") from None


class ContactKind(models.TextChoices):
    EMAIL = "email", "Email"
    PHONE = "phone", "Phone (SMS)"
    SLACK = "slack", "Slack member"
    TELEGRAM = "telegram", "Telegram chat"


# Which channel kind carries each contact method (its settings: the SMTP server, the
# Twilio account, the Slack webhook, the Telegram bot).
CHANNEL_KIND = {
    ContactKind.EMAIL: "email",
    ContactKind.PHONE: "sms",
    ContactKind.SLACK: "slack",
    ContactKind.TELEGRAM: "telegram",
}


class ContactMethod(models.Model):
    """One way to reach a person. Used only once verified: a test message carried a
    code that the person typed back."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="contact_methods"
    )
    kind = models.CharField(max_length=10, choices=ContactKind.choices)
    address = models.CharField(
        max_length=200,
        help_text="An email address, a phone number in E.164 form (+15551234567), a Slack "
        "member id (U012AB3CD) or a Telegram chat id.",
    )
    label = models.CharField(max_length=60, blank=True)
    channel = models.ForeignKey(
        "notifications.NotificationChannel",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The channel whose settings send to this address; blank: the first "
        "enabled channel of the matching kind.",
    )
    verified_at = models.DateTimeField(null=True, blank=True)
    verification_code = models.CharField(max_length=8, blank=True, editable=False)
    verification_sent_at = models.DateTimeField(null=True, blank=True, editable=False)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["user_id", "kind", "id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "kind", "address"], name="contact_once")
        ]
        indexes = [
            # Inbound replies: the person behind a phone number or Slack member id.
            models.Index(fields=["kind", "address"], name="contact_by_address")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.address}"

    @property
    def verified(self) -> bool:
        return self.verified_at is not None


class Urgency(models.TextChoices):
    HIGH = "high", "High urgency (error, critical)"
    LOW = "low", "Low urgency (info, warning)"
    ANY = "any", "Any urgency"


class NotificationRule(models.Model):
    """ "When I am paged at this urgency, use this contact method after N minutes if the
    alert is still unacknowledged." A person without rules is reached on every verified
    contact method at once."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_rules"
    )
    contact_method = models.ForeignKey(
        ContactMethod, on_delete=models.CASCADE, related_name="rules"
    )
    urgency = models.CharField(max_length=4, choices=Urgency.choices, default=Urgency.ANY)
    delay_minutes = models.PositiveIntegerField(default=0, validators=[MaxValueValidator(1440)])

    class Meta:
        ordering = ["user_id", "delay_minutes", "id"]

    def __str__(self) -> str:
        return f"{self.get_urgency_display()}: {self.contact_method} after {self.delay_minutes} min"

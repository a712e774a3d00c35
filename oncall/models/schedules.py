"""On-call schedules: rotations in layers, and overrides."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from oncall.models.people import new_secret, validate_time_zone


class Schedule(models.Model):
    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    # The secret of its iCalendar feed; a new one revokes the old address.
    feed_token = models.CharField(max_length=64, unique=True, default=new_secret, editable=False)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PersonalFeed(models.Model):
    """The secret address of a person's own on-call calendar."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="oncall_feed"
    )
    token = models.CharField(max_length=64, unique=True, default=new_secret)


class ShiftLength(models.TextChoices):
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"
    HOURS = "hours", "Every N hours"


class Rotation(models.Model):
    """Participants take turns, in order, handing over at ``handoff_time`` in the
    schedule's time zone (daily and weekly shifts keep that wall-clock time across DST
    changes; N-hour shifts are N hours of elapsed time). Within a schedule the highest
    layer that has someone on call wins."""

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="rotations")
    name = models.CharField(max_length=100)
    layer = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(99)]
    )
    length = models.CharField(max_length=6, choices=ShiftLength.choices, default=ShiftLength.WEEKLY)
    shift_hours = models.PositiveIntegerField(
        default=12,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 28)],
        help_text="Hours per shift when the length is 'Every N hours'.",
    )
    handoff_time = models.TimeField(default="09:00")
    start_date = models.DateField()
    participants = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="RotationMember", related_name="rotations"
    )

    class Meta:
        ordering = ["schedule_id", "-layer", "id"]
        constraints = [
            models.UniqueConstraint(fields=["schedule", "name"], name="rotation_name_once")
        ]

    def __str__(self) -> str:
        return f"{self.schedule.name}: {self.name} (layer {self.layer})"


class RotationMember(models.Model):
    rotation = models.ForeignKey(Rotation, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["rotation_id", "position", "id"]

    def __str__(self) -> str:
        return f"{self.position + 1}. {self.user}"


class Override(models.Model):
    """Someone covers a window of a schedule: for one person (``replaces``) or for
    whoever is on call then (blank)."""

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="overrides")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="oncall_overrides"
    )
    replaces = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="Blank: whoever would be on call.",
    )
    start = models.DateTimeField()
    end = models.DateTimeField()
    note = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["schedule_id", "start", "id"]
        indexes = [
            # Who covers a schedule now and next: its overrides not yet ended.
            models.Index(fields=["schedule", "end"], name="override_current")
        ]

    def __str__(self) -> str:
        return f"{self.user} on {self.schedule.name} {self.start:%Y-%m-%d %H:%M}-{self.end:%H:%M}"

    def clean(self) -> None:
        if self.start and self.end and self.end <= self.start:
            raise ValidationError({"end": "The override must end after it starts."})

"""Escalation policies, their steps, and the escalations running under them."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q


class EscalationPolicy(models.Model):
    """Steps taken in order while an alert stays unacknowledged; routing rules that
    name the policy start it for each alert they take."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    repeat = models.PositiveSmallIntegerField(
        default=0,
        validators=[MaxValueValidator(20)],
        help_text="Times the policy starts over from step 1 after its last step (a 'repeat "
        "from step N' step uses the same count).",
    )
    routing_rules = models.ManyToManyField(
        "notifications.RoutingRule",
        blank=True,
        related_name="escalation_policies",
        help_text="Alerts these routing rules take are escalated by this policy, beside the "
        "rules' channels (a rule without channels escalates instead).",
    )
    # What the lint found at the last save: unreachable steps, empty schedules, people
    # nobody could reach. Shown in the admin, the API and the policy's page.
    problems = models.JSONField(default=list, blank=True, editable=False)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "escalation policies"

    def __str__(self) -> str:
        return self.name


class StepAction(models.TextChoices):
    SCHEDULE = "schedule", "Notify whoever is on call in a schedule"
    NEXT_ON_CALL = "next", "Notify the next person on call in a schedule"
    PERSON = "person", "Notify a person"
    GROUP = "group", "Notify every member of a group"
    CHANNEL = "channel", "Notify a channel"
    REPEAT_FROM = "repeat", "Repeat from step N"


class EscalationStep(models.Model):
    policy = models.ForeignKey(EscalationPolicy, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField(default=0)
    action = models.CharField(max_length=8, choices=StepAction.choices)
    schedule = models.ForeignKey(
        "oncall.Schedule", null=True, blank=True, on_delete=models.PROTECT, related_name="steps"
    )
    person = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    group = models.ForeignKey(
        "auth.Group", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    channel = models.ForeignKey(
        "notifications.NotificationChannel",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    repeat_from = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Step number (1 = first).",
    )
    wait_minutes = models.PositiveIntegerField(
        default=5,
        validators=[MaxValueValidator(1440)],
        help_text="Minutes to wait after this step before the next one.",
    )

    # Not stored: the step's place in its policy, set by the escalation's step cache.
    position_index: int
    position_label: str

    class Meta:
        ordering = ["policy_id", "position", "id"]

    def __str__(self) -> str:
        return f"{self.policy.name} step {self.position + 1}: {self.get_action_display()}"

    def clean(self) -> None:
        needs: dict[str, str] = {
            StepAction.SCHEDULE: "schedule",
            StepAction.NEXT_ON_CALL: "schedule",
            StepAction.PERSON: "person",
            StepAction.GROUP: "group",
            StepAction.CHANNEL: "channel",
            StepAction.REPEAT_FROM: "repeat_from",
        }
        field = needs.get(self.action)
        if field and getattr(self, f"{field}_id" if field != "repeat_from" else field) is None:
            raise ValidationError({field: f"Required for '{self.get_action_display()}'."})


class EscalationStatus(models.TextChoices):
    ACTIVE = "active", "Escalating"
    HELD = "held", "Held (alert silenced or suppressed)"
    ACKNOWLEDGED = "acknowledged", "Stopped: acknowledged"
    RESOLVED = "resolved", "Ended: resolved"
    EXHAUSTED = "exhausted", "Ended: every step taken"


class Escalation(models.Model):
    """One alert escalating under one policy: where it stands (the next step, the
    round, when) lives here, so it survives restarts; the ticker takes each step once."""

    alert = models.ForeignKey("alerts.Alert", on_delete=models.CASCADE, related_name="escalations")
    policy = models.ForeignKey(EscalationPolicy, on_delete=models.CASCADE, related_name="runs")
    routing_rule = models.ForeignKey(
        "notifications.RoutingRule",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    status = models.CharField(
        max_length=12, choices=EscalationStatus.choices, default=EscalationStatus.ACTIVE
    )
    next_position = models.PositiveSmallIntegerField(default=0)
    round = models.PositiveSmallIntegerField(default=0)
    next_step_at = models.DateTimeField(null=True, blank=True)
    # Steps taken so far: the number of the next one, and part of its outbox keys.
    taken = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_reason = models.CharField(max_length=200, blank=True)
    # Not stored: ``taken`` as read before a step, which the step's update must match.
    read_taken: int

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["alert", "policy"], name="escalation_once_per_alert")
        ]
        indexes = [
            # The ticker: running escalations whose next step is due.
            models.Index(
                fields=["next_step_at"],
                condition=Q(status="active"),
                name="escalation_due",
            )
        ]

    def __str__(self) -> str:
        return f"alert #{self.alert_id} under {self.policy.name} ({self.status})"


class StepTaken(models.Model):
    """A step an escalation took, with whom it reached and whom it could not. The
    unique sequence number is the last guard of "each step exactly once"."""

    escalation = models.ForeignKey(Escalation, on_delete=models.CASCADE, related_name="steps_taken")
    sequence = models.PositiveIntegerField()
    position = models.PositiveSmallIntegerField()
    round = models.PositiveSmallIntegerField(default=0)
    action = models.CharField(max_length=8, choices=StepAction.choices)
    summary = models.TextField()
    reached = models.JSONField(default=list, blank=True)
    unreached = models.JSONField(default=list, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["escalation_id", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["escalation", "sequence"], name="step_taken_once")
        ]

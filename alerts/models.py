"""Alerts, their timeline, the rules that raise them and the silences that mute them."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db import models
from django.db.models import Case, IntegerField, Q, Value, When
from django.utils import timezone

from alerts.constants import (
    OPEN_STATUSES,
    POLICY_ACTORS,
    SEVERITY_RANK,
    Category,
    EventKind,
    Severity,
    Status,
)
from alerts.filtering import SEVERITY_ORDER, AlertFilter
from opsconsole.bounds import DAY, between, finite

# A window covers at least one collection (5 s at the shortest) and at most 30 days, the
# longest history a chart shows; `for`, cooldown and repeat share the upper bound.
WINDOW_BOUNDS = (5, 30 * DAY)
HOLD_BOUNDS = (0, 30 * DAY)
# A latency rule without its own minimum needs this many samples in its window.
DEFAULT_LATENCY_MIN_SAMPLES = 5


class AlertRule(models.Model):
    class Kind(models.TextChoices):
        SYSTEM_METRIC = "system_metric", "System metric"
        PROCESS_METRIC = "process_metric", "Process metric"
        SERVICE_HEALTH = "service_health", "Service health"
        CUSTOM_METRIC = "custom_metric", "Custom metric (pushed over the API)"
        ABSENCE = "absence", "No data"
        LATENCY = "latency", "Latency"
        TREND = "trend", "Trend (growth over the window)"

    # The kinds that read stored metric samples (per host and series): the evaluator
    # reads their windows, the form asks for a metric.
    METRIC_KINDS = frozenset(
        {Kind.SYSTEM_METRIC, Kind.CUSTOM_METRIC, Kind.LATENCY, Kind.TREND, Kind.ABSENCE}
    )

    class Operator(models.TextChoices):
        GT = "gt", ">"
        GTE = "gte", ">="
        LT = "lt", "<"
        LTE = "lte", "<="
        EQ = "eq", "=="
        NE = "ne", "!="

    class Aggregation(models.TextChoices):
        AVG = "avg", "average"
        MAX = "max", "maximum"
        MIN = "min", "minimum"
        LAST = "last", "last value"
        COUNT = "count", "count of samples"
        RATE = "rate", "rate per second"
        # Nearest-rank percentiles of the samples in the window (PostgreSQL's
        # percentile_disc), e.g. a latency rule that pages on its P95.
        P50 = "p50", "50th percentile (median)"
        P95 = "p95", "95th percentile"
        P99 = "p99", "99th percentile"

    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.SYSTEM_METRIC)
    metric = models.CharField(
        max_length=255, blank=True, help_text="Metric name, e.g. cpu_usage_percent."
    )
    process = models.CharField(max_length=255, blank=True, help_text="Process name to watch.")
    service = models.CharField(
        max_length=255,
        blank=True,
        help_text="Service endpoint name (* for every endpoint). A service health rule reads "
        "its checks: response time in ms (avg, max, min, last), or failed checks (count, "
        "rate per second).",
    )
    host = models.CharField(
        max_length=255, blank=True, help_text="Only this host (blank: every host)."
    )
    operator = models.CharField(max_length=3, choices=Operator.choices, default=Operator.GT)
    threshold = models.FloatField(null=True, blank=True, validators=[finite])
    clear_threshold = models.FloatField(
        null=True,
        blank=True,
        validators=[finite],
        help_text="Resolve only past this value (hysteresis); blank: the threshold itself.",
    )
    window_seconds = models.PositiveIntegerField(
        default=300, validators=between(*WINDOW_BOUNDS), help_text="5 s to 30 days."
    )
    aggregation = models.CharField(
        max_length=5, choices=Aggregation.choices, default=Aggregation.AVG
    )
    min_samples = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=between(1, 100_000, ""),
        help_text="Fewer samples than this in the window and the rule waits: it neither "
        f"fires nor resolves. Blank: {DEFAULT_LATENCY_MIN_SAMPLES} for latency rules (never "
        "page on one sample), 1 for the others.",
    )
    for_seconds = models.PositiveIntegerField(
        default=0,
        validators=between(*HOLD_BOUNDS),
        help_text="How long the condition must hold before the alert fires (up to 30 days).",
    )
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.WARNING)
    category = models.CharField(max_length=20, choices=Category.choices, default=Category.SYSTEM)
    labels = models.JSONField(default=dict, blank=True)
    cooldown_seconds = models.PositiveIntegerField(
        default=300, validators=between(*HOLD_BOUNDS), help_text="Up to 30 days."
    )
    repeat_interval_seconds = models.PositiveIntegerField(
        default=3600, validators=between(*HOLD_BOUNDS), help_text="Up to 30 days."
    )
    enabled = models.BooleanField(default=True)
    description = models.TextField(blank=True)
    runbook_url = models.URLField(blank=True)
    recommendations = models.JSONField(default=list, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)
    # Set by the evaluator when this rule could not be evaluated (the others go on),
    # cleared by the first pass that evaluates it again. Written with update(), so
    # marking a rule does not count as an edit (``updated`` stays).
    broken_reason = models.TextField(blank=True, editable=False)
    broken_since = models.DateTimeField(null=True, blank=True, editable=False)

    # The numbers the evaluator turns into time spans and comparisons.
    BOUNDED_FIELDS = (
        "window_seconds",
        "min_samples",
        "for_seconds",
        "cooldown_seconds",
        "repeat_interval_seconds",
        "threshold",
        "clear_threshold",
    )
    # Not stored: set on loaded rules by the evaluator and the preview. The metric's
    # parsed name and labels (the rule's own labels merged in), and what is wrong with
    # the stored values (opsconsole.bounds).
    _name: str
    _labels: dict[str, str]
    _stored_problems: list[str]

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def broken(self) -> bool:
        return self.broken_since is not None

    @property
    def required_samples(self) -> int:
        """The samples a window needs before the rule judges it."""
        if self.min_samples:
            return self.min_samples
        return DEFAULT_LATENCY_MIN_SAMPLES if self.kind == self.Kind.LATENCY else 1

    @property
    def percentile(self) -> int | None:
        """95 for a rule reading the 95th percentile; None for other readings."""
        if self.aggregation in (self.Aggregation.P50, self.Aggregation.P95, self.Aggregation.P99):
            return int(self.aggregation[1:])
        return None


class AlertQuerySet(models.QuerySet):
    """The alert lists' shared questions: the API, the console pages and the live list
    ask them here, so the same filter shows the same alerts everywhere."""

    def filtered(self, chosen: AlertFilter) -> AlertQuerySet:
        return self.filter(chosen.as_q())

    def most_severe_first(self) -> AlertQuerySet:
        rank = Case(
            *[When(severity=name, then=Value(n)) for n, name in enumerate(SEVERITY_ORDER)],
            output_field=IntegerField(),
        )
        return self.annotate(rank=rank).order_by("-rank", "-last_seen", "-id")


class Alert(models.Model):
    fingerprint = models.CharField(max_length=64, db_index=True)
    alert_type = models.CharField(max_length=120)
    title = models.CharField(max_length=300)
    message = models.TextField()
    severity = models.CharField(max_length=10, choices=Severity.choices)
    category = models.CharField(max_length=20, choices=Category.choices)
    resource = models.CharField(max_length=255, blank=True)
    labels = models.JSONField(default=dict, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    recommendations = models.JSONField(default=list, blank=True)
    stack_trace = models.TextField(blank=True)
    related_logs = models.TextField(blank=True)
    affected_users = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=1)
    value = models.FloatField(null=True, blank=True)
    threshold = models.FloatField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACTIVE)
    notification_count = models.PositiveIntegerField(default=1)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    acknowledged_by = models.CharField(max_length=150, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledge_notes = models.TextField(blank=True)
    resolved_by = models.CharField(max_length=150, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution_notes = models.TextField(blank=True)
    suppressed_by = models.CharField(max_length=150, blank=True)
    suppressed_at = models.DateTimeField(null=True, blank=True)
    suppressed_reason = models.TextField(blank=True)
    suppressed_until = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    rule = models.ForeignKey(
        AlertRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts"
    )
    # While an inhibition rule holds this alert back: the open alert that inhibits it
    # (shown as a link on its page and in the list; cleared when it is let go).
    inhibited_by = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="inhibits",
        # Indexed for SET NULL: deleting alerts (retention) looks up what they inhibit.
    )

    objects = AlertQuerySet.as_manager()

    class Meta:
        constraints = [
            # Deduplication is the database's job, not only the service's: two workers
            # firing the same fingerprint at once still make one open alert.
            models.UniqueConstraint(
                fields=["fingerprint"],
                condition=Q(status__in=OPEN_STATUSES),
                name="one_open_alert_per_fingerprint",
            )
        ]
        indexes = [
            # The console's list: open alerts, newest first.
            models.Index(fields=["status", "-last_seen"], name="alert_status_recent"),
            # Patterns and history: alerts first seen in a period.
            models.Index(fields=["first_seen"], name="alert_first_seen"),
        ]

    # What may happen to an alert in each status: the service's transitions, the API's
    # 409s and the console's buttons all ask here. Expiry is an "expire" like a resolve.
    TRANSITIONS = {
        "acknowledge": frozenset({Status.ACTIVE, Status.SUPPRESSED}),
        "resolve": frozenset(OPEN_STATUSES),
        "suppress": frozenset(OPEN_STATUSES),
        "expire": frozenset(OPEN_STATUSES),
    }

    def __str__(self) -> str:
        return self.title

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def refusal(self, action: str) -> str | None:
        """Why the alert cannot take ``action`` now, in the words a 409 and the console's
        message use; None when it can."""
        if self.status in self.TRANSITIONS[action]:
            return None
        if action == "acknowledge" and self.status == Status.ACKNOWLEDGED:
            return f"alert #{self.pk} is already acknowledged by {self.acknowledged_by}"
        if action in ("resolve", "expire"):
            return f"alert #{self.pk} is already {self.status}"
        done = {"acknowledge": "acknowledged", "suppress": "suppressed"}[action]
        return f"alert #{self.pk} is {self.status}; only open alerts can be {done}"

    @property
    def actions(self) -> list[str]:
        """What a responder may do with it now (its page's and its row's buttons)."""
        return [a for a in ("acknowledge", "resolve", "suppress") if self.refusal(a) is None]

    @property
    def held_back(self) -> bool:
        """Suppressed by a policy (a silence, a dependency), not by a person: sent if
        still open when the policy ends."""
        return self.status == Status.SUPPRESSED and self.suppressed_by in POLICY_ACTORS

    @property
    def severity_rank(self) -> int:
        return SEVERITY_RANK[Severity(self.severity)]

    @property
    def priority(self):
        """Seed 001's name for the severity (AlertPriority.HIGH is error)."""
        from alerts.spec import AlertPriority

        return AlertPriority(self.severity)


class AlertEvent(models.Model):
    """The append-only timeline of an alert, and the audit log of every decision."""

    alert = models.ForeignKey(
        Alert, null=True, blank=True, on_delete=models.CASCADE, related_name="events"
    )
    rule = models.ForeignKey(
        AlertRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    kind = models.CharField(max_length=14, choices=EventKind.choices)
    actor = models.CharField(max_length=150, blank=True, help_text="Who, or 'system'.")
    reason = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created", "id"]
        indexes = [
            # An alert's timeline in order.
            models.Index(fields=["alert", "created"], name="alertevent_timeline"),
            # The audit stream, newest first.
            models.Index(fields=["-created"], name="alertevent_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} by {self.actor or 'system'}"


class SilenceQuerySet(models.QuerySet):
    """A silence's state at a moment, for lists, the API and the pipeline alike (a
    weekly window is judged within an active silence by ``alerts.silences``)."""

    def in_force(self, now):
        # Served by silence_ends_at.
        return self.filter(starts_at__lte=now, ends_at__gt=now)

    def pending(self, now):
        return self.filter(starts_at__gt=now)

    def expired(self, now):
        return self.filter(ends_at__lte=now)

    def in_state(self, state: str, now):
        return {"active": self.in_force, "pending": self.pending, "expired": self.expired}[state](
            now
        )


class Silence(models.Model):
    """Mutes matching alerts between two times, or in a weekly maintenance window."""

    STATES = ("pending", "active", "expired")

    matchers = models.JSONField(
        default=list,
        help_text='[{"field": "resource", "op": "eq"|"regex", "value": "db-01"}, ...]; '
        "fields: alert_type, resource, severity, category, or label:<name>.",
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    recurrence = models.JSONField(
        default=dict,
        blank=True,
        help_text='Weekly window: {"weekdays": [5, 6], "start": "22:00", "end": "02:00", '
        '"timezone": "Europe/Paris"}; blank: the whole period.',
    )
    comment = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created = models.DateTimeField(auto_now_add=True)

    objects = SilenceQuerySet.as_manager()

    class Meta:
        indexes = [
            # "Silences in force now": ends_at in the future.
            models.Index(fields=["ends_at"], name="silence_ends_at"),
        ]

    def __str__(self) -> str:
        return self.comment or f"silence #{self.pk}"

    def state(self, now=None) -> str:
        """pending (not started), active, or expired: the same bounds as the queryset's."""
        now = now or timezone.now()
        if self.ends_at <= now:
            return "expired"
        return "active" if self.starts_at <= now else "pending"

    def is_active(self, at: datetime) -> bool:
        """Whether it mutes matching alerts at ``at``: within its bounds and, for a weekly
        window, inside the window (the policies ask this of every silence in force)."""
        return self.state(at) == "active" and self.in_window(at)

    def in_window(self, at: datetime) -> bool:
        """Inside the weekly window at ``at`` (always, for a silence without one)."""
        recurrence = self.recurrence or {}
        if not recurrence:
            return True
        try:
            zone = ZoneInfo(recurrence.get("timezone") or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            zone = ZoneInfo("UTC")
        local = at.astimezone(zone)
        start = self.clock(recurrence.get("start", "00:00"))
        end = self.clock(recurrence.get("end", "23:59"))
        weekdays = set(recurrence.get("weekdays") or range(7))
        moment = local.time()
        if start <= end:
            return local.weekday() in weekdays and start <= moment < end
        # A window over midnight (22:00-02:00) belongs to the day it starts on.
        if moment >= start:
            return local.weekday() in weekdays
        return (local.weekday() - 1) % 7 in weekdays and moment < end

    @staticmethod
    def clock(text: str) -> time:
        """A time of day from "HH:MM" (as a recurrence stores it)."""
        hours, _, minutes = str(text).partition(":")
        return time(int(hours) % 24, int(minutes or 0) % 60)


class RuleState(models.Model):
    """Where one rule stands for one target (a host's series): the evaluator's memory
    between passes, for `for` durations, cooldowns, flapping and no-data."""

    class State(models.TextChoices):
        OK = "ok", "OK"
        PENDING = "pending", "Pending"
        FIRING = "firing", "Firing"

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="states")
    # What the evaluator last read or wrote of the row (its fields), so an unchanged
    # target is not saved again; set on loaded rows only.
    _loaded: tuple
    target = models.CharField(max_length=600, help_text="hostname/series key")
    state = models.CharField(max_length=8, choices=State.choices, default=State.OK)
    since = models.DateTimeField(help_text="When the current state began.")
    last_value = models.FloatField(null=True, blank=True)
    last_fired = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    # Times of recent state changes, newest last: the flapping detector's window.
    changes = models.JSONField(default=list, blank=True)
    flapping = models.BooleanField(default=False)
    no_data = models.BooleanField(default=False)
    alert = models.ForeignKey(Alert, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["rule", "target"], name="one_state_per_rule_target")
        ]

    def __str__(self) -> str:
        return f"{self.rule} @ {self.target}: {self.state}"


class InhibitionRule(models.Model):
    """Alertmanager's inhibit rule: while an open alert matches ``source_matchers``,
    alerts matching ``target_matchers`` with the same values of every ``equal`` field
    are held back (stored, shown, not sent), and sent if still open when it closes."""

    name = models.CharField(max_length=200, unique=True)
    enabled = models.BooleanField(default=True)
    source_matchers = models.JSONField(
        default=list,
        help_text="What the inhibiting alert matches; the silences' matchers.",
    )
    target_matchers = models.JSONField(
        default=list, help_text="What the alerts it holds back match."
    )
    equal = models.JSONField(
        default=list,
        blank=True,
        help_text="Fields both alerts must share (set, with the same value).",
    )
    description = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

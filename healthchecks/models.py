"""Service endpoints, the result of each check, and the state changes (flips) of each."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from alerts.constants import Severity
from healthchecks.constants import Kind, Outcome, State
from opsconsole.bounds import DAY, between, finite
from opsconsole.scrubbing import Scrubber


def default_interval() -> int:
    """New endpoints are checked every HEALTH_CHECK_INTERVAL seconds unless told."""
    return settings.HEALTH_CHECK_INTERVAL


# Checked at most every 5 s (a probe must finish within its interval) and at least once
# a day; a heartbeat may be expected up to yearly.
INTERVAL_BOUNDS = (5, DAY)
TIMEOUT_MAX = 120


class ServiceEndpoint(models.Model):
    name = models.CharField(max_length=120, unique=True)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.HTTP)
    target = models.CharField(
        max_length=500,
        blank=True,
        help_text="HTTP(S): a URL. TCP: host:port. Database: a Django alias (blank: default). "
        "Redis: a redis:// URL (blank: REDIS_URL). Queue and heartbeat: blank.",
    )
    interval_seconds = models.PositiveIntegerField(
        default=default_interval,
        validators=between(*INTERVAL_BOUNDS),
        help_text="5 s to 1 day.",
    )
    timeout_seconds = models.FloatField(
        default=10.0, validators=[*between(0.1, TIMEOUT_MAX), finite], help_text="0.1 to 120 s."
    )
    retries = models.PositiveSmallIntegerField(
        default=0,
        validators=between(0, 100, ""),
        help_text="Consecutive failures tolerated before the endpoint is DOWN (up to 100).",
    )
    max_response_time_ms = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=between(1, TIMEOUT_MAX * 1000, "ms"),
        help_text="Slower than this is DEGRADED (blank: never; up to 120,000 ms).",
    )
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.ERROR)
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="children",
        help_text="Depends on this endpoint: while it is down, this one's alerts are withheld.",
    )
    host = models.ForeignKey(
        "metrics.Host",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="endpoints",
        help_text="Runs on this host: while it stops reporting, this one's alerts are withheld.",
    )
    enabled = models.BooleanField(default=True)
    tags = models.JSONField(default=list, blank=True)

    # HTTP options
    http_method = models.CharField(max_length=7, default="GET")
    http_headers = models.JSONField(default=dict, blank=True)
    accepted_status_codes = models.CharField(
        max_length=200, default="200-399", help_text="Codes and ranges: 200-299,301,418."
    )
    expect_keyword = models.CharField(
        max_length=200, blank=True, help_text="The body must contain this text."
    )
    expect_json_path = models.CharField(
        max_length=200, blank=True, help_text="A JSONPath, e.g. $.status, that must match."
    )
    expect_json_value = models.CharField(
        max_length=200, blank=True, help_text="The value the JSONPath must have (blank: any)."
    )
    follow_redirects = models.BooleanField(default=True)
    tls_expiry_warning_days = models.PositiveSmallIntegerField(
        default=14,
        validators=between(0, 365, "days"),
        help_text="DEGRADED when the certificate expires within this many days (up to 365).",
    )

    # Heartbeat options
    ping_uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    period_seconds = models.PositiveIntegerField(
        default=3600,
        validators=between(5, 366 * DAY),
        help_text="Heartbeat: expected time between pings (5 s to 366 days).",
    )
    cron = models.CharField(
        max_length=100, blank=True, help_text="Heartbeat: a cron expression instead of a period."
    )
    grace_seconds = models.PositiveIntegerField(
        default=300, validators=between(0, 30 * DAY), help_text="Up to 30 days."
    )
    time_zone = models.CharField(max_length=64, default="UTC")
    last_ping = models.DateTimeField(null=True, blank=True)
    last_start = models.DateTimeField(null=True, blank=True)
    last_duration_ms = models.FloatField(null=True, blank=True)

    # Recovery action
    recovery_webhook_url = models.URLField(
        blank=True,
        help_text="Where the recovery actions below are POSTed (all but NOTIFY_ADMIN), e.g. "
        "a restart hook.",
    )
    recovery_after_failures = models.PositiveSmallIntegerField(
        default=3, validators=between(0, 100, "")
    )
    recovery_actions = models.JSONField(
        default=list,
        blank=True,
        help_text="Named actions, tried in order until one succeeds, once per outage: "
        '"NOTIFY_ADMIN" emails the admins; any other name ("RECONNECT", "RESTART") is '
        'POSTed to the webhook as {"action": name, ...}. Blank: ["RESTART"].',
    )
    # This outage's recovery has run (set when the failures reach the setting, cleared
    # by the next success), so it runs once per outage however long the outage lasts.
    recovery_done = models.BooleanField(default=False, editable=False)

    # Where it stands (written by the state machine only).
    state = models.CharField(max_length=10, choices=State.choices, default=State.UNKNOWN)
    state_since = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    # DOWN while an ancestor was down: its alert waits until the ancestor recovers.
    alert_withheld = models.BooleanField(default=False)
    last_checked = models.DateTimeField(null=True, blank=True)
    last_response_ms = models.FloatField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    next_check_at = models.DateTimeField(null=True, blank=True)
    from_environment = models.BooleanField(
        default=False, editable=False, help_text="Imported from SERVICE_ENDPOINTS."
    )
    removed_from_environment = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="When SERVICE_ENDPOINTS stopped naming it: it was disabled then, "
        "with its history kept, and is enabled again if the variable names it again.",
    )
    created = models.DateTimeField(auto_now_add=True)
    # Set when the scheduler or a check cycle could not handle this endpoint (the others
    # are checked all the same), cleared when a cycle checks it again.
    broken_reason = models.TextField(blank=True, editable=False)
    broken_since = models.DateTimeField(null=True, blank=True, editable=False)

    # The numbers scheduling and probing turn into time spans.
    BOUNDED_FIELDS = (
        "interval_seconds",
        "timeout_seconds",
        "retries",
        "max_response_time_ms",
        "tls_expiry_warning_days",
        "period_seconds",
        "grace_seconds",
        "recovery_after_failures",
    )

    class Meta:
        ordering = ["name"]
        indexes = [
            # The ticker's "due now": enabled endpoints whose next_check_at has passed.
            models.Index(fields=["enabled", "next_check_at"], name="endpoint_due"),
        ]

    def __str__(self) -> str:
        return self.name

    def target_for_display(self) -> str:
        """The target with its credentials masked (a URL's password, a token in its
        query), for pages and API readers who do not edit it."""
        return Scrubber().command_line(self.target) if self.target else ""

    @property
    def broken(self) -> bool:
        return self.broken_since is not None


class CheckResult(models.Model):
    endpoint = models.ForeignKey(ServiceEndpoint, on_delete=models.CASCADE, related_name="results")
    time = models.DateTimeField()
    outcome = models.CharField(max_length=4, choices=Outcome.choices)
    response_ms = models.FloatField(null=True, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        indexes = [
            # An endpoint's history and sparkline: its latest results, newest first.
            models.Index(fields=["endpoint", "-time"], name="result_recent"),
            # Retention: results older than the cut-off, in batches.
            models.Index(fields=["time"], name="result_time"),
        ]


class HourlyCheckSummary(models.Model):
    """Results rolled up per endpoint and hour, kept after the raw results are pruned."""

    endpoint = models.ForeignKey(ServiceEndpoint, on_delete=models.CASCADE, related_name="hours")
    hour = models.DateTimeField()
    checks = models.PositiveIntegerField(default=0)
    failures = models.PositiveIntegerField(default=0)
    avg_response_ms = models.FloatField(null=True, blank=True)
    max_response_ms = models.FloatField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "hour"], name="one_summary_per_hour")
        ]


class Flip(models.Model):
    """One state change. Uptime over a period is read from these, not from results."""

    endpoint = models.ForeignKey(ServiceEndpoint, on_delete=models.CASCADE, related_name="flips")
    time = models.DateTimeField()
    old_state = models.CharField(max_length=10, choices=State.choices)
    new_state = models.CharField(max_length=10, choices=State.choices)
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["time", "id"]
        indexes = [
            # Uptime: an endpoint's flips in a period and the last one before it.
            models.Index(fields=["endpoint", "time"], name="flip_endpoint_time"),
        ]


class LatencySample(models.Model):
    """End-to-end latency reported by a source (or measured by the console's ingest)."""

    source = models.CharField(max_length=120)
    time = models.DateTimeField()
    latency_ms = models.FloatField()

    class Meta:
        indexes = [
            # get_average_latency(): one source's samples in the recent window.
            models.Index(fields=["source", "time"], name="latency_source_time"),
            # Retention and the all-sources window.
            models.Index(fields=["time"], name="latency_time"),
        ]

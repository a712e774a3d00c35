"""The alerts app's series on ``/metrics``: alerts by status and severity, rules, silences,
and the evaluator's passes (skipped as overlapping, the last one's duration)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Count
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from alerts.constants import Severity, Status
from alerts.models import Alert, AlertRule, Silence


def alert_series() -> Iterable[Metric]:
    counts = {
        (row["status"], row["severity"]): row["n"]
        for row in Alert.objects.values("status", "severity").annotate(n=Count("id"))
    }
    alerts = GaugeMetricFamily(
        "opsconsole_alerts", "Alerts stored, by status and severity.", labels=["status", "severity"]
    )
    # Every combination, zeros included, so a panel's series never vanish.
    for status in Status.values:
        for severity in Severity.values:
            alerts.add_metric([status, severity], counts.get((status, severity), 0))
    rules = GaugeMetricFamily("opsconsole_alert_rules", "Alert rules, by state.", labels=["state"])
    enabled = AlertRule.objects.filter(enabled=True).count()
    rules.add_metric(["enabled"], enabled)
    rules.add_metric(["disabled"], AlertRule.objects.count() - enabled)
    broken = GaugeMetricFamily(
        "opsconsole_alert_rule_broken",
        "1 for an enabled rule the last evaluation pass could not evaluate (its reason is "
        "in the admin), 0 for the others.",
        labels=["rule"],
    )
    for name, since in AlertRule.objects.filter(enabled=True).values_list("name", "broken_since"):
        broken.add_metric([name], 0 if since is None else 1)
    silences = GaugeMetricFamily("opsconsole_silences_in_force", "Silences not yet expired.")
    # Served by silence_ends_at.
    silences.add_metric([], Silence.objects.filter(ends_at__gt=timezone.now()).count())
    yield from (alerts, rules, broken, silences)
    yield from evaluation_series()


def evaluation_series() -> Iterable[Metric]:
    from alerts.evaluator import pass_stats

    stats = pass_stats()
    skipped = CounterMetricFamily(
        "opsconsole_alert_evaluation_skipped",
        "Evaluation passes skipped because the previous one was still running.",
    )
    skipped.add_metric([], stats["skipped"])
    yield skipped
    if stats["last_seconds"] is not None:
        last = GaugeMetricFamily(
            "opsconsole_alert_evaluation_last_pass_seconds",
            "How long the last evaluation pass took.",
        )
        last.add_metric([], stats["last_seconds"])
        hosts = GaugeMetricFamily(
            "opsconsole_alert_evaluation_last_pass_hosts",
            "Hosts whose samples the last evaluation pass read (every host on a full pass).",
        )
        hosts.add_metric([], stats["last_hosts"] or 0)
        yield from (last, hosts)

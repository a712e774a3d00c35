"""Seed 002's thresholds as editable alert rules on a fresh console (registered with
``opsconsole.bootstrap.register_defaults`` by the alerts app's ``ready()``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from alerts.models import Alert, AlertEvent, AlertRule


def threshold_rules() -> list[str]:
    """Seed 002's thresholds as editable rules, on a fresh console only.

    Fresh means no rule, alert or timeline entry yet: an operator who deletes the
    defaults on a console with history does not get them back on the next start.
    """
    if AlertRule.objects.exists() or Alert.objects.exists() or AlertEvent.objects.exists():
        return []
    # (name, metric, aggregation, threshold, how far below it clears, extra fields)
    table: list[tuple[str, str, str, float, float | None, dict[str, Any]]] = [
        ("High CPU usage", "cpu_usage_percent", "avg", settings.CPU_ALERT_THRESHOLD, 10, {}),
        (
            "High memory usage",
            "memory_usage_percent",
            "avg",
            settings.MEMORY_ALERT_THRESHOLD,
            5,
            {},
        ),
        (
            "Disk almost full",
            "disk_usage_percent",
            "last",
            settings.DISK_ALERT_THRESHOLD,
            None,
            {"severity": "error", "for_seconds": 0},
        ),
        (
            # The P95 over the window, judged once it holds 5 samples (the latency
            # default), its severity growing with the overage.
            "Slow responses",
            "response_time_ms",
            "p95",
            settings.RESPONSE_TIME_ALERT_THRESHOLD,
            None,
            {"kind": AlertRule.Kind.LATENCY, "category": "performance"},
        ),
    ]
    rules = [
        AlertRule(
            name=name,
            metric=metric,
            aggregation=aggregation,
            threshold=threshold,
            clear_threshold=max(threshold - margin, 0) if margin else None,
            description=f"{aggregation} of {metric} over 5 minutes above {threshold:g} "
            "(from the environment's thresholds)",
            **{"for_seconds": 60, **extra},
        )
        for name, metric, aggregation, threshold, margin, extra in table
    ]
    AlertRule.objects.bulk_create(rules)
    return [f"created alert rule {rule.name!r}" for rule in rules]

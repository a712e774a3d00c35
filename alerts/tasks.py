"""django-q2 tasks of the alerts app (passing no data: they read what they need)."""

from __future__ import annotations

import logging
from dataclasses import asdict

from alerts.evaluator import evaluate as run_evaluation

logger = logging.getLogger(__name__)


def evaluate() -> dict:
    result = run_evaluation()
    if result.rules:
        logger.info(
            "evaluated %s rules over %s targets in %.1f ms: %s fired, %s resolved, %s withheld",
            result.rules,
            result.targets,
            result.seconds * 1000,
            result.fired,
            result.resolved,
            result.withheld,
        )
    return asdict(result)


def cleanup() -> dict:
    """Hourly: alerts closed longer than ALERT_RETENTION_DAYS, with their timeline and
    deliveries (``alerts.retention``)."""
    from alerts.retention import run_retention

    result = run_retention()
    if any(result.values()):
        logger.info("alert retention removed %s", result)
    return result

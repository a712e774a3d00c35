"""django-q2 tasks of the alerts app (passing no data: they read what they need)."""

from __future__ import annotations

import logging
from dataclasses import asdict

from alerts import delivery
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


def deliver_notifications(notification_ids: list[int]) -> dict[int, str]:
    """One delivery attempt of each due outbox row among these (see alerts.delivery)."""
    return delivery.deliver_batch(notification_ids)


def sweep_notifications() -> dict:
    """Re-enqueue due and abandoned outbox rows; route repeats (run by the ticker)."""
    return delivery.sweep()

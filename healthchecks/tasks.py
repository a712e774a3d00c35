"""django-q2 tasks of the healthchecks app (ids only through the queue)."""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)


def check_endpoints(endpoint_ids: list[int]) -> dict:
    """One cycle over the endpoints the ticker found due."""
    from healthchecks.runner import run_checks

    cycle = run_checks(endpoint_ids)
    for t in cycle.transitions:
        logger.info("%s: %s -> %s %s", t.endpoint.name, t.old, t.new, t.reason)
    return {
        "checked": cycle.checked,
        "transitions": len(cycle.transitions),
        "unknown": cycle.unknown,
    }


def upkeep() -> dict:
    """The monitor watching itself, then the end-to-end latency check."""
    from healthchecks.latency import latency_monitor
    from healthchecks.selfwatch import watch

    problems = watch()
    if problems:
        logger.warning("monitoring gap: %s", "; ".join(problems))
    return {"gaps": problems, "latency": latency_monitor.check_lag()}


def database_stats() -> dict:
    from healthchecks.dbstats import collect

    return collect()


def cleanup() -> dict:
    from healthchecks.retention import run_retention

    result = run_retention()
    logger.info("health retention: %s", result)
    return result

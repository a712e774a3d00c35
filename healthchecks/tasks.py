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


def watch() -> list[str]:
    from healthchecks.selfwatch import watch as run_watch

    problems = run_watch()
    if problems:
        logger.warning("monitoring gap: %s", "; ".join(problems))
    return problems


def check_latency() -> dict:
    from healthchecks.latency import latency_monitor

    return latency_monitor.check_lag()


def database_stats() -> dict:
    from healthchecks.dbstats import collect

    return collect()


def cleanup() -> dict:
    from healthchecks.retention import run_retention

    result = run_retention()
    logger.info("health retention: %s", result)
    return result

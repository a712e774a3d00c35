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


SQLITE_STATS_SECONDS = 300


def upkeep() -> dict:
    """Each minute: the end-to-end latency check and the database analytics.

    On SQLite the analytics are two file sizes, and the collector already records the
    database's size each collection: every five minutes is enough there, and spares an
    ingest (and the evaluation it triggers) four minutes out of five at rest.
    """
    from django.core.cache import cache
    from django.db import connection

    from healthchecks.dbstats import collect
    from healthchecks.latency import latency_monitor

    done: dict = {"latency": latency_monitor.check_lag()}
    if connection.vendor == "postgresql" or cache.add(
        "healthchecks:sqlite-stats", 1, timeout=SQLITE_STATS_SECONDS - 5
    ):
        done["database"] = collect()
    return done


def cleanup() -> dict:
    from healthchecks.retention import run_retention

    result = run_retention()
    logger.info("health retention: %s", result)
    return result

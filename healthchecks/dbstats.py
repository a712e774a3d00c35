"""Database analytics (seed 004) stored as metrics of the console's host, so rules and
charts use them like any other series.

PostgreSQL: connections in use against max_connections, sessions waiting on a lock,
queries running longer than DB_SLOW_QUERY_SECONDS (each also an alert carrying its
text and plan, seed 001's first example), database size and the buffer cache hit ratio.
SQLite: the database file and its write-ahead log.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from alerts import pipeline
from alerts.constants import OPEN_STATUSES, Category
from alerts.models import Alert
from alerts.service import fingerprint_of, priority_for_overage
from alerts.spec import AlertSpec
from metrics.ingest import Batch, ingest

SLOW_QUERY_ALERT = "database_slow_query"
DATABASE_RESOURCE = "database"

UNITS = {
    "pg_connections": "connections",
    "pg_max_connections": "connections",
    "pg_connections_used_percent": "%",
    "pg_lock_waits": "sessions",
    "pg_long_running_queries": "queries",
    "pg_database_size_bytes": "bytes",
    "pg_cache_hit_ratio_percent": "%",
    "sqlite_file_bytes": "bytes",
    "sqlite_wal_bytes": "bytes",
}


def postgres_values() -> dict[str, float]:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT
              (SELECT count(*) FROM pg_stat_activity),
              current_setting('max_connections')::int,
              (SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'),
              (SELECT count(*) FROM pg_stat_activity
                 WHERE state = 'active' AND pid <> pg_backend_pid()
                   AND now() - query_start > %s * interval '1 second'),
              pg_database_size(current_database()),
              (SELECT CASE WHEN sum(blks_hit) + sum(blks_read) = 0 THEN NULL
                      ELSE sum(blks_hit) * 100.0 / (sum(blks_hit) + sum(blks_read)) END
                 FROM pg_stat_database WHERE datname = current_database())
            """,
            [settings.DB_SLOW_QUERY_SECONDS],
        )
        used, most, lock_waits, long_running, size, hit = cursor.fetchone()
    values = {
        "pg_connections": float(used),
        "pg_max_connections": float(most),
        "pg_connections_used_percent": used * 100.0 / most if most else 0.0,
        "pg_lock_waits": float(lock_waits),
        "pg_long_running_queries": float(long_running),
        "pg_database_size_bytes": float(size),
    }
    if hit is not None:
        values["pg_cache_hit_ratio_percent"] = float(hit)
    return values


def sqlite_values() -> dict[str, float]:
    path = Path(str(connection.settings_dict["NAME"]))
    wal = Path(f"{path}-wal")
    if not path.exists():  # an in-memory database (the test suite's)
        return {}
    return {
        "sqlite_file_bytes": float(path.stat().st_size),
        "sqlite_wal_bytes": float(wal.stat().st_size if wal.exists() else 0),
    }


def slow_queries() -> list[dict]:
    """Queries running longer than DB_SLOW_QUERY_SECONDS, longest first (at most 5)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT pid, query_start, extract(epoch FROM now() - query_start), query,
                   usename, application_name
            FROM pg_stat_activity
            WHERE state = 'active' AND pid <> pg_backend_pid() AND datname = current_database()
              AND now() - query_start > %s * interval '1 second'
            ORDER BY query_start LIMIT 5
            """,
            [settings.DB_SLOW_QUERY_SECONDS],
        )
        rows = cursor.fetchall()
    return [
        {
            "pid": pid,
            "started": started,
            "seconds": float(seconds),
            "query": query or "",
            "user": user or "",
            "application": application or "",
        }
        for pid, started, seconds, query, user, application in rows
    ]


def explain(query: str) -> str:
    """The planner's plan for a query's text, or why there is none.

    Only a single SELECT (or WITH) statement is explained, without ANALYZE (so it is not
    run), inside a read-only transaction with a one-second statement timeout.
    """
    text = query.strip().rstrip(";").strip()
    if ";" in text or not text.lower().startswith(("select", "with")):
        return "not explained: only a single SELECT is"
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION READ ONLY")
            cursor.execute("SET LOCAL statement_timeout = 1000")
            cursor.execute(f"EXPLAIN {text}")
            return "\n".join(row[0] for row in cursor.fetchall())
    except DatabaseError as exc:
        return f"not explained: {str(exc).strip().splitlines()[0]}"


def alert_slow_queries() -> int:
    """One alert per slow query (its text and plan attached); resolved once it ends."""
    threshold = settings.DB_SLOW_QUERY_SECONDS
    current = set()
    for query in slow_queries():
        labels = {"pid": str(query["pid"]), "started": query["started"].isoformat()}
        current.add(fingerprint_of(SLOW_QUERY_ALERT, DATABASE_RESOURCE, labels))
        overage = (query["seconds"] - threshold) / threshold * 100
        pipeline.raise_alert(
            AlertSpec(
                alert_type=SLOW_QUERY_ALERT,
                title=f"Slow database query (pid {query['pid']})",
                message=(
                    f"Query has run {query['seconds']:.1f} s "
                    f"(threshold: {threshold:g} s, exceeded by {overage:.0f}%)"
                ),
                priority=priority_for_overage(overage),
                category=Category.DATABASE,
                resource=DATABASE_RESOURCE,
                labels=labels,
                metadata={
                    "query": query["query"][:4000],
                    "execution_plan": explain(query["query"]),
                    "seconds": round(query["seconds"], 1),
                    "user": query["user"],
                    "application": query["application"],
                },
                recommend=lambda: [
                    "Review the execution plan (attached) for sequential scans",
                    "Check pg_locks for what the query waits on",
                ],
                value=query["seconds"],
                threshold=float(threshold),
            ),
            actor="healthchecks",
        )
    for alert in Alert.objects.filter(alert_type=SLOW_QUERY_ALERT, status__in=OPEN_STATUSES):
        if alert.fingerprint not in current:
            pipeline.clear_alert(
                SLOW_QUERY_ALERT,
                DATABASE_RESOURCE,
                alert.labels,
                actor="healthchecks",
                note="the query finished",
            )
    return len(current)


def collect() -> dict[str, float]:
    """Sample the console's database and ingest the figures; returns them."""
    values = postgres_values() if connection.vendor == "postgresql" else sqlite_values()
    if connection.vendor == "postgresql":
        alert_slow_queries()
    if values:
        now = timezone.now()
        ingest(
            Batch(
                hostname=settings.LOCAL_HOSTNAME,
                samples=[(key, value, now) for key, value in values.items()],
                units={k: v for k, v in UNITS.items() if k in values},
                is_local=True,
            )
        )
    return values

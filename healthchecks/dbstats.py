"""Database analytics (seed 004) stored as metrics of the console's host, so rules and
charts use them like any other series.

PostgreSQL: connections in use against max_connections, sessions waiting on a lock,
queries running longer than a minute, database size and the buffer cache hit ratio.
SQLite: the database file and its write-ahead log.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.db import connection
from django.utils import timezone

from metrics.ingest import Batch, ingest

LONG_QUERY_SECONDS = 60
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
                 WHERE state = 'active' AND now() - query_start > %s * interval '1 second'),
              pg_database_size(current_database()),
              (SELECT CASE WHEN sum(blks_hit) + sum(blks_read) = 0 THEN NULL
                      ELSE sum(blks_hit) * 100.0 / (sum(blks_hit) + sum(blks_read)) END
                 FROM pg_stat_database WHERE datname = current_database())
            """,
            [LONG_QUERY_SECONDS],
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


def collect() -> dict[str, float]:
    """Sample the console's database and ingest the figures; returns them."""
    values = postgres_values() if connection.vendor == "postgresql" else sqlite_values()
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

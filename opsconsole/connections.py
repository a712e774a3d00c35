"""Database connections per process: pooled, returned, never shared across a fork.

Under daphne every request runs its synchronous code in a thread of its own
(``ThreadSensitiveContext``), and Django keeps a connection per thread. A persistent
connection (``CONN_MAX_AGE`` > 0) is then left behind in a thread that has ended, and
only the garbage collector closes it: 20 concurrent requests left 20 connections open,
two web processes held ~90 and reached PostgreSQL's limit. So no process keeps a
connection of its own: on PostgreSQL each borrows one from Django's psycopg pool
(``OPTIONS["pool"]``) and gives it back when Django closes it (the end of each request,
each q2 task, each ticker round); without the pool, ``CONN_MAX_AGE`` stays 0 in web
processes and the connection is closed at the end of the request.

A pool holds sockets and threads. Forked children (the supervisor's, q2's) must not
use the parent's: :func:`forget_inherited` runs in every child after ``fork``.
"""

from __future__ import annotations

import os
import time
import weakref
from typing import Any

from django.conf import settings

_inherited: list = []
# A connection given back to the pool less than this long ago is lent again without
# the health check's round trip: it answered a moment ago. One idle for longer (where a
# restarted server or a dropped socket shows) is checked as before.
CHECK_AFTER_IDLE_SECONDS = 2.0
# When each pooled connection was last given back (monotonic seconds).
_returned: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()


def _stamp_returned(conn: Any) -> None:
    """The pool's ``reset`` callback: runs as a connection comes back, idle."""
    _returned[conn] = time.monotonic()


def _check_unless_fresh(conn: Any) -> None:
    """The pool's ``check`` callback: psycopg's check (an empty query, one round trip)
    for a connection idle longer than CHECK_AFTER_IDLE_SECONDS. A batch of 50 samples
    costs about one round trip of its own, so checking every lent connection doubled
    the database's share of it; a broken connection among the fresh ones fails its
    request's first query, and psycopg discards it as it comes back."""
    from psycopg_pool import ConnectionPool

    returned = _returned.get(conn)
    if returned is not None and time.monotonic() - returned < CHECK_AFTER_IDLE_SECONDS:
        return
    ConnectionPool.check_connection(conn)


def pooled(alias: str = "default") -> bool:
    """Whether ``alias`` borrows its connections from a pool."""
    return bool(settings.DATABASES[alias].get("OPTIONS", {}).get("pool"))


def pool_options(*, max_size: int, min_size: int, timeout: float, max_idle: float) -> dict:
    """``OPTIONS["pool"]`` for Django's PostgreSQL backend (psycopg_pool's arguments)."""
    return {
        "min_size": min(min_size, max_size),
        "max_size": max_size,
        # A request that finds every connection lent waits this long, then fails with
        # a PoolTimeout instead of opening one more than the server was sized for.
        "timeout": timeout,
        # Connections above min_size that nobody borrowed for this long are closed.
        "max_idle": max_idle,
        # Stamps each connection as it comes back, for the check of idle ones (see
        # install_pool_check; Django passes the pool's check argument itself).
        "reset": _stamp_returned,
    }


def install_pool_check(sender: Any = None, connection: Any = None, **kwargs: Any) -> None:
    """``connection_created`` receiver: give a pool without a check the check of idle
    connections. Django passes ``check`` to the pool itself, psycopg's check of every
    loan when ``CONN_HEALTH_CHECKS`` is on, none when it is off (as the settings set it
    for a pooled alias), so the check is set on the pool the first time it lends."""
    pool = getattr(connection, "pool", None)
    if pool is not None and getattr(pool, "_check", _check_unless_fresh) is None:
        pool._check = _check_unless_fresh


def keep_connections(max_age: int) -> None:
    """For a long-lived synchronous process (q2's workers, the delivery lane): keep each
    thread's connection between tasks. A pooled alias keeps its pool instead: Django
    refuses persistent connections on a pool, and borrowing one is already cheap."""
    for database in settings.DATABASES.values():
        if not database.get("OPTIONS", {}).get("pool"):
            # (A pool checks its idle connections itself: see pool_options.)
            database["CONN_HEALTH_CHECKS"] = True
            database["CONN_MAX_AGE"] = max_age


def at_least(alias: str, connections: int) -> None:
    """Let ``alias``'s pool lend ``connections`` at once (a process with that many
    threads, each holding one while it works), before the pool is first opened."""
    options = settings.DATABASES[alias].get("OPTIONS", {}).get("pool")
    if isinstance(options, dict) and options.get("max_size", 0) < connections:
        options["max_size"] = connections


def close_pools() -> None:
    """Close every pool of this process (before forking children that must not share
    its sockets)."""
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        connection.close()
        close_pool = getattr(connection, "close_pool", None)
        if close_pool is not None and connection.vendor == "postgresql":
            close_pool()


def forget_inherited() -> None:
    """In a forked child: drop the parent's pools and connections without closing
    them. Closing would tell the server to end sessions the parent still uses; psycopg
    frees an object of another process without a word to the server."""
    if "django.db.backends.postgresql" not in _loaded_backends():
        return
    from django.db import connections
    from django.db.backends.postgresql.base import DatabaseWrapper

    # Kept, never collected: a pool's finaliser would wait on worker threads that
    # only the parent has.
    # Django 5.1's class-level pool registry, which django-stubs does not declare.
    pools: dict = DatabaseWrapper._connection_pools  # type: ignore[attr-defined]
    _inherited.extend(pools.values())
    pools.clear()
    for connection in connections.all(initialized_only=True):
        connection.connection = None


def unreachable_reason(error: BaseException) -> BaseException:
    """What to tell an operator about a database that cannot be reached.

    A pool only says it got no connection within its timeout; the server's own answer
    (refused, no such database, bad password) comes from one direct attempt."""
    from django.db import connection

    cause = error.__cause__
    if type(cause).__name__ != "PoolTimeout" or connection.vendor != "postgresql":
        return error
    import psycopg

    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    try:
        psycopg.connect(**params, connect_timeout=5).close()
    except psycopg.Error as direct:
        return direct
    return error


def name_process(role: str) -> None:
    """Name this process's future PostgreSQL sessions after its role, as
    ``pg_stat_activity.application_name`` shows them (``opsconsole-worker``...)."""
    for database in settings.DATABASES.values():
        if database["ENGINE"].endswith("postgresql"):
            database["OPTIONS"]["application_name"] = f"opsconsole-{role}"


def _loaded_backends() -> set[str]:
    import sys

    return {name for name in ("django.db.backends.postgresql",) if f"{name}.base" in sys.modules}


os.register_at_fork(after_in_child=forget_inherited)

"""Prepared statements on Django's PostgreSQL connection, for the few hot writes that
skip the ORM (a storm's repeat counter, a delivery's outcome).

Django's own cursors bind parameters client-side and are never prepared; a psycopg
server-side binding cursor on the same connection is, once psycopg's prepare threshold
is set (``opsconsole.env.database_from_url`` sets it; Django's default, None, disables
even an explicit ``prepare=True``). A statement planned once per connection instead of
on every call was most of these writes' cost.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

# A FROM item that turns the WAL flush wait off for the statement's transaction alone
# (``set_config(..., true)`` lasts to the transaction's end): the statement's own in
# autocommit, or the caller's if it holds one. Losing such a commit takes a crash of the
# database server within the WAL writer's delay (0.2 s by default, up to three times).
NO_FLUSH_WAIT = "(SELECT set_config('synchronous_commit', 'off', true)) AS no_flush_wait"


@contextlib.contextmanager
def server_cursor(connection) -> Iterator:
    """A psycopg server-side binding cursor on ``connection`` (a Django PostgreSQL
    connection), with Django's database errors; pass ``prepare=True`` to execute."""
    import psycopg

    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        yield cursor

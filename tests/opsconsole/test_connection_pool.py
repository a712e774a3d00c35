"""Database connections stay bounded: a served console (daphne, q2 workers, the
delivery lane, the ticker) on PostgreSQL answers 200 concurrent requests from its pool,
and a forked child never uses its parent's pooled connection."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
import threading
import time

import pytest
from django.db import connection

pytestmark = pytest.mark.postgres

POOL_SIZE = 6


def _needs_postgres() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        pytest.skip("needs PostgreSQL (DATABASE_URL)")
    return url


def _port() -> int:
    """A free port in the range this suite's servers use."""
    for port in range(9300, 9400):
        with socket.socket() as s, contextlib.suppress(OSError):
            s.bind(("127.0.0.1", port))
            return port
    raise RuntimeError("no free port in 9300-9399")


def _sessions(admin_url: str, database: str) -> dict[str, int]:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT application_name, count(*) FROM pg_stat_activity WHERE datname = %s GROUP BY 1",
            [database],
        ).fetchall()
    return dict(rows)


@contextlib.contextmanager
def _serving(**extra: str):
    from bench._common import ServedConsole, pg_drop, pg_recreate

    url = _needs_postgres()
    base, _, name = url.rpartition("/")
    admin_url, database = f"{base}/postgres", f"{name}_served"
    served_url = pg_recreate(database, admin_url)
    env = {"DATABASE_URL": served_url, **extra}
    if os.environ.get("REDIS_URL"):
        import redis

        redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()
        env.update(REDIS_URL=os.environ["REDIS_URL"], Q_BROKER="redis")
    console = ServedConsole(port=_port(), **env)
    try:
        yield console, admin_url, database
    finally:
        console.stop()
        console.remove()
        pg_drop(database, admin_url)


@pytest.fixture
def served():
    # A generous wait for a connection: what is measured is how many are open, and a
    # loaded machine must not turn a slow borrow into a refusal here.
    with _serving(DATABASE_POOL_MAX_SIZE=str(POOL_SIZE), DATABASE_POOL_TIMEOUT="60") as got:
        yield got


def test_it_answers_200_concurrent_requests_within_its_pool(served):
    import httpx

    console, admin_url, database = served
    token = console.manage("create_api_token", "--user", "admin", "--scopes", "read").strip()
    most: dict[str, int] = {}
    done = threading.Event()

    def watch():
        while not done.is_set():
            for name, count in _sessions(admin_url, database).items():
                most[name] = max(most.get(name, 0), count)
            done.wait(0.05)

    async def burst() -> list[int]:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=0)
        async with httpx.AsyncClient(
            base_url=console.url,
            limits=limits,
            timeout=120,
            headers={"Authorization": f"Bearer {token}"},
        ) as client:
            answers = await asyncio.gather(*(client.get("/api/v1/alerts") for _ in range(200)))
        return [answer.status_code for answer in answers]

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        codes = asyncio.run(burst())
    finally:
        done.set()
        watcher.join()
    assert codes == [200] * 200, console.log_path.read_text()[-4000:]
    # Every request borrowed from the web process's pool and gave its connection back:
    # never more than the pool lends, and nothing left for the garbage collector.
    assert 1 <= most["opsconsole-web"] <= POOL_SIZE, most
    assert _sessions(admin_url, database).get("opsconsole-web", 0) <= POOL_SIZE
    # The whole console (web, q2's sentinel, pusher, monitor and workers, the lane).
    assert sum(_sessions(admin_url, database).values()) <= 3 * POOL_SIZE, most


@pytest.mark.django_db(transaction=True)
def test_a_forked_child_opens_its_own_connection():
    _needs_postgres()
    from django.db import connections

    assert connection.settings_dict["OPTIONS"].get("pool"), "the suite runs pooled"
    parent_pid = connection.cursor().execute("SELECT pg_backend_pid()").fetchone()[0]
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe
        code = 1
        try:
            with connections["default"].cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                os.write(write, str(cursor.fetchone()[0]).encode())
            connections.close_all()
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    child_pid = int(os.read(read, 32) or 0)
    os.close(read)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert child_pid and child_pid != parent_pid
    # The parent's session was neither used nor ended by the child.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] == parent_pid


def _settings_in_child(tmp_path, **env: str) -> dict:
    import json
    import subprocess
    import sys

    from bench._common import ROOT, child_env

    script = (
        "import json, django; django.setup()\n"
        "from django.conf import settings\n"
        "from django.db import connection\n"
        "from opsconsole.connections import keep_connections\n"
        "db = settings.DATABASES['default']\n"
        "web_max_age = db['CONN_MAX_AGE']\n"
        "keep_connections(600)\n"
        "pool = db['OPTIONS'].get('pool')\n"
        "pool = pool and {k: getattr(v, '__name__', v) for k, v in pool.items()}\n"
        "print(json.dumps({'pool': pool, 'max_age': db['CONN_MAX_AGE'],"
        " 'web_max_age': web_max_age, 'checks': db['CONN_HEALTH_CHECKS'],"
        " 'prepare': connection.get_connection_params()['prepare_threshold']}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=child_env(
            DJANGO_SETTINGS_MODULE="opsconsole.settings", OPSCONSOLE_VAR_DIR=str(tmp_path), **env
        ),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_it_pools_by_default_and_keeps_no_connection_of_its_own(tmp_path):
    read = _settings_in_child(
        tmp_path, DATABASE_URL="postgres://ops@db.internal/console", DATABASE_POOL_MAX_SIZE="4"
    )
    assert read["pool"] == {
        "min_size": 1,
        "max_size": 4,
        "timeout": 10.0,
        "max_idle": 300.0,
        "reset": "_stamp_returned",
    }
    # Even in a worker that asks to keep its connections: Django refuses a persistent
    # connection on a pool, and the pool keeps them instead.
    assert read["web_max_age"] == read["max_age"] == 0
    assert read["prepare"] == 5
    # The pool checks its idle connections itself, not Django on every loan.
    assert read["checks"] is False


def test_behind_pgbouncer_the_pool_prepares_nothing(tmp_path):
    # Transaction mode hands each transaction any server connection: a statement
    # prepared on one is unknown on the next, so the pool's connections must not prepare.
    read = _settings_in_child(
        tmp_path, DATABASE_URL="postgres://ops@pgbouncer:6432/console?prepare_threshold=none"
    )
    assert read["pool"]["max_size"] == 10
    assert read["prepare"] is None


def test_without_a_pool_a_web_connection_ends_with_its_request(tmp_path):
    read = _settings_in_child(
        tmp_path, DATABASE_URL="postgres://ops@db.internal/console", DATABASE_POOL_MAX_SIZE="0"
    )
    assert read["pool"] is None
    assert read["web_max_age"] == 0
    # What the workers and the lane ask for (keep_connections); the web never does.
    assert read["max_age"] == 600


def test_a_request_that_gets_no_connection_in_time_is_told_to_retry(tmp_path):
    """One connection in the web process's pool, stuck behind a table lock: the other
    requests wait DATABASE_POOL_TIMEOUT and are answered 503 with Retry-After (which the
    agent honours), not a 500, and raise no error alert."""
    import httpx
    import psycopg

    with _serving(DATABASE_POOL_MAX_SIZE="1", DATABASE_POOL_TIMEOUT="1") as served_parts:
        console, admin_url, database = served_parts
        token = console.manage("create_api_token", "--user", "admin", "--scopes", "read")
        headers = {"Authorization": f"Bearer {token.strip()}"}
        base, _, _ = admin_url.rpartition("/")
        with (
            httpx.Client(base_url=console.url, timeout=60, headers=headers) as client,
            psycopg.connect(f"{base}/{database}") as locker,
        ):
            assert client.get("/api/v1/alerts").status_code == 200
            # Held until released below: whatever holds the web's one connection (a
            # request, or the ticker thread beside daphne) waits behind it.
            locker.execute("LOCK TABLE alerts_alert IN ACCESS EXCLUSIVE MODE")
            answers: list[httpx.Response] = []
            requests = [
                threading.Thread(target=lambda: answers.append(client.get("/api/v1/alerts")))
                for _ in range(3)
            ]
            for request in requests:
                request.start()
            deadline = time.monotonic() + 60
            while not _waiting_on_lock(admin_url, database):
                assert time.monotonic() < deadline, answers
                time.sleep(0.1)
            while not any(answer.status_code == 503 for answer in answers):
                assert time.monotonic() < deadline, answers
                time.sleep(0.1)
            locker.rollback()  # the lock goes: what waited behind it finishes
            for request in requests:
                request.join(60)
            after = client.get("/api/v1/alerts")
            scrape = client.get("/metrics").text
        codes = sorted(answer.status_code for answer in answers)
        assert set(codes) <= {200, 503}, codes
        busy = next(answer for answer in answers if answer.status_code == 503)
        assert busy.headers["Retry-After"] == "5"
        assert "no database connection came free within 1 s" in busy.json()["detail"]
        assert after.status_code == 200
        counted = re.search(r"^opsconsole_http_busy_answers_total (\S+)$", scrape, re.M)
        assert counted and float(counted.group(1)) >= codes.count(503)
        errors = console.manage(
            "shell",
            "-c",
            "from alerts.models import Alert\n"
            "print(Alert.objects.filter(alert_type__startswith='application_error').count())",
        )
        assert errors.strip().splitlines()[-1] == "0"


def _waiting_on_lock(admin_url: str, database: str) -> bool:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
            "AND application_name = 'opsconsole-web' AND wait_event_type = 'Lock'",
            [database],
        ).fetchone()
    return bool(row and row[0])


@pytest.fixture
def checks(monkeypatch):
    """The health checks the pool ran (psycopg's own check, counted)."""
    from psycopg_pool import ConnectionPool

    ran: list[int] = []
    check = ConnectionPool.check_connection

    def counted(conn):
        ran.append(conn.info.backend_pid)
        return check(conn)

    monkeypatch.setattr(ConnectionPool, "check_connection", staticmethod(counted))
    return ran


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_a_connection_given_back_a_moment_ago_is_lent_without_a_check(checks):
    from opsconsole.connections import _check_unless_fresh, pooled

    _needs_postgres()
    assert pooled()
    _backend_pid()
    assert connection.pool._check is _check_unless_fresh  # type: ignore[attr-defined]
    connection.close()  # back to the pool
    for _ in range(4):  # each connection of the pool lent once and given back
        _backend_pid()
        connection.close()
    checks.clear()  # (one the pool opened and never lent was checked: fine)
    for _ in range(5):
        _backend_pid()
        connection.close()
    assert checks == []


@pytest.mark.django_db(transaction=True)
def test_an_idle_connection_is_checked_and_a_dead_one_replaced(checks, monkeypatch):
    import psycopg

    from opsconsole import connections

    url = _needs_postgres()
    killed = _backend_pid()
    connection.close()
    # Its server session ends while it waits in the pool (a restart, an idle timeout).
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [killed])
    monkeypatch.setattr(connections, "CHECK_AFTER_IDLE_SECONDS", 0.0)
    # Every connection of the pool lent in turn: each works, the dead one was checked.
    for _ in range(4):
        assert _backend_pid() != killed
        connection.close()
    assert killed in checks

"""Shared pieces of the benchmarks: throwaway databases, Django in a child process, the
served console, and small statistics."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
# Its own database per concurrent run: BENCH_PG_DB=opsconsole_bench_mine.
PG_BENCH_DB = os.environ.get("BENCH_PG_DB", "opsconsole_bench")
CHILD_ENV_DROP = {"OPSCONSOLE_TESTING", "DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL"}
# One signing key for every process a run starts: a console on PostgreSQL refuses to
# start without a shared one.
RUN_SECRET_KEY = os.environ.get("SECRET_KEY") or secrets.token_urlsafe(50)


def pg_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return True
    except Exception:
        return False


def pg_recreate(name: str = PG_BENCH_DB, admin_url: str = PG_ADMIN_URL) -> str:
    """A fresh, empty PostgreSQL database; returns its URL."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


def pg_drop(name: str = PG_BENCH_DB, admin_url: str = PG_ADMIN_URL) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CHILD_ENV_DROP}
    env["PYTHONPATH"] = str(ROOT)
    env.setdefault("SECRET_KEY", RUN_SECRET_KEY)
    env.update(extra)
    return env


def run_worker(script: str, args: list[str], env: dict[str, str], timeout: float = 1200) -> dict:
    """Run ``bench/<script> --worker ...`` in a child process; it prints one JSON line last."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), "--worker", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{script} {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def django_setup(
    var_dir: str | None = None, database_url: str | None = None, *, migrate: bool = True
) -> None:
    """Configure Django for this (child) process and migrate its databases."""
    os.environ.pop("OPSCONSOLE_TESTING", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "opsconsole.settings"
    os.environ["OPSCONSOLE_VAR_DIR"] = var_dir or tempfile.mkdtemp(prefix="opsbench-")
    os.environ["LOG_LEVEL"] = "WARNING"
    os.environ.setdefault("SECRET_KEY", RUN_SECRET_KEY)
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    if not migrate:
        return
    from django.conf import settings
    from django.core.management import call_command

    for alias in settings.DATABASES:
        call_command("migrate", database=alias, interactive=False, verbosity=0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServedConsole:
    """``manage.py serve`` in a temporary directory (embedded mode unless env says).

    Stopped as Ctrl-C would; then anything left of its tree is killed by process id
    (each child runs in its own session, which the supervisor's process group does not
    reach), checking each process's start time so a reused id is never killed.
    """

    def __init__(self, port: int = 0, **env: str):
        self.var = tempfile.mkdtemp(prefix="opsbench-serve-")
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.password = "bench-admin-password"
        self.env = child_env(
            OPSCONSOLE_VAR_DIR=self.var,
            PORT=str(self.port),
            HOST="127.0.0.1",
            OPSCONSOLE_ADMIN_PASSWORD=self.password,
            **env,
        )
        self.log_path = Path(self.var) / "serve.log"
        self.log = open(self.log_path, "w")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "serve"],
            env=self.env,
            cwd=ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.known: dict[int, float] = {}  # pid -> create time
        self.stopped = False
        self._wait()

    @property
    def database(self) -> Path:
        """The embedded console's SQLite file."""
        return Path(self.var) / "opsconsole.sqlite3"

    def _wait(self) -> None:
        import httpx

        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(self.log_tail())
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/api/v1/health", timeout=2).status_code == 200:
                    self.note_tree()
                    return
            time.sleep(0.3)
        raise RuntimeError(f"the console did not start within 120 s:\n{self.log_tail()}")

    def log_tail(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")[-3000:]

    def tree(self):
        import psutil

        root = psutil.Process(self.process.pid)
        return [root, *root.children(recursive=True)]

    def note_tree(self) -> None:
        """Remember the processes of the console now, for stop()."""
        import psutil

        with contextlib.suppress(psutil.Error):
            for process in self.tree():
                with contextlib.suppress(psutil.Error):
                    self.known[process.pid] = process.create_time()

    def manage(self, *args: str) -> str:
        """A management command against this console's files; its output."""
        return subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), *args],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout

    def stop(self) -> None:
        import psutil

        if self.stopped:
            return
        self.stopped = True
        self.note_tree()
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(40)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5)
        for pid, created in self.known.items():
            with contextlib.suppress(psutil.Error):
                process = psutil.Process(pid)
                if process.create_time() == created:
                    process.kill()
        self.log.close()

    def remove(self) -> None:
        shutil.rmtree(self.var, ignore_errors=True)


def median(values) -> float:
    return statistics.median(values)


def percentile(values, fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]

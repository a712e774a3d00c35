"""A scaled-out console on this machine: N web, M workers, tickers and delivery lanes,
as the README's "Scaling out" runs them, each "machine" one ``manage.py serve --role ...``
command, on one PostgreSQL and one Redis. Used by ``tests/opsconsole/test_topology.py`` and
``bench/bench_fleet.py``.

Each process gets a directory of its own (no shared ``var/``, as on separate machines)
and the same ``SECRET_KEY``; the database is migrated once, before any role starts.
``stop()`` stops each machine as its service manager would (SIGTERM; the supervisor then
stops its parts in order); ``kill_part()`` SIGKILLs one part (its supervisor starts it
again, as in production) and ``kill()`` a whole machine at once, as one that loses power.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Variables of the caller that must not leak into the console's processes.
_DROP = {"OPSCONSOLE_TESTING", "DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL"}
_DROP_PREFIXES = ("PYTEST_", "COV_")


def free_ports(first: int, last: int, count: int) -> list[int]:
    """``count`` loopback ports free now, within ``first``..``last``."""
    found = []
    for port in range(first, last + 1):
        with socket.socket() as probe, contextlib.suppress(OSError):
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(("127.0.0.1", port))
            found.append(port)
            if len(found) == count:
                return found
    raise RuntimeError(f"fewer than {count} free ports in {first}-{last}")


def port_range(variable: str, default: str) -> tuple[int, int]:
    """A ``FIRST-LAST`` range from the environment (the machine's ports for tests)."""
    first, _, last = os.environ.get(variable, default).partition("-")
    return int(first), int(last or first)


def pg_admin_url(database_url: str) -> tuple[str, str]:
    """(the server's ``postgres`` database URL, the database's own name)."""
    base, _, name = database_url.split("?", 1)[0].rpartition("/")
    return f"{base}/postgres", name


def pg_recreate(admin_url: str, name: str) -> str:
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


def pg_drop(admin_url: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@dataclass
class Machine:
    """One ``serve --role ...`` command (its supervisor) and the parts it forked, as one
    machine of a scaled-out console runs it."""

    roles: tuple[str, ...]
    index: int
    process: subprocess.Popen
    log_path: Path
    port: int | None = None
    known: dict[int, float] = field(default_factory=dict)  # pid -> create time

    @property
    def label(self) -> str:
        return f"{'+'.join(self.roles)}-{self.index}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def tree(self) -> list:
        import psutil

        with contextlib.suppress(psutil.Error):
            root = psutil.Process(self.process.pid)
            return [root, *root.children(recursive=True)]
        return []

    def part(self, role: str):
        """The process running ``role`` now (its supervisor restarts one that dies)."""
        import psutil

        for process in self.tree()[1:]:
            with contextlib.suppress(psutil.Error):
                if process.cmdline()[:1] == [f"opsconsole: {role}"]:
                    return process
        return None

    def parts_up(self) -> bool:
        return all(self.part(role) is not None for role in self.roles)

    def note_tree(self) -> None:
        """Remember its processes now, so nothing it forked outlives stop() or kill()."""
        import psutil

        for process in self.tree():
            with contextlib.suppress(psutil.Error):
                self.known[process.pid] = process.create_time()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill_part(self, role: str) -> int:
        """SIGKILL the process running ``role`` and all it forked (q2's pool); its pid."""
        import psutil

        process = self.part(role)
        if process is None:
            raise RuntimeError(f"{self.label} runs no {role}")
        victims = [process, *process.children(recursive=True)]
        for victim in victims:
            with contextlib.suppress(psutil.Error):
                victim.kill()
        psutil.wait_procs(victims, timeout=10)
        return process.pid

    def _kill_known(self) -> None:
        import psutil

        for pid, created in self.known.items():
            with contextlib.suppress(psutil.Error):
                process = psutil.Process(pid)
                if process.create_time() == created:
                    process.kill()

    def kill(self) -> None:
        """SIGKILL every process of the machine at once: nothing runs its stop code."""
        self.note_tree()
        self._kill_known()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(10)

    def stop(self, timeout: float = 30) -> None:
        self.note_tree()
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout)
        self.note_tree()
        self._kill_known()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5)


# Two application machines (web, workers and a ticker each: the tickers' lease makes one
# active) and one for the delivery lane.
DEFAULT_MACHINES: tuple[tuple[str, ...], ...] = (
    ("web", "worker", "ticker"),
    ("web", "worker", "ticker"),
    ("notify",),
)


class Topology:
    """The console's machines on loopback. A context manager, or start()/stop()."""

    def __init__(
        self,
        database_url: str,
        redis_url: str,
        *,
        ports: tuple[int, int],
        machines: tuple[tuple[str, ...], ...] = DEFAULT_MACHINES,
        env: dict[str, str] | None = None,
        admin_password: str = "topology-admin-password",  # noqa: S107 (loopback only)
    ):
        self.database_url = database_url
        self.redis_url = redis_url
        self.layout = machines
        self.ports = iter(free_ports(*ports, sum("web" in m for m in machines)))
        self.root = Path(tempfile.mkdtemp(prefix="opsconsole-topology-"))
        self.admin_password = admin_password
        self.secret_key = secrets.token_urlsafe(50)
        self.extra_env = dict(env or {})
        self.machines: list[Machine] = []

    # -- environment --------------------------------------------------------------------
    def env(self, var_dir: Path, **extra: str) -> dict[str, str]:
        """What every process of the console shares, and a directory of its own."""
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in _DROP and not k.startswith(_DROP_PREFIXES)
        }
        var_dir.mkdir(parents=True, exist_ok=True)
        env.update(
            PYTHONPATH=str(ROOT),
            OPSCONSOLE_VAR_DIR=str(var_dir),
            DATABASE_URL=self.database_url,
            REDIS_URL=self.redis_url,
            Q_BROKER="redis",
            SECRET_KEY=self.secret_key,
            HOST="127.0.0.1",
            # Every worker would report this machine as its own host otherwise.
            COLLECT_LOCAL_HOST="false",
            OPSCONSOLE_ADMIN_PASSWORD=self.admin_password,
            LOG_LEVEL=env.get("LOG_LEVEL", "INFO"),
        )
        env.update(self.extra_env)
        env.update(extra)
        return env

    def manage(self, *args: str, timeout: float = 180) -> str:
        """A management command as an operator's shell on any machine runs it."""
        result = subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), *args],
            env=self.env(self.root / "shell"),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {args[0]} failed:\n{result.stderr[-3000:]}")
        return result.stdout

    def django(self, code: str, timeout: float = 120) -> str:
        """Python run in a Django shell against the shared database (its stdout)."""
        return self.manage("shell", "-c", code, timeout=timeout)

    # -- machines -----------------------------------------------------------------------
    def start_machine(self, roles: tuple[str, ...], **env: str) -> Machine:
        index = 1 + len(self.machines)
        var_dir = self.root / f"machine-{index}"
        var_dir.mkdir(parents=True, exist_ok=True)
        log_path = var_dir / "serve.log"
        argv = [sys.executable, str(ROOT / "manage.py"), "serve"]
        for role in roles:
            argv += ["--role", role]
        port = next(self.ports) if "web" in roles else None
        if port is not None:
            argv += ["--host", "127.0.0.1", "--port", str(port)]
        with open(log_path, "w") as log:
            process = subprocess.Popen(
                argv,
                env=self.env(var_dir, **env),
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        machine = Machine(tuple(roles), index, process, log_path, port)
        self.machines.append(machine)
        return machine

    def start(self, timeout: float = 180, prepare: Callable[[Topology], None] | None = None):
        """Migrate once, let ``prepare`` configure the shared database (channels, tokens:
        what every process should read from its start), then start every machine."""
        try:
            # Once, on one machine, before any role: the README's upgrade step.
            self.manage("setup_console")
            if prepare is not None:
                prepare(self)
            for roles in self.layout:
                self.start_machine(roles)
            self.wait_ready(timeout)
        except BaseException:
            self.stop()
            raise

    def wait_ready(self, timeout: float) -> None:
        """Every web answers its health check and every machine has forked its parts."""
        import httpx

        deadline = time.monotonic() + timeout
        pending = list(self.machines)
        while pending and time.monotonic() < deadline:
            for machine in list(pending):
                if machine.process.poll() is not None:
                    raise RuntimeError(f"{machine.label} exited:\n{machine.log()[-3000:]}")
                if not machine.parts_up():
                    continue
                if machine.port is not None:
                    with contextlib.suppress(httpx.HTTPError):
                        answer = httpx.get(f"{machine.url}/api/v1/health", timeout=2)
                        if answer.status_code == 200:
                            pending.remove(machine)
                else:
                    pending.remove(machine)
            time.sleep(0.3)
        if pending:
            logs = "\n".join(f"--- {m.label}\n{m.log()[-1500:]}" for m in pending)
            raise RuntimeError(f"not ready within {timeout:g} s:\n{logs}")
        for machine in self.machines:
            machine.note_tree()

    def running(self, role: str) -> list[Machine]:
        """The machines that run ``role``."""
        return [machine for machine in self.machines if role in machine.roles]

    @property
    def webs(self) -> list[Machine]:
        return self.running("web")

    def stop(self) -> None:
        # Each supervisor stops its own parts in order (web, ticker, workers, lane); the
        # lane's machine last, so it sends what the others left in the outbox.
        for machine in sorted(self.machines, key=lambda m: "notify" in m.roles):
            machine.stop()

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Topology:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
        self.remove()

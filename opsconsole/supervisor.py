"""The process supervisor behind ``manage.py serve``: one Django image, forked.

``serve`` checks the address, migrates and creates the admin, then replaces itself with
this module (``os.execv``, same process id), so nothing the migrations loaded stays in
memory. Here Django is set up once, with everything the children will import (the URL
configuration and its API schemas, the ASGI application, the task modules, q2's
cluster), and the heap is frozen; then the web process (daphne, with the ticker as a
thread), the django-q2 cluster (monitoring: collection, evaluation, health checks) and
the delivery lane (notifications) are forked from it (with ``--roles``, from
``serve --role``, only the parts named, the ticker then a child of its own). Those
modules are then shared, copy-on-write, between every process of the console instead
of being loaded by each:
on the default embedded setup that is about 50 MiB less in all than starting the
children as new interpreters.

Each child runs in its own session, so the terminal's Ctrl-C reaches only this process.
A child that dies is forked again with a backoff, and the console stops if one keeps
dying; on Ctrl-C, SIGTERM or SIGHUP (the terminal closed) the children are stopped in
order, web, workers, then the delivery lane, waiting for each before killing what is
left. Should this process itself be killed outright, the kernel sends each child
SIGTERM (PR_SET_PDEATHSIG), so no child keeps serving on its own. Every process is
named in ``ps``: ``opsconsole: supervisor``, ``opsconsole: web`` and so on.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

STOP_TIMEOUT = 15.0
# The signals that stop the console: Ctrl-C, systemd or kill, and the terminal closing.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
MAX_RESTARTS_PER_MINUTE = 3
_PR_SET_PDEATHSIG = 1


def name_process(name: str) -> None:
    """``opsconsole: <name>`` in ps and top, instead of the interpreter's command line."""
    try:
        from setproctitle import setproctitle
    except ImportError:  # an install without it still runs, unnamed
        return
    setproctitle(f"opsconsole: {name}")


def _die_with_parent() -> None:
    """Ask the kernel for SIGTERM when the supervisor goes, however it goes (Linux)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def preload() -> None:
    """Import what every child needs, then freeze it so the children share it."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opsconsole.settings")
    import django

    django.setup()
    import django_q.cluster  # noqa: F401
    from django.db import connections
    from django.urls import get_resolver

    import opsconsole.asgi  # noqa: F401
    from opsconsole.connections import close_pools

    get_resolver().url_patterns  # noqa: B018 (imports every view and API schema)
    for module in (
        "metrics.tasks",
        "alerts.tasks",
        "opsconsole.tasks",
        "healthchecks.tasks",
        "notifications.tasks",
        "notifications.dispatcher",
    ):
        with contextlib.suppress(ImportError):
            __import__(module)
    # A connection must never be shared by two processes, nor a pool's sockets.
    close_pools()
    connections.close_all()
    gc.collect()
    gc.freeze()


def run_web(args) -> int:
    if os.environ.get("OPSCONSOLE_TICKER_THREAD") == "1":
        from opsconsole.ticker import start_in_thread

        start_in_thread()
    # Imported here: daphne installs twisted's reactor on import, which must happen in
    # the process that runs it.
    from daphne.cli import CommandLineInterface

    CommandLineInterface().run(
        [
            "-b",
            args.host,
            "-p",
            str(args.port),
            "--access-log",
            os.path.join(args.log_dir, "access.log"),
            "--proxy-headers",
            "opsconsole.asgi:application",
        ]
    )
    return 0


def run_workers(args) -> int:
    from django.core.management import call_command

    call_command("workers")
    return 0


def run_delivery(args) -> int:
    from django.core.management import call_command

    call_command("deliver")
    return 0


def run_ticker(args) -> int:
    from django.core.management import call_command

    call_command("ticker")
    return 0


@dataclass
class Child:
    name: str
    target: Callable[[], int]
    env: dict[str, str] = field(default_factory=dict)
    pid: int | None = None
    returncode: int | None = None
    started: list[float] = field(default_factory=list)

    def start(self) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the child
            code = 1
            try:
                os.setsid()
                for signum in STOP_SIGNALS:
                    signal.signal(signum, signal.SIG_DFL)
                _die_with_parent()
                if os.getppid() == 1:  # the supervisor went before the request held
                    os._exit(1)
                name_process(self.name)
                os.environ.update({"OPSCONSOLE_PROCESS": self.name, **self.env})
                from opsconsole.connections import name_process as name_sessions

                name_sessions(self.name)
                code = self.target()
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            except BaseException:
                import traceback

                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        self.pid, self.returncode = pid, None
        self.started.append(time.monotonic())

    def running(self) -> bool:
        if self.pid is None or self.returncode is not None:
            return False
        with contextlib.suppress(ChildProcessError):
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid == 0:
                return True
            self.returncode = os.waitstatus_to_exitcode(status)
            return False
        self.returncode = -1
        return False

    def stop(self, timeout: float) -> None:
        if not self.running():
            return
        assert self.pid is not None  # running() says it was started
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while self.running() and time.monotonic() < deadline:
            time.sleep(0.1)
        # Also reaches grandchildren (q2's worker processes) left behind.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)
        self.returncode = self.returncode if self.returncode is not None else -9


def role_children(args, roles: list[str]) -> list[Child]:
    """The parts ``serve --role`` names, each a child of its own (the ticker too: on a
    machine of its own there is no web process to hold its thread)."""
    targets = {
        "web": lambda: run_web(args),
        "worker": lambda: run_workers(args),
        "notify": lambda: run_delivery(args),
        "ticker": lambda: run_ticker(args),
    }
    env = {"web": {"OPSCONSOLE_TICKER_THREAD": "0"}}
    return [Child(role, targets[role], env=env.get(role, {})) for role in roles]


def children(args) -> list[Child]:
    if args.roles:
        return role_children(args, args.roles.split(","))
    web = Child(
        "web",
        lambda: run_web(args),
        # The ticker only enqueues; it runs as a thread of the web process rather
        # than as a Django process of its own.
        env={"OPSCONSOLE_TICKER_THREAD": "0" if args.no_ticker or args.no_workers else "1"},
    )
    made = [web]
    if not args.no_workers:
        made.append(Child("worker", lambda: run_workers(args)))
        # Messages go out on a lane of their own, so a storm of slow deliveries never
        # holds up the workers' collection and evaluation.
        made.append(Child("notify", lambda: run_delivery(args)))
    return made


def supervise(made: list[Child], banner: str) -> int:
    stopping = False

    def request_stop(signum, frame):
        nonlocal stopping
        stopping = True

    for signum in STOP_SIGNALS:
        signal.signal(signum, request_stop)
    for child in made:
        child.start()
    print(banner, flush=True)
    exit_code = 0
    try:
        while not stopping:
            time.sleep(0.5)
            for child in made:
                if stopping or child.running():
                    continue
                code = child.returncode
                now = time.monotonic()
                recent = [t for t in child.started if now - t < 60]
                if len(recent) >= MAX_RESTARTS_PER_MINUTE:
                    print(
                        f"{child.name} exited with {code} {len(recent)} times within a minute; "
                        "stopping the console",
                        file=sys.stderr,
                        flush=True,
                    )
                    exit_code = 1
                    stopping = True
                    break
                print(
                    f"{child.name} exited with {code}; restarting it", file=sys.stderr, flush=True
                )
                time.sleep(len(recent))
                child.start()
    finally:
        # The web process first (no new requests), then the ticker and the workers (no
        # new jobs, no new alerts), then the delivery lane, which sends what they left in
        # the outbox meanwhile.
        for name in ("web", "ticker", "worker", "notify"):
            for child in made:
                if child.name == name:
                    child.stop(STOP_TIMEOUT)
        # After a hangup the terminal is gone, and writing to it fails.
        with contextlib.suppress(OSError):
            print("OpsConsole stopped.", flush=True)
    return exit_code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="opsconsole.supervisor")
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log-dir", required=True)
    parser.add_argument("--no-workers", action="store_true")
    parser.add_argument("--no-ticker", action="store_true")
    parser.add_argument("--roles", default="", help="comma-separated: web,worker,notify,ticker")
    parser.add_argument("--banner", default="OpsConsole is serving")
    args = parser.parse_args(argv)
    # The web child is told to run the ticker; set here, it would start in this process.
    os.environ.pop("OPSCONSOLE_TICKER_THREAD", None)
    name_process("supervisor")
    preload()
    code = supervise(children(args), args.banner)
    if code:
        print("opsconsole: a process kept failing; see the messages above", file=sys.stderr)
    return code


if __name__ == "__main__":
    raise SystemExit(main())

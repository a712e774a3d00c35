"""Serve the whole console: daphne (HTTP + websockets), the django-q2 cluster and the ticker.

A small supervisor: it starts the three as child processes, restarts one that dies
(with a backoff, giving up if it keeps dying), and on Ctrl-C or SIGTERM stops them in
order — ticker, web, workers — waiting for each before killing what is left.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

STOP_TIMEOUT = 15.0
MAX_RESTARTS_PER_MINUTE = 3


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen | None = None
    started: list[float] = field(default_factory=list)

    def start(self) -> None:
        env = os.environ.copy()
        env["OPSCONSOLE_PROCESS"] = self.name
        # Own session: the terminal's Ctrl-C reaches only the supervisor, which then
        # stops the children in order instead of all at once.
        self.process = subprocess.Popen(self.argv, env=env, start_new_session=True)
        self.started.append(time.monotonic())

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float) -> None:
        if not self.running():
            return
        self.process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout)
        # Also reaches grandchildren (q2's worker processes) left behind.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


class Command(BaseCommand):
    help = "Run the whole console (web, websockets, workers, ticker) in the foreground."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=settings.HOST, help="address to bind (HOST)")
        parser.add_argument("--port", type=int, default=settings.PORT, help="port (PORT)")
        parser.add_argument("--skip-setup", action="store_true", help="no migrate/defaults")
        parser.add_argument("--no-workers", action="store_true", help="web only")
        parser.add_argument("--no-ticker", action="store_true", help="no periodic jobs")

    def handle(self, *args, host, port, skip_setup, no_workers, no_ticker, **options):
        self._check_port(host, port)
        if not skip_setup:
            call_command("setup_console")
        manage = str(Path(settings.BASE_DIR) / "manage.py")
        log_dir = Path(settings.VAR_DIR) / "log"
        log_dir.mkdir(exist_ok=True)
        children = [
            Child(
                "web",
                [
                    sys.executable,
                    "-m",
                    "daphne",
                    "-b",
                    host,
                    "-p",
                    str(port),
                    "--access-log",
                    str(log_dir / "access.log"),
                    "--proxy-headers",
                    "opsconsole.asgi:application",
                ],
            )
        ]
        if not no_workers:
            children.append(Child("worker", [sys.executable, manage, "qcluster"]))
            if not no_ticker:
                children.append(Child("ticker", [sys.executable, manage, "ticker"]))
        stopping = False

        def request_stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        for child in children:
            child.start()
        shown = host if ":" not in host else f"[{host}]"
        self.stdout.write(
            self.style.SUCCESS(f"OpsConsole is serving http://{shown}:{port}/")
            + f"  (admin: /admin/, API docs: /api/v1/docs; {', '.join(c.name for c in children)};"
            " Ctrl-C stops everything)"
        )
        self.stdout.flush()
        exit_code = 0
        try:
            while not stopping:
                time.sleep(0.5)
                for child in children:
                    if stopping or child.running():
                        continue
                    code = child.process.returncode
                    now = time.monotonic()
                    recent = [t for t in child.started if now - t < 60]
                    if len(recent) >= MAX_RESTARTS_PER_MINUTE:
                        self.stderr.write(
                            f"{child.name} exited with {code} {len(recent)} times within a "
                            "minute; stopping the console"
                        )
                        exit_code = 1
                        stopping = True
                        break
                    self.stderr.write(f"{child.name} exited with {code}; restarting it")
                    time.sleep(len(recent))
                    child.start()
        finally:
            for name in ("ticker", "web", "worker"):
                for child in children:
                    if child.name == name:
                        child.stop(STOP_TIMEOUT)
            self.stdout.write("OpsConsole stopped.")
        if exit_code:
            raise CommandError("a process kept failing; see the messages above")

    def _check_port(self, host: str, port: int) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError as exc:
                raise CommandError(
                    f"cannot listen on {host}:{port} ({exc.strerror}); "
                    "set HOST and PORT to choose another address"
                ) from None

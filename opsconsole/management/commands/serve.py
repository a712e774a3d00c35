"""Serve the whole console: daphne (HTTP + websockets, and the ticker thread) and the
django-q2 cluster.

This command checks the address, migrates, loads the defaults and creates the admin,
then replaces itself with ``opsconsole.supervisor`` (standard library only), which runs
and watches the children. See that module for how they are started and stopped.

``--role`` (repeatable) runs only the named parts, one command per machine of a
scaled-out console: ``web`` (daphne), ``worker`` (the q2 cluster), ``notify`` (the
delivery lane) and ``ticker`` (periodic jobs; one holds the lease). A role never
migrates: several machines starting at once would race, so ``setup_console`` runs once,
on one machine, against the shared database.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

ROLES = ("web", "worker", "notify", "ticker")


class Command(BaseCommand):
    help = (
        "Run the whole console (web, websockets, workers, delivery lane, ticker) in the foreground."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default=settings.HOST, help="address to bind (HOST)")
        parser.add_argument("--port", type=int, default=settings.PORT, help="port (PORT)")
        parser.add_argument("--skip-setup", action="store_true", help="no migrate/defaults")
        parser.add_argument(
            "--no-workers", action="store_true", help="web only (no workers, no delivery lane)"
        )
        parser.add_argument("--no-ticker", action="store_true", help="no periodic jobs")
        parser.add_argument(
            "--role",
            action="append",
            choices=ROLES,
            dest="roles",
            help="run only this part (repeatable; no migrations: run setup_console once)",
        )

    def handle(self, *args, host, port, skip_setup, no_workers, no_ticker, roles=None, **options):
        if roles and (no_workers or no_ticker):
            raise CommandError("--role names the parts itself: drop --no-workers/--no-ticker")
        parts = list(dict.fromkeys(roles or ()))
        if not parts or "web" in parts:
            self._check_port(host, port)
        self._check_redis()
        if not (skip_setup or parts):
            call_command("setup_console")
        log_dir = Path(settings.VAR_DIR) / "log"
        log_dir.mkdir(exist_ok=True)
        banner = self._banner(host, port, parts, no_workers, no_ticker)
        argv = [
            sys.executable,
            "-m",
            "opsconsole.supervisor",
            "--host",
            host,
            "--port",
            str(port),
            "--log-dir",
            str(log_dir),
            "--banner",
            banner,
        ]
        if no_workers:
            argv.append("--no-workers")
        if no_ticker:
            argv.append("--no-ticker")
        if parts:
            argv += ["--roles", ",".join(parts)]
        self.stdout.flush()
        sys.stderr.flush()
        # Same process id, so whoever started serve (a terminal, systemd) still holds it.
        os.chdir(settings.BASE_DIR)
        # glibc gives each thread its own malloc arena; daphne's thread pool would keep
        # several mostly empty ones resident. Read once, at the interpreter's start.
        os.environ.setdefault("MALLOC_ARENA_MAX", "2")
        os.execv(sys.executable, argv)  # noqa: S606 (fixed argv, no shell)

    def _banner(self, host, port, roles, no_workers, no_ticker) -> str:
        shown = host if ":" not in host else f"[{host}]"
        if roles:
            where = f" http://{shown}:{port}/" if "web" in roles else ""
            return self.style.SUCCESS(
                f"OpsConsole is serving{where} ({', '.join(roles)}; Ctrl-C stops it)"
            )
        parts = ["web"] + ([] if no_workers else ["worker", "notify"])
        if not (no_workers or no_ticker):
            parts.append("ticker")
        return (
            self.style.SUCCESS(f"OpsConsole is serving http://{shown}:{port}/")
            + f"  (admin: /admin/, API docs: /api/v1/docs; {', '.join(parts)}; "
            "Ctrl-C stops everything)"
        )

    def _check_redis(self) -> None:
        """Refuse to start on a Redis that does not answer: the console would serve, and
        every live page, cache read and (with Q_BROKER=redis) job would fail."""
        if not settings.REDIS_URL:
            return
        from urllib.parse import urlsplit

        import redis

        try:
            client = redis.Redis.from_url(
                settings.REDIS_URL, socket_connect_timeout=5, socket_timeout=5
            )
            client.ping()
            client.close()
        except (redis.RedisError, OSError, ValueError) as exc:
            where = urlsplit(settings.REDIS_URL)
            shown = f"{where.scheme}://{where.hostname}:{where.port or 6379}{where.path}"
            raise CommandError(f"REDIS_URL {shown} does not answer: {exc}") from None

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

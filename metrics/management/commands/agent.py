"""``manage.py agent --push URL --token TOKEN``: push this host's vitals to a console."""

from __future__ import annotations

import logging
import signal
import socket
import threading
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from metrics.agent import Agent, TokenRefused, ingest_url
from opsconsole.env import envsecret, envstr


class Command(BaseCommand):
    help = (
        "Sample this host and push batches to a console's ingest API, buffering while it is away."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--push", required=True, help="the console's URL, e.g. http://console:8000"
        )
        parser.add_argument(
            "--token",
            default="",
            help="API token with the ingest scope (or OPSCONSOLE_AGENT_TOKEN, or the file "
            "OPSCONSOLE_AGENT_TOKEN_FILE names)",
        )
        parser.add_argument(
            "--interval",
            type=float,
            default=float(settings.METRICS_COLLECTION_INTERVAL),
            help="seconds between samples (default METRICS_COLLECTION_INTERVAL)",
        )
        parser.add_argument(
            "--hostname",
            default=None,
            help="name this host reports (default OPSCONSOLE_HOSTNAME, else the machine's)",
        )
        parser.add_argument(
            "--top", type=int, default=settings.TOP_PROCESSES, help="processes kept"
        )
        parser.add_argument(
            "--buffer", type=int, default=5760, help="batches kept while the console is away"
        )
        parser.add_argument(
            "--spool", default=None, help="file that keeps unsent batches across restarts"
        )
        parser.add_argument("--once", action="store_true", help="sample once, send, and exit")

    def handle(self, *args, push, token, interval, hostname, top, buffer, spool, once, **options):
        if not token:
            try:
                token = envsecret("OPSCONSOLE_AGENT_TOKEN")
            except ImproperlyConfigured as exc:
                raise CommandError(str(exc)) from None
        if not token:
            raise CommandError("no token: pass --token or set OPSCONSOLE_AGENT_TOKEN (or _FILE)")
        if interval < 1:
            raise CommandError(f"--interval must be at least 1 second, not {interval:g}")
        if buffer < 1:
            raise CommandError(f"--buffer must be at least 1 batch, not {buffer}")
        try:
            url = ingest_url(push)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        # The host the agent runs on, named as the console's own collection names its:
        # a shared .env or an image's environment must say which machine this is.
        hostname = (hostname or envstr("OPSCONSOLE_HOSTNAME") or socket.gethostname()).strip()
        if not hostname:
            raise CommandError("--hostname must not be empty")
        logging.getLogger("opsconsole.agent").setLevel(logging.INFO)
        # httpx logs every request at INFO; the agent logs what matters itself.
        logging.getLogger("httpx").setLevel(logging.WARNING)
        agent = Agent(
            url=url,
            token=token,
            hostname=hostname,
            interval=interval,
            top_n=top,
            buffer_size=buffer,
            spool=Path(spool) if spool else None,
        )
        if once:
            self._once(agent)
            return
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        self.stdout.write(f"pushing {agent.collector.hostname} to {url} every {interval:g} s")
        try:
            agent.run(stop)
        except TokenRefused as exc:
            raise CommandError(str(exc)) from None
        left = agent.pending()
        self.stdout.write(
            f"stopped: {agent.delivered} batches delivered, {left} unsent"
            + (f" (kept in {spool})" if spool and left else "")
            + (f", {agent.dropped} dropped when the buffer was full" if agent.dropped else "")
        )

    def _once(self, agent: Agent) -> None:
        batch = agent.sample()
        try:
            delivered = agent.drain(max_wait=30)
        except TokenRefused as exc:
            raise CommandError(str(exc)) from None
        finally:
            agent.save_spool()
            agent.close()
        if not delivered:
            raise CommandError(f"could not deliver to {agent.url}; the console did not answer")
        if agent.delivered == 0:
            raise CommandError("the console refused the batch; see the message above")
        self.stdout.write(
            f"sent {len(batch['samples'])} samples and {len(batch['processes'])} processes "
            f"for {batch['host']}"
        )

"""The delivery lane: ``manage.py deliver`` sends the outbox's messages, most urgent
first, on a process of its own (``serve`` runs one as its "notify" child)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from notifications.dispatcher import Dispatcher
from opsconsole.connections import at_least, keep_connections, pooled

LANE_CONN_MAX_AGE = 600


class Command(BaseCommand):
    help = "Send notifications from the outbox, most urgent first, until stopped."

    def add_arguments(self, parser):
        parser.add_argument(
            "--once", action="store_true", help="Send what is due now and route repeats, then exit."
        )
        parser.add_argument("--threads", type=int, help="Senders at once (NOTIFY_THREADS).")

    def handle(self, *args, once: bool = False, threads: int | None = None, **options):
        if threads is not None and threads < 1:
            self.stderr.write("deliver: --threads must be at least 1")
            raise SystemExit(2)
        # A long-lived synchronous process: each thread keeps its connection, checked
        # before reuse, or borrows it from the pool, instead of reconnecting for every
        # poll. Every sender and the main thread may hold one at once.
        keep_connections(LANE_CONN_MAX_AGE)
        dispatcher = Dispatcher(threads=threads)
        if pooled():
            at_least("default", dispatcher.threads + 1)
        if once:
            result = dispatcher.run_once()
            self.stdout.write(
                f"sent {result['sent']} message(s), routed {result['repeats']} repeat(s)"
            )
            return
        dispatcher.run()

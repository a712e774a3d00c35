"""The django-q2 cluster, one process lighter than ``qcluster``.

``qcluster`` forks a sentinel and then only waits for it: a whole Django process
(about 10 MiB of private memory) that does nothing. Here this process is the sentinel:
it spawns the worker pool, the pusher and the monitor, guards them, and on SIGTERM or
SIGINT stops them in q2's own order (pusher, workers after their current task, monitor)
before exiting. ``serve`` runs this; ``qcluster`` still works for anyone who prefers it.
"""

from __future__ import annotations

import signal
import threading
import uuid
from multiprocessing import Event

from django.core.management.base import BaseCommand

WORKER_CONN_MAX_AGE = 600


class Command(BaseCommand):
    help = "Run the django-q2 task workers (the cluster's sentinel in this process)."

    def handle(self, *args, **options):
        import gc

        from django_q.cluster import Sentinel

        from opsconsole.connections import keep_connections

        # q2's ORM broker calls close_old_connections() before every poll, which with
        # Django's default CONN_MAX_AGE of 0 means a new database connection (and, on
        # SQLite, its pragmas) twice a second: most of what an idle console spends.
        # These processes are long-lived and synchronous, so they keep theirs, checked
        # before reuse, or borrow it from their pool. (The web process is asynchronous
        # and does not: opsconsole.connections.)
        keep_connections(WORKER_CONN_MAX_AGE)

        # The sentinel forks the pool from this process: frozen objects are never
        # scanned by the collector, so their pages stay shared instead of being copied.
        gc.collect()
        gc.freeze()
        stop_event, start_event = Event(), Event()
        sentinel = Sentinel(stop_event, start_event, uuid.uuid4(), start=False)

        def request_stop(signum, frame):
            # The guard loop waits on this event between rounds and then stops the pool.
            # It is set from another thread: setting a multiprocessing Event waits for
            # its waiters to wake, and the waiter is this very thread, inside the handler.
            threading.Thread(target=stop_event.set, daemon=True).start()

        # Sentinel.__init__ sets SIGTERM to its default (die at once) and ignores SIGINT,
        # which suits a forked child, not a process that must stop its own children.
        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        sentinel.start()

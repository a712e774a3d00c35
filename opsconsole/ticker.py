"""Second-granular periodic jobs, executed by django-q2 workers.

django-q2's own scheduler wakes every 15-30 s and schedules by the minute, too coarse
for a 5-15 s collection interval. The ticker is a small loop (``manage.py ticker``,
started by ``manage.py serve``) that only *enqueues* each job when it is due; the work
runs in the q2 workers. One ticker is active across all machines: it holds a lease row
renewed every few seconds, and a standby takes over when the lease lapses.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import IntegrityError, close_old_connections, transaction
from django.utils import timezone
from django_q.tasks import async_task

from opsconsole.broker import shared as shared_broker
from opsconsole.models import SchedulerLease

logger = logging.getLogger(__name__)

LEASE_NAME = "ticker"
LEASE_SECONDS = 15
# Do not enqueue more of a job while this many tasks wait: a backlog means the workers
# are behind, and piling on more copies of the same job only makes it worse.
MAX_BACKLOG = 10


@dataclass
class Job:
    name: str
    func: str
    interval: Callable[[], float]
    # Called when the job is due: the task's arguments, or None to enqueue nothing this
    # time (e.g. no health check is due). Runs in the ticker, so it must be quick.
    args: Callable[[], tuple | None] | None = None
    next_due: float = field(default=0.0)
    runs: int = 0
    skipped: int = 0


_registry: dict[str, Job] = {}


def register_job(
    name: str,
    func: str,
    interval: Callable[[], float],
    args: Callable[[], tuple | None] | None = None,
) -> None:
    """Register a periodic job (call from an AppConfig.ready)."""
    _registry[name] = Job(name=name, func=func, interval=interval, args=args)


def registered_jobs() -> dict[str, Job]:
    return _registry


class Ticker:
    def __init__(self, *, holder: str | None = None, jobs: dict[str, Job] | None = None):
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}"
        self.jobs = jobs if jobs is not None else _registry
        self.stopping = False
        self.is_leader = False
        self._lease_checked = 0.0

    @property
    def broker(self):
        # The process's one broker: a new one per enqueue opened a Redis connection
        # each (opsconsole.broker).
        return shared_broker()

    def stop(self, *_args) -> None:
        self.stopping = True

    def acquire_lease(self) -> bool:
        now = timezone.now()
        expires = now + timedelta(seconds=LEASE_SECONDS)
        taken = SchedulerLease.objects.filter(name=LEASE_NAME).filter(
            # Ours already, or the holder let it lapse (crashed or stopped).
            holder=self.holder
        ).update(expires_at=expires, heartbeat=now) or SchedulerLease.objects.filter(
            name=LEASE_NAME, expires_at__lt=now
        ).update(holder=self.holder, expires_at=expires, heartbeat=now)
        if not taken:
            try:
                with transaction.atomic():
                    SchedulerLease.objects.create(
                        name=LEASE_NAME, holder=self.holder, expires_at=expires, heartbeat=now
                    )
                taken = 1
            except IntegrityError:
                taken = 0  # another ticker holds it
        if bool(taken) != self.is_leader:
            logger.info("ticker %s %s the lease", self.holder, "took" if taken else "lost")
        self.is_leader = bool(taken)
        return self.is_leader

    def release_lease(self) -> None:
        SchedulerLease.objects.filter(name=LEASE_NAME, holder=self.holder).update(
            expires_at=timezone.now()
        )

    def tick(self, now: float) -> list[str]:
        """Enqueue every due job; return the names enqueued."""
        enqueued = []
        backlog = None
        for job in self.jobs.values():
            if now < job.next_due:
                continue
            interval = max(float(job.interval()), 1.0)
            # Schedule from the previous due time, not from now, so a late wake-up does
            # not drift every later run; after a long pause start afresh.
            job.next_due = (
                job.next_due + interval if now - job.next_due < interval else now + interval
            )
            task_args: tuple | None = () if job.args is None else job.args()
            # Asked first: a job with nothing to do this time (most seconds of the
            # health checks) then costs no queue-length query.
            if task_args is None:
                continue
            if backlog is None:
                backlog = _queue_size(self.broker)
            if backlog >= MAX_BACKLOG:
                job.skipped += 1
                logger.warning("skipping %s: %s tasks already waiting", job.name, backlog)
                continue
            async_task(
                job.func,
                *task_args,
                task_name=f"{job.name}@{int(now)}",
                group=job.name,
                broker=self.broker,
            )
            job.runs += 1
            backlog += 1
            enqueued.append(job.name)
        return enqueued

    def run(self, *, handle_signals: bool = True) -> None:
        if handle_signals:
            signal.signal(signal.SIGTERM, self.stop)
            signal.signal(signal.SIGINT, self.stop)
        logger.info("ticker %s started with jobs: %s", self.holder, ", ".join(self.jobs))
        try:
            while not self.stopping:
                now = time.time()
                if now - self._lease_checked >= LEASE_SECONDS / 3:
                    self._lease_checked = now
                    try:
                        self.acquire_lease()
                    except Exception:
                        logger.exception("lease check failed")
                        self.is_leader = False
                if self.is_leader:
                    try:
                        self.tick(now)
                    except Exception:
                        logger.exception("enqueueing failed")
                # Between ticks the connection goes back: a pooled one (the ticker
                # thread beside daphne) to the pool the requests borrow from, which a
                # held one would shrink by one for good (a pool of 1 answered nothing).
                # A persistent one (CONN_MAX_AGE) stays until it is obsolete.
                close_old_connections()
                next_due = min((job.next_due for job in self.jobs.values()), default=now + 1)
                time.sleep(min(max(next_due - time.time(), 0.05), 1.0))
        finally:
            try:
                self.release_lease()
            except Exception:
                logger.exception("could not release the ticker lease")
            logger.info("ticker %s stopped", self.holder)


def start_in_thread(delay: float = 1.0) -> threading.Thread:
    """Run a ticker as a daemon thread of this process (the web process under serve).

    It starts after ``delay`` so every app has registered its jobs, and gives up its
    lease at exit so a standby need not wait for it to lapse.
    """
    ticker = Ticker()

    def body():
        time.sleep(delay)
        ticker.run(handle_signals=False)

    def release():
        ticker.stop()
        with contextlib.suppress(Exception):
            ticker.release_lease()

    thread = threading.Thread(target=body, name="ticker", daemon=True)
    thread.start()
    atexit.register(release)
    return thread


def _queue_size(broker) -> int:
    try:
        return broker.queue_size() or 0
    except Exception:
        return 0

"""The delivery lane: a process of its own that sends what the outbox holds.

Monitoring (collection, evaluation, health checks) runs on the q2 workers; messages go
out here, so a storm of a thousand slow deliveries never delays a collection, and the
ticker never sees delivery work in the queue it measures. The outbox table is the
queue: routing commits rows, and the lane claims the most urgent due ones
(``delivery.deliver_next``), so a critical message is sent before the info messages
that were waiting when it arrived.

``NOTIFY_THREADS`` threads each claim a few rows, send them and claim again while
anything is due; idle, they wait for the main thread, which asks the outbox every
``NOTIFY_POLL_SECONDS`` whether a row is due (one indexed query) and routes repeat
messages every ``NOTIFY_SWEEP_INTERVAL``. Several lanes, on one machine or many, share
the outbox safely: a claim is one conditional UPDATE, and a lane that dies leaves
leases that run out.
"""

from __future__ import annotations

import logging
import signal
import threading
import time

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone

from notifications import delivery, grouping, routing

logger = logging.getLogger(__name__)

# How long a stopping lane waits for its senders (the supervisor kills at 15 s).
STOP_SECONDS = 12.0


class Dispatcher:
    def __init__(
        self,
        *,
        threads: int | None = None,
        batch: int | None = None,
        poll: float | None = None,
    ):
        self.threads = threads or settings.NOTIFY_THREADS
        self.batch = batch or settings.NOTIFY_CLAIM_BATCH
        self.poll = poll or settings.NOTIFY_POLL_SECONDS
        self.stopping = threading.Event()
        self.work = threading.Event()
        self.sent = 0
        self._sent_lock = threading.Lock()

    def stop(self, *_args) -> None:
        self.stopping.set()
        self.work.set()

    def run(self, *, handle_signals: bool = True) -> None:
        if handle_signals:
            signal.signal(signal.SIGTERM, self.stop)
            signal.signal(signal.SIGINT, self.stop)
        workers = [
            threading.Thread(target=self._send_loop, name=f"deliver-{n}", daemon=True)
            for n in range(self.threads)
        ]
        for worker in workers:
            worker.start()
        logger.info("delivery lane started: %s threads", self.threads)
        next_repeats = 0.0
        try:
            while not self.stopping.is_set():
                try:
                    now = timezone.now()
                    delivery.reclaim_abandoned(now)
                    if grouping.flush_due(now):
                        self.work.set()
                    if delivery.waiting(now).exists():
                        self.work.set()
                    if time.monotonic() >= next_repeats:
                        next_repeats = time.monotonic() + settings.NOTIFY_SWEEP_INTERVAL
                        if routing.repeats_due(now).exists() and routing.route_repeats(now):
                            self.work.set()
                except Exception:
                    logger.exception("the delivery lane could not read the outbox")
                    close_old_connections()
                self.stopping.wait(self.poll)
        finally:
            self.stop()
            # Each thread finishes the message it is sending and hands the rest of its
            # claim back; all are waited for together, within the supervisor's 15 s.
            deadline = time.monotonic() + STOP_SECONDS
            for worker in workers:
                worker.join(timeout=max(deadline - time.monotonic(), 0))
            connection.close()
            logger.info("delivery lane stopped after %s messages", self.sent)

    def _send_loop(self) -> None:
        try:
            while not self.stopping.is_set():
                try:
                    tried = delivery.deliver_next(self.batch, stopping=self.stopping.is_set)
                except Exception:
                    logger.exception("a delivery round failed")
                    close_old_connections()
                    tried = 0
                    self.stopping.wait(1.0)
                if tried:
                    with self._sent_lock:
                        self.sent += tried
                    continue
                # Nothing due: wait until the main thread sees something, or a while.
                self.work.wait(self.poll * 4)
                self.work.clear()
        finally:
            connection.close()

    def run_once(self) -> dict:
        """Send what is due now and route the repeats, then return (``--once``)."""
        return delivery.sweep()

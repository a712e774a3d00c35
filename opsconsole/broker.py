"""One q2 broker per process for everything that enqueues or asks the queue's length.

``django_q.brokers.get_broker()`` makes a new broker each call, and q2's Redis broker
a new Redis client with its own connection pool: the ticker's enqueues, the ingest
path's evaluator wake-ups and every /metrics scrape each opened (and left to the
garbage collector) a connection of their own. The broker here is made once per
process (again in a forked child) and shared by its threads, as redis-py's pool is
safe to share."""

from __future__ import annotations

import os
import threading
from typing import Any

_lock = threading.Lock()
_broker: Any = None
_pid: int | None = None


def shared() -> Any:
    global _broker, _pid
    with _lock:
        if _broker is None or _pid != os.getpid():
            from django_q.brokers import get_broker

            _broker, _pid = get_broker(), os.getpid()
        return _broker

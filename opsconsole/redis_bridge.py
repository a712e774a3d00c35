"""Redis for readers outside the console: seed 002's keys and its ``alerts`` channel.

With ``REDIS_URL`` set, the console writes what seed 002's dashboards and subscribers
read straight from Redis, under the seed's own names (no cache prefix, plain JSON):
``latest:{hostname}:{metric_type}``, ``health:{hostname}``, and a message on the channel
``ALERT_BROADCAST_CHANNEL`` (``alerts``) for every alert change. The apps say what to
write (``metrics.redis_keys``, ``alerts.broadcast``); this module only holds the client.

Writing here must never slow or break monitoring: the client has short timeouts, and
after a failure the bridge stays quiet for ``PAUSE_SECONDS`` (one warning per pause)
instead of making every ingest and every alert wait on a Redis that does not answer.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)

PAUSE_SECONDS = 30.0
TIMEOUT_SECONDS = 0.5

_client: tuple[int, str, Any] | None = None  # (pid, url, client)
_paused_until = 0.0


def client():
    """This process's Redis client for outside readers, or None (no ``REDIS_URL``, or
    paused after a failure). Made afresh after a fork: a socket must not be shared."""
    global _client
    url = settings.REDIS_URL
    if not url or time.monotonic() < _paused_until:
        return None
    pid = os.getpid()
    if _client is None or _client[0] != pid or _client[1] != url:
        import redis

        _client = (
            pid,
            url,
            redis.Redis.from_url(
                url,
                socket_connect_timeout=TIMEOUT_SECONDS,
                socket_timeout=TIMEOUT_SECONDS,
                health_check_interval=30,
            ),
        )
    return _client[2]


def run(what: str, write: Callable[[Any], None]) -> bool:
    """``write(client)``, or nothing while there is no Redis; a failure is logged once
    and pauses the bridge. Returns whether it was written."""
    global _paused_until
    redis_client = client()
    if redis_client is None:
        return False
    try:
        write(redis_client)
        return True
    except Exception as exc:
        _paused_until = time.monotonic() + PAUSE_SECONDS
        logger.warning("writing %s to Redis failed; pausing for %d s: %s", what, PAUSE_SECONDS, exc)
        return False


def dumps(value) -> str:
    """Compact JSON; datetimes and other objects as their text."""
    return json.dumps(value, separators=(",", ":"), default=str)


def _reset() -> None:
    """Forget the client and any pause (tests)."""
    global _client, _paused_until
    _client, _paused_until = None, 0.0

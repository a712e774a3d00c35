"""Seed 002's Redis keys, kept for outside readers when ``REDIS_URL`` is set.

After every ingest that touched a host (the ``samples_ingested`` signal, after commit):

- ``latest:{hostname}:{metric_type}``: ``{"value": 42.5, "time": "<iso>"}`` for each of
  the host's latest series (``metric_type`` is the series key, labels included:
  ``latest:web-01:disk_usage_percent{mount="/"}``);
- ``health:{hostname}``: the host's vitals summary as ``/api/v1/system/{id}/vitals``
  gives it, without the process list (``status``, ``cpu_percent``, ``memory_percent``,
  ``disk_percent``, ``load``, ``stale``, ``time``, ...).

Both expire with the console's own latest cache (``LATEST_TTL_SECONDS``), so a host gone
for good leaves nothing behind. One pipelined round trip per host and batch.
"""

from __future__ import annotations

from metrics.ingest import LATEST_TTL_SECONDS
from opsconsole import redis_bridge


def latest_key(hostname: str, series: str) -> str:
    return f"latest:{hostname}:{series}"


def health_key(hostname: str) -> str:
    return f"health:{hostname}"


def on_samples_ingested(sender, host, time, values, **kwargs) -> None:
    if not values or redis_bridge.client() is None:
        return
    from metrics.vitals import summarize

    at = time.isoformat() if time is not None else None
    health = summarize(host)
    health.pop("processes", None)

    def write(redis_client) -> None:
        pipe = redis_client.pipeline(transaction=False)
        for series, value in values.items():
            pipe.set(
                latest_key(host.hostname, series),
                redis_bridge.dumps({"value": value, "time": at}),
                ex=LATEST_TTL_SECONDS,
            )
        pipe.set(health_key(host.hostname), redis_bridge.dumps(health), ex=LATEST_TTL_SECONDS)
        pipe.execute()

    redis_bridge.run(f"the latest values of {host.hostname}", write)

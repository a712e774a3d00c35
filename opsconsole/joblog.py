"""Every q2 job logs its duration and outcome, and leaves its figures for ``/metrics``.

Connected to django-q2's ``pre_execute`` and ``post_execute_in_worker`` signals, which
fire in the process that runs the task (a worker, or the caller in sync mode). The
figures go to the cache, shared by every process, because ``/metrics`` is served by
the web process while the jobs run in the workers.
"""

from __future__ import annotations

import logging
import sys
import threading
import time

from django.core.cache import cache

logger = logging.getLogger("opsconsole.jobs")

STATS_KEY = "jobs:stats:{func}"
FUNCS_KEY = "jobs:funcs"
STATS_TTL = 7 * 24 * 3600

_local = threading.local()


def _stack() -> list[tuple[str, float]]:
    if not hasattr(_local, "stack"):
        _local.stack = []
    return _local.stack


def func_name(func, task: dict) -> str:
    if isinstance(task.get("func"), str):
        return task["func"]
    if func is None:
        return str(task.get("func"))
    return f"{getattr(func, '__module__', '?')}.{getattr(func, '__qualname__', func)}"


def current_func() -> str | None:
    stack = _stack()
    return stack[-1][0] if stack else None


def on_pre_execute(sender, func=None, task=None, **kwargs) -> None:
    _stack().append((func_name(func, task or {}), time.perf_counter()))


def on_post_execute(sender, func=None, task=None, **kwargs) -> None:
    stack = _stack()
    if not stack:
        return
    name, started = stack.pop()
    seconds = time.perf_counter() - started
    # In sync mode a failing task signals from inside the worker's except block,
    # before q2 has written "success" into the task.
    failed = sys.exc_info()[1] is not None or (task or {}).get("success") is False
    record(name, seconds, success=not failed)
    log = logger.warning if failed else logger.info
    log(
        "job %s %s in %.1f ms",
        name,
        "failed" if failed else "finished",
        seconds * 1000,
        extra={
            "job": name,
            "task_id": (task or {}).get("id"),
            "duration_ms": round(seconds * 1000, 2),
            "success": not failed,
        },
    )


def record(name: str, seconds: float, *, success: bool) -> None:
    """Keep the job's last duration and counts. Two workers finishing the same job in
    the same instant may lose one count: these are gauges for a dashboard, not a ledger."""
    try:
        key = STATS_KEY.format(func=name)
        stats = cache.get(key) or {"runs": 0, "failures": 0, "seconds_total": 0.0}
        stats["runs"] += 1
        stats["failures"] += 0 if success else 1
        stats["seconds_total"] += seconds
        stats["last_seconds"] = seconds
        stats["last_at"] = time.time()
        cache.set(key, stats, STATS_TTL)
        funcs = cache.get(FUNCS_KEY) or []
        if name not in funcs:
            cache.set(FUNCS_KEY, sorted([*funcs, name]), STATS_TTL)
    except Exception:  # the cache being down must not fail the job
        logger.debug("job stats not recorded", exc_info=True)


def stats() -> dict[str, dict]:
    funcs = cache.get(FUNCS_KEY) or []
    found = cache.get_many([STATS_KEY.format(func=name) for name in funcs])
    return {
        name: found[STATS_KEY.format(func=name)]
        for name in funcs
        if STATS_KEY.format(func=name) in found
    }

"""Counters shared by every process (in the cache), exported on ``/metrics``."""

from __future__ import annotations

from django.core.cache import cache


def count(key: str, amount: int = 1) -> None:
    if amount <= 0:
        return
    try:
        cache.incr(key, amount)
    except ValueError:  # no counter yet; another process may make it meanwhile
        if not cache.add(key, amount, None):
            cache.incr(key, amount)


def counter(key: str) -> int:
    return int(cache.get(key) or 0)

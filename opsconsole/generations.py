"""Counters in the shared cache that tell a process when its own copies are stale.

A web process keeps rows it reads on every request (API tokens and their owners,
hosts) in its memory; a change anywhere (the admin in another process, a command)
bumps the table's generation. The process that made the change drops its copies at
once; every other one looks at the generation at most every ``CONFIG_CACHE_SECONDS``
(as it rereads silences and routing) instead of reading the rows on every request. A
cleared or restarted cache reads as a new generation, so a lost counter can only cause
a re-read, never a stale answer.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache


class Generation:
    def __init__(self, name: str):
        self.key = f"generation:{name}"
        self.copies: list[ProcessCopies] = []

    def current(self) -> int:
        value = cache.get(self.key)
        if value is None:
            # A fresh random start: never a number an old process copy could hold.
            cache.add(self.key, secrets.randbits(48), None)
            value = cache.get(self.key)
        return value if value is not None else -1

    def bump(self, *args: Any, **kwargs: Any) -> None:
        """Mark every process's copies stale (usable as a signal receiver)."""
        for copies in self.copies:
            copies.clear()
        try:
            cache.incr(self.key)
        except ValueError:  # no counter yet: any new value differs from every copy
            cache.set(self.key, secrets.randbits(48), None)


class ProcessCopies:
    """A dict valid for one generation: emptied when the generation moves on."""

    def __init__(self, generation: Generation, max_entries: int = 100_000):
        self.generation = generation
        self.max_entries = max_entries
        self.seen: int | None = None
        self.checked = 0.0
        self.entries: dict = {}
        generation.copies.append(self)

    def fresh(self) -> dict:
        """The copies, emptied if the generation moved on (looked at once a while)."""
        now = time.monotonic()
        if self.seen is None or now - self.checked >= settings.CONFIG_CACHE_SECONDS:
            current = self.generation.current()
            self.checked = now
            if current != self.seen:
                self.entries = {}
                self.seen = current
        if len(self.entries) > self.max_entries:
            self.entries = {}
        return self.entries

    def clear(self) -> None:
        self.entries = {}
        self.seen = None

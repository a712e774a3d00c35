"""Counters in the shared cache that tell a process when its own copies are stale.

A web process keeps rows it reads on every request (API tokens and their owners,
hosts) in its memory; a change anywhere (the admin in another process, a command)
bumps the table's generation, and each process compares one cached number per request
instead of reading the rows again. A cleared or restarted cache reads as a new
generation, so a lost counter can only cause a re-read, never a stale answer.
"""

from __future__ import annotations

import secrets

from django.core.cache import cache


class Generation:
    def __init__(self, name: str):
        self.key = f"generation:{name}"

    def current(self) -> int:
        value = cache.get(self.key)
        if value is None:
            # A fresh random start: never a number an old process copy could hold.
            cache.add(self.key, secrets.randbits(48), None)
            value = cache.get(self.key)
        return value if value is not None else -1

    def bump(self, *args, **kwargs) -> None:
        """Mark every process's copies stale (usable as a signal receiver)."""
        try:
            cache.incr(self.key)
        except ValueError:  # no counter yet: any new value differs from every copy
            cache.set(self.key, secrets.randbits(48), None)


class ProcessCopies:
    """A dict valid for one generation: emptied when the generation moves on."""

    def __init__(self, generation: Generation, max_entries: int = 100_000):
        self.generation = generation
        self.max_entries = max_entries
        self.seen = None
        self.entries: dict = {}

    def fresh(self) -> dict:
        """The copies, after one look at the generation (emptied if it changed)."""
        now = self.generation.current()
        if now != self.seen or len(self.entries) > self.max_entries:
            self.entries = {}
            self.seen = now
        return self.entries

    def clear(self) -> None:
        self.entries = {}
        self.seen = None

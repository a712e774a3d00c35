"""Django's Redis cache with one connection pool per process.

Django keeps its cache objects per context, and under ASGI every request runs in a new
one: the stock backend then builds a new client, a new connection pool and a new TCP
connection to Redis for each request that touches the cache (an agent's batch does,
to recognise a resent one), and leaves the old ones to the garbage collector. Here
every context of a process shares one client per server list and options, so a
request borrows a connection from the process's pool and gives it back. (redis-py's
pool is thread-safe, and resets itself in a forked child.)"""

from __future__ import annotations

import threading
from typing import Any, ClassVar

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient
from django.utils.functional import cached_property


class RedisCache(DjangoRedisCache):
    # Set by Django's __init__ (not in django-stubs).
    _servers: list[str]
    _class: type[RedisCacheClient]
    _options: dict[str, Any]
    _clients: ClassVar[dict[tuple, RedisCacheClient]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    @cached_property
    def _cache(self) -> RedisCacheClient:
        options = self._options
        key = (tuple(self._servers), repr(sorted(options.items())))
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = self._clients[key] = self._class(self._servers, **options)
        return client

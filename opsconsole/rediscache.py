"""Django's Redis cache with one connection pool per process.

Django keeps its cache objects per context, and under ASGI every request runs in a new
one: the stock backend then builds a new client, a new connection pool and a new TCP
connection to Redis for each request that touches the cache (an agent's batch does,
to recognise a resent one), and leaves the old ones to the garbage collector. Here
every context of a process shares one client per server list and options, so a
request borrows a connection from the process's pool and gives it back, and that
client keeps one ``redis.Redis`` per server instead of building one per call. (redis-py's
pool is thread-safe, and resets itself in a forked child.)"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, ClassVar

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient
from django.utils.functional import cached_property


class SharedClients(RedisCacheClient):
    """Django's Redis cache client, keeping one redis-py client per server.

    Django's builds a new ``redis.Redis`` around the pool for every cache call, and a
    client's constructor fills its table of some 170 response callbacks: about a tenth
    of a millisecond per call, more than the call's round trip to a local Redis. A
    ``redis.Redis`` is safe to share between threads (each command borrows a
    connection from the pool), so one per server serves the whole process."""

    # Django's, not in django-stubs.
    _client: type
    _get_connection_pool_index: Callable[[bool], int]
    _get_connection_pool: Callable[[bool], Any]

    def __init__(self, servers: list[str], **options: Any) -> None:
        super().__init__(servers, **options)
        self._shared: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        index = self._get_connection_pool_index(write)
        client = self._shared.get(index)
        if client is None:
            pool = self._get_connection_pool(write)
            # (Two threads may both build one at first: either serves.)
            client = self._shared[index] = self._client(connection_pool=pool)
        return client


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
                client = self._clients[key] = SharedClients(self._servers, **options)
        return client

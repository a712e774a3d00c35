"""Redis connections are shared within a process: a request, a thread or a task that
touches the cache or enqueues borrows from the process's pool instead of opening a
connection of its own that only the garbage collector would close."""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime

import pytest

from opsconsole.rediscache import RedisCache


def test_every_context_of_a_process_shares_one_client():
    url = "redis://127.0.0.1:6379/14"
    made = [RedisCache(url, {}) for _ in range(2)]
    in_thread: list = []
    thread = threading.Thread(target=lambda: in_thread.append(RedisCache(url, {})._cache))
    thread.start()
    thread.join()
    assert made[0]._cache is made[1]._cache is in_thread[0]
    # Another server or other options: a client of its own.
    assert RedisCache("redis://127.0.0.1:6379/13", {})._cache is not made[0]._cache


def test_each_cache_call_reuses_the_process_s_redis_client(monkeypatch):
    import redis

    cache = RedisCache("redis://127.0.0.1:6379/14", {})
    try:
        cache.set("probe", 1)
    except redis.ConnectionError:
        pytest.skip("needs Redis on 127.0.0.1:6379")
    built: list = []
    original = redis.Redis.__init__

    def counting(self, *args, **kwargs):
        built.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(redis.Redis, "__init__", counting)
    for _ in range(20):
        assert cache.get("probe") == 1
        cache.get_many(["probe", "other"])
    monkeypatch.undo()
    cache.delete("probe")
    # Django's own client built a redis.Redis for each of these 40 calls.
    assert built == []


@pytest.mark.postgres
def test_a_hundred_batches_through_daphne_open_almost_no_redis_connection():
    import httpx
    import redis

    from tests.opsconsole.test_connection_pool import _serving

    if not os.environ.get("REDIS_URL"):
        pytest.skip("needs Redis (REDIS_URL)")
    with _serving() as (console, _admin_url, _database):
        token = console.manage("create_api_token", "--user", "admin", "--scopes", "ingest")
        server = redis.Redis.from_url(os.environ["REDIS_URL"])
        with httpx.Client(
            base_url=console.url, timeout=60, headers={"Authorization": f"Bearer {token.strip()}"}
        ) as client:

            def post(n: int) -> int:
                body = {
                    "host": "redis-probe-01",
                    "batch_id": f"batch-{n}",
                    "samples": [
                        {
                            "metric": "cpu_usage_percent",
                            "value": 5.0,
                            "time": datetime.now(UTC).isoformat(),
                        }
                    ],
                }
                return client.post("/api/v1/metrics", json=body).status_code

            assert post(0) == 201  # the first request opens the pool
            before = server.info("stats")["total_connections_received"]
            codes = [post(n) for n in range(1, 101)]
            opened = server.info("stats")["total_connections_received"] - before
    assert codes == [201] * 100
    # Each batch reads the cache (its batch id) and may wake the evaluator: with a
    # connection per request this was over 100. The few left are the workers' and
    # the ticker's own, opened once.
    assert opened <= 10, opened

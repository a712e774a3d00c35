"""Probes: one check of one endpoint, each an ``async`` function returning a ProbeResult.

Network probes (HTTP, TCP, Redis) run concurrently on one event loop; the probes that
use blocking drivers (the console's databases, the q2 broker) run in threads. A probe
never raises: whatever goes wrong becomes a failed result with a one-line error.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import socket
import ssl
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.utils import timezone

from healthchecks.constants import Kind

# Cloud instance-metadata services hand out credentials to anything on the machine that
# asks; a health check must never be a way to reach them.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200", "169.254.170.2")
)
ALLOWED_SCHEMES = ("http", "https")
# Enough for a keyword or a JSON status document; a check never buffers a huge body.
MAX_BODY_BYTES = 1024 * 1024
USER_AGENT = "OpsConsole-healthcheck/1"


class UnsafeTarget(ValueError):
    """A target the console refuses to contact."""


@dataclass
class ProbeResult:
    ok: bool
    response_ms: float | None = None
    status_code: int | None = None
    error: str = ""
    # Passed, but something an operator should see (a certificate about to expire).
    warning: str = ""
    details: dict = field(default_factory=dict)


def _refuse_address(address: str) -> None:
    try:
        ip = ipaddress.ip_address(address.strip("[]").split("%", 1)[0])
    except ValueError:
        return
    mapped = getattr(ip, "ipv4_mapped", None)
    if ip in METADATA_ADDRESSES or (mapped is not None and mapped in METADATA_ADDRESSES):
        raise UnsafeTarget(f"{address} is a cloud metadata address; it is never checked")


def validate_url(url: str) -> None:
    """Refuse what can be refused without the network: the scheme and literal addresses."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        raise UnsafeTarget(f"only http and https URLs are checked, not {parts.scheme or url!r}")
    if not parts.hostname:
        raise UnsafeTarget(f"{url!r} has no host")
    _refuse_address(parts.hostname)


def split_host_port(target: str) -> tuple[str, int]:
    host, sep, port = target.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UnsafeTarget(f"a TCP target is host:port, not {target!r}")
    _refuse_address(host)
    return host.strip("[]"), int(port)


async def _refuse_resolved(host: str, port: int | None) -> None:
    """Names that resolve to a metadata address are refused too."""
    _refuse_address(host)
    try:
        ipaddress.ip_address(host.strip("[]"))
        return  # a literal, already checked
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return  # the connection attempt will report the resolution failure itself
    for info in infos:
        _refuse_address(str(info[4][0]))


async def _guard_request(request: httpx.Request) -> None:
    # An event hook sees every request, redirects included, so a 302 to the metadata
    # service is refused like a direct URL.
    validate_url(str(request.url))
    await _refuse_resolved(request.url.host, request.url.port)


def http_client(**kwargs) -> httpx.AsyncClient:
    """The client a cycle shares between its HTTP probes (one connection pool)."""
    return httpx.AsyncClient(
        event_hooks={"request": [_guard_request]}, headers={"User-Agent": USER_AGENT}, **kwargs
    )


def parse_status_codes(text: str) -> list[tuple[int, int]]:
    """'200-299,301' -> [(200, 299), (301, 301)]; ValueError on anything else."""
    ranges = []
    for part in (p.strip() for p in (text or "").split(",")):
        if not part:
            continue
        low, _, high = part.partition("-")
        if not low.strip().isdigit() or (high and not high.strip().isdigit()):
            raise ValueError(f"{part!r} is not a status code or a range like 200-299")
        lo, hi = int(low), int(high or low)
        if not 100 <= lo <= hi <= 599:
            raise ValueError(f"{part!r} is not within 100-599")
        ranges.append((lo, hi))
    if not ranges:
        raise ValueError("at least one accepted status code is needed")
    return ranges


def _cert_days_left(response: httpx.Response) -> float | None:
    stream = response.extensions.get("network_stream")
    ssl_object = stream.get_extra_info("ssl_object") if stream is not None else None
    if ssl_object is None:
        return None
    cert = ssl_object.getpeercert()
    if not cert or "notAfter" not in cert:
        return None
    expires = datetime.fromtimestamp(ssl.cert_time_to_seconds(cert["notAfter"]), UTC)
    return (expires - timezone.now()).total_seconds() / 86400


def _json_expectation(endpoint, body: bytes) -> str:
    """An error message, or '' when the JSONPath expectation holds."""
    from jsonpath_ng.exceptions import JsonPathParserError
    from jsonpath_ng.ext import parse

    try:
        document = json.loads(body)
    except ValueError:
        return "the body is not JSON"
    try:
        matches = [m.value for m in parse(endpoint.expect_json_path).find(document)]
    except (JsonPathParserError, Exception) as exc:  # the library raises plain Exception
        return f"bad JSONPath {endpoint.expect_json_path!r}: {exc}"
    if not matches:
        return f"{endpoint.expect_json_path} matched nothing"
    wanted = endpoint.expect_json_value
    if wanted and not any(_same(value, wanted) for value in matches):
        return f"{endpoint.expect_json_path} is {matches[0]!r}, expected {wanted!r}"
    return ""


def _same(value, wanted: str) -> bool:
    if isinstance(value, bool):
        return str(value).lower() == wanted.strip().lower()
    if isinstance(value, (int, float)):
        try:
            return float(wanted) == value
        except ValueError:
            return False
    return str(value) == wanted


async def probe_http(endpoint, client: httpx.AsyncClient) -> ProbeResult:
    started = time.perf_counter()
    try:
        validate_url(endpoint.target)
        async with asyncio.timeout(endpoint.timeout_seconds):
            request = client.build_request(
                endpoint.http_method or "GET",
                endpoint.target,
                headers=endpoint.http_headers or None,
                timeout=endpoint.timeout_seconds,
            )
            response = await client.send(
                request, follow_redirects=endpoint.follow_redirects, stream=True
            )
            try:
                days_left = _cert_days_left(response)
                body = b""
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) >= MAX_BODY_BYTES:
                        break
            finally:
                await response.aclose()
    except UnsafeTarget as exc:
        return ProbeResult(ok=False, error=f"refused: {exc}")
    except (TimeoutError, httpx.TimeoutException):
        return ProbeResult(
            ok=False,
            response_ms=(time.perf_counter() - started) * 1000,
            error=f"timed out after {endpoint.timeout_seconds:g} s",
        )
    except httpx.HTTPError as exc:
        return ProbeResult(ok=False, error=_one_line(exc))
    except OSError as exc:
        return ProbeResult(ok=False, error=_one_line(exc))
    elapsed = (time.perf_counter() - started) * 1000
    result = ProbeResult(ok=True, response_ms=elapsed, status_code=response.status_code)
    try:
        accepted = parse_status_codes(endpoint.accepted_status_codes)
    except ValueError as exc:
        accepted, result.ok, result.error = [], False, f"accepted status codes: {exc}"
    if accepted and not any(lo <= response.status_code <= hi for lo, hi in accepted):
        result.ok = False
        result.error = f"status {response.status_code}, expected {endpoint.accepted_status_codes}"
    elif (
        result.ok
        and endpoint.expect_keyword
        and endpoint.expect_keyword not in body.decode(response.encoding or "utf-8", "replace")
    ):
        result.ok = False
        result.error = f"keyword {endpoint.expect_keyword!r} not in the response"
    if result.ok and endpoint.expect_json_path:
        problem = _json_expectation(endpoint, body)
        if problem:
            result.ok, result.error = False, problem
    if days_left is not None:
        result.details["tls_days_left"] = round(days_left, 1)
        if days_left < 0:
            result.ok, result.error = False, "the TLS certificate has expired"
        elif days_left < endpoint.tls_expiry_warning_days:
            result.warning = f"the TLS certificate expires in {days_left:.0f} days"
    return result


async def probe_tcp(endpoint) -> ProbeResult:
    started = time.perf_counter()
    try:
        host, port = split_host_port(endpoint.target)
        await _refuse_resolved(host, port)
        async with asyncio.timeout(endpoint.timeout_seconds):
            _reader, writer = await asyncio.open_connection(host, port)
    except UnsafeTarget as exc:
        return ProbeResult(ok=False, error=f"refused: {exc}")
    except TimeoutError:
        return ProbeResult(ok=False, error=f"timed out after {endpoint.timeout_seconds:g} s")
    except OSError as exc:
        return ProbeResult(ok=False, error=_one_line(exc))
    elapsed = (time.perf_counter() - started) * 1000
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return ProbeResult(ok=True, response_ms=elapsed)


def _database_check(alias: str) -> ProbeResult:
    from django.db import connections

    if alias not in settings.DATABASES:
        known = ", ".join(settings.DATABASES)
        return ProbeResult(ok=False, error=f"no database alias {alias!r} (known: {known})")
    fresh = connections.create_connection(alias)
    try:
        started = time.perf_counter()
        fresh.connect()
        connect_ms = (time.perf_counter() - started) * 1000
        with fresh.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
            details = {"connect_ms": round(connect_ms, 2)}
            if fresh.vendor == "postgresql":
                # Pool usage as the server sees it: connections in use of the maximum.
                cursor.execute(
                    "SELECT count(*), current_setting('max_connections')::int FROM pg_stat_activity"
                )
                used, most = cursor.fetchone()
                details.update(connections=used, max_connections=most)
        total = (time.perf_counter() - started) * 1000
        return ProbeResult(ok=True, response_ms=total, details=details)
    except Exception as exc:
        return ProbeResult(ok=False, error=_one_line(exc))
    finally:
        fresh.close()


async def probe_database(endpoint) -> ProbeResult:
    return await asyncio.to_thread(_database_check, endpoint.target or "default")


async def probe_redis(endpoint) -> ProbeResult:
    import redis.asyncio as aioredis
    from redis.exceptions import RedisError

    url = endpoint.target or settings.REDIS_URL
    if not url:
        return ProbeResult(ok=False, error="no Redis URL: set the target or REDIS_URL")
    started = time.perf_counter()
    client = aioredis.from_url(
        url,
        socket_connect_timeout=endpoint.timeout_seconds,
        socket_timeout=endpoint.timeout_seconds,
    )
    try:
        async with asyncio.timeout(endpoint.timeout_seconds):
            await client.ping()
        elapsed = (time.perf_counter() - started) * 1000
        return ProbeResult(ok=True, response_ms=elapsed)
    except TimeoutError:
        return ProbeResult(ok=False, error=f"timed out after {endpoint.timeout_seconds:g} s")
    except (RedisError, OSError, ValueError) as exc:
        return ProbeResult(ok=False, error=_one_line(exc))
    finally:
        await client.aclose()


def _queue_check() -> ProbeResult:
    from django.db import connections
    from django_q.status import Stat

    from opsconsole import broker as brokers

    started = time.perf_counter()
    try:
        broker = brokers.shared()
        clusters = Stat.get_all(broker=broker)
        workers = sum(len(stat.workers) for stat in clusters)
        queued = broker.queue_size() or 0
        oldest = _oldest_queued_seconds()
    except Exception as exc:
        return ProbeResult(ok=False, error=_one_line(exc))
    finally:
        # This thread is the cycle's, gone after it: its connections must not linger.
        connections.close_all()
    elapsed = (time.perf_counter() - started) * 1000
    details = {"clusters": len(clusters), "workers": workers, "queued": queued}
    if oldest is not None:
        details["oldest_queued_seconds"] = round(oldest, 1)
    result = ProbeResult(ok=True, response_ms=elapsed, details=details)
    if not clusters or not workers:
        result.ok = False
        result.error = f"no task workers are running; {queued} tasks wait"
    elif oldest is not None and oldest > settings.HEALTH_QUEUE_MAX_AGE_SECONDS:
        result.warning = f"the oldest queued task has waited {oldest:.0f} s"
    return result


def _oldest_queued_seconds() -> float | None:
    """Age of the oldest waiting task (the ORM broker stamps each on enqueue)."""
    if settings.Q_BROKER != "orm":
        return None
    from django_q.models import OrmQ

    now = timezone.now()
    # Tasks being worked on carry a lock in the future; waiting ones one in the past.
    first = OrmQ.objects.filter(lock__lte=now).order_by("lock").values_list("lock", flat=True)
    lock = first.first()
    return (now - lock).total_seconds() if lock else None


async def probe_queue(endpoint) -> ProbeResult:
    return await asyncio.to_thread(_queue_check)


async def probe(endpoint, client: httpx.AsyncClient) -> ProbeResult:
    """Run the probe for the endpoint's kind (heartbeats are not probed: they ping us)."""
    try:
        if endpoint.kind == Kind.HTTP:
            return await probe_http(endpoint, client)
        if endpoint.kind == Kind.TCP:
            return await probe_tcp(endpoint)
        if endpoint.kind == Kind.DATABASE:
            return await probe_database(endpoint)
        if endpoint.kind == Kind.REDIS:
            return await probe_redis(endpoint)
        if endpoint.kind == Kind.QUEUE:
            return await probe_queue(endpoint)
    except Exception as exc:  # a probe's bug must not take the whole cycle down
        return ProbeResult(ok=False, error=f"probe failed: {_one_line(exc)}")
    return ProbeResult(ok=False, error=f"no probe for kind {endpoint.kind!r}")


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    detail = text[0] if text else ""
    name = exc.__class__.__name__
    return f"{name}: {detail}"[:500] if detail else name

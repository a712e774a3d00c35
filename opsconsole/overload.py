"""A console out of database connections answers 503 with ``Retry-After``, not a 500.

With a connection pool, a request that finds every connection lent out waits
``DATABASE_POOL_TIMEOUT`` seconds and then gets ``PoolTimeout``. That is load, not a
bug: the request is answered "busy, retry in a few seconds" (agents keep the batch and
resend it after ``Retry-After``; a page can be reloaded), counted on ``/metrics`` as
``opsconsole_http_busy_answers_total``, logged once per answer, and raises no error
alert."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from django.conf import settings
from django.db import OperationalError
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from prometheus_client.core import CounterMetricFamily, Metric

from opsconsole.counters import count, counter

logger = logging.getLogger(__name__)

BUSY_COUNTER = "http:busy-answers"
RETRY_AFTER_SECONDS = 5


def pool_exhausted(exc: BaseException) -> bool:
    """Whether ``exc`` is Django's wrapper of psycopg's ``PoolTimeout``."""
    return isinstance(exc, OperationalError) and type(exc.__cause__).__name__ == "PoolTimeout"


def busy_answer(request: HttpRequest) -> HttpResponse:
    waited = settings.DATABASES["default"].get("OPTIONS", {}).get("pool", {}).get("timeout")
    reason = (
        "The console is busy: no database connection came free"
        + (f" within {waited:g} s" if isinstance(waited, int | float) else "")
        + f". Retry in {RETRY_AFTER_SECONDS} s."
    )
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse({"detail": reason}, status=503)
    else:
        response = HttpResponse(reason + "\n", status=503, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _count() -> None:
    try:
        count(BUSY_COUNTER)
    except Exception:  # the count must never turn the 503 into a 500
        logger.debug("could not count a busy answer", exc_info=True)


class BusyDatabaseMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if not pool_exhausted(exc):
            return None
        logger.warning("%s %s answered 503: %s", request.method, request.path, exc)
        _count()
        response = busy_answer(request)
        response._has_been_logged = True  # type: ignore[attr-defined] # said above, once
        return response


def busy_series() -> Iterable[Metric]:
    busy = CounterMetricFamily(
        "opsconsole_http_busy_answers",
        "Requests answered 503 because no database connection came free in time.",
    )
    busy.add_metric([], counter(BUSY_COUNTER))
    yield busy

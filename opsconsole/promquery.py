"""Read history from an existing Prometheus (``PROMETHEUS_URL``) for the console's charts.

    from opsconsole.promquery import query, query_range

    query('opsconsole_host_cpu_usage_percent{host="web-01"}')
    # [Series(labels={"__name__": ..., "host": "web-01"}, points=[(1700000000.0, 42.5)])]
    query_range("rate(opsconsole_job_runs_total[5m])", start, end, step=60)

Both speak Prometheus' HTTP API (``/api/v1/query``, ``/api/v1/query_range``) over
httpx and raise ``PrometheusError`` with one readable sentence on any failure: not
configured, unreachable (``PrometheusUnreachable``), an HTTP error, or an error
status in Prometheus' answer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
from django.conf import settings


class PrometheusError(RuntimeError):
    """Prometheus could not answer the query; the message says why."""


class PrometheusUnreachable(PrometheusError):
    """Prometheus did not answer at all (refused, unresolvable, timed out): any other
    query sent now would fail the same way."""


@dataclass
class Series:
    labels: dict[str, str]
    points: list[tuple[float, float]] = field(default_factory=list)


def _seconds(moment: datetime | float) -> float:
    return moment.timestamp() if isinstance(moment, datetime) else float(moment)


def _value(text: str) -> float:
    # Prometheus sends numbers as strings, including "NaN" and "+Inf".
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def _get(path: str, params: dict, *, base_url: str | None, timeout: float | None) -> dict:
    base = (base_url if base_url is not None else settings.PROMETHEUS_URL).rstrip("/")
    if not base:
        raise PrometheusError("PROMETHEUS_URL is not set: there is no Prometheus to query")
    try:
        response = httpx.get(
            f"{base}{path}", params=params, timeout=timeout or settings.PROMETHEUS_TIMEOUT
        )
    except httpx.HTTPError as exc:
        raise PrometheusUnreachable(f"Prometheus at {base} did not answer: {exc}") from None
    try:
        body = response.json()
    except ValueError:
        raise PrometheusError(
            f"Prometheus at {base} answered HTTP {response.status_code} without JSON"
        ) from None
    if body.get("status") != "success":
        raise PrometheusError(
            f"Prometheus refused the query: {body.get('errorType', 'error')}: "
            f"{body.get('error', 'HTTP ' + str(response.status_code))}"
        )
    return body.get("data", {})


def _series(data: dict) -> list[Series]:
    kind = data.get("resultType")
    result = data.get("result", [])
    if kind == "matrix":
        return [
            Series(
                item.get("metric", {}), [(float(t), _value(v)) for t, v in item.get("values", [])]
            )
            for item in result
        ]
    if kind == "vector":
        return [
            Series(item.get("metric", {}), [(float(item["value"][0]), _value(item["value"][1]))])
            for item in result
        ]
    if kind == "scalar":
        return [Series({}, [(float(result[0]), _value(result[1]))])]
    raise PrometheusError(f"Prometheus answered a result of type {kind!r}, not a series")


def query(
    promql: str,
    at: datetime | float | None = None,
    *,
    base_url: str | None = None,
    timeout: float | None = None,
) -> list[Series]:
    """The value of ``promql`` at one instant (now by default): one point per series."""
    params = {"query": promql}
    if at is not None:
        params["time"] = f"{_seconds(at):.3f}"
    return _series(_get("/api/v1/query", params, base_url=base_url, timeout=timeout))


def query_range(
    promql: str,
    start: datetime | float,
    end: datetime | float,
    step: timedelta | float = 60,
    *,
    base_url: str | None = None,
    timeout: float | None = None,
) -> list[Series]:
    """``promql`` evaluated every ``step`` seconds from ``start`` to ``end``."""
    step_seconds = step.total_seconds() if isinstance(step, timedelta) else float(step)
    if step_seconds <= 0:
        raise PrometheusError(f"step must be positive, got {step_seconds:g} s")
    if _seconds(end) < _seconds(start):
        raise PrometheusError("end is before start")
    params = {
        "query": promql,
        "start": f"{_seconds(start):.3f}",
        "end": f"{_seconds(end):.3f}",
        "step": f"{step_seconds:g}",
    }
    return _series(_get("/api/v1/query_range", params, base_url=base_url, timeout=timeout))

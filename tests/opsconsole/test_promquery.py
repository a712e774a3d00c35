"""query / query_range against a loopback server that speaks Prometheus' HTTP API."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from opsconsole.promquery import PrometheusError, query, query_range
from tests.opsconsole.prometheus import FakePrometheus


@pytest.fixture
def prometheus(settings):
    with FakePrometheus() as fake:
        settings.PROMETHEUS_URL = fake.url
        yield fake


def test_query_reads_an_instant_vector(prometheus):
    prometheus.answer = (
        200,
        {
            "status": "success",
            "data": {
                "resultType": "vector",
                "result": [
                    {
                        "metric": {
                            "__name__": "opsconsole_host_cpu_usage_percent",
                            "host": "web-01",
                        },
                        "value": [1700000000.5, "42.5"],
                    },
                ],
            },
        },
    )
    (series,) = query('opsconsole_host_cpu_usage_percent{host="web-01"}')
    assert series.labels["host"] == "web-01"
    assert series.points == [(1700000000.5, 42.5)]
    path, params = prometheus.requests[0]
    assert path == "/api/v1/query"
    assert params == {"query": 'opsconsole_host_cpu_usage_percent{host="web-01"}'}


def test_query_range_sends_start_end_and_step_and_reads_a_matrix(prometheus):
    prometheus.answer = (
        200,
        {
            "status": "success",
            "data": {
                "resultType": "matrix",
                "result": [
                    {
                        "metric": {"host": "db-01"},
                        "values": [[1700000000, "1"], [1700000060, "NaN"]],
                    },
                ],
            },
        },
    )
    start = datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    (series,) = query_range("opsconsole_host_load_1m", start, 1700000060, step=60)
    assert series.points[0] == (1700000000.0, 1.0)
    assert math.isnan(series.points[1][1])
    path, params = prometheus.requests[0]
    assert path == "/api/v1/query_range"
    assert params == {
        "query": "opsconsole_host_load_1m",
        "start": "1700000000.000",
        "end": "1700000060.000",
        "step": "60",
    }


def test_a_refused_query_raises_prometheus_error_with_its_reason(prometheus):
    prometheus.answer = (
        400,
        {"status": "error", "errorType": "bad_data", "error": "parse error at char 5"},
    )
    with pytest.raises(PrometheusError, match="bad_data: parse error at char 5"):
        query("rate(")


def test_an_unreachable_prometheus_raises_prometheus_error(settings):
    with FakePrometheus() as fake:
        url = fake.url
    settings.PROMETHEUS_URL = url  # the server is closed now
    with pytest.raises(PrometheusError, match="did not answer"):
        query("up")


def test_without_prometheus_url_it_says_so(settings):
    settings.PROMETHEUS_URL = ""
    with pytest.raises(PrometheusError, match="PROMETHEUS_URL is not set"):
        query("up")


def test_query_range_refuses_an_end_before_its_start(prometheus):
    with pytest.raises(PrometheusError, match="end is before start"):
        query_range("up", 200, 100)
    assert prometheus.requests == []

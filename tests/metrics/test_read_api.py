from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.metrics.helpers import store

pytestmark = pytest.mark.django_db


PROCESSES = [
    {
        "pid": 10,
        "name": "postgres",
        "username": "pg",
        "status": "running",
        "cpu_percent": 5.0,
        "memory_percent": 9.0,
        "rss_bytes": 900,
        "num_threads": 4,
        "read_bytes_per_second": 1.0,
        "write_bytes_per_second": 2.0,
        "cmdline": "postgres -D /data",
    },
    {
        "pid": 11,
        "name": "gunicorn",
        "username": "www",
        "status": "sleeping",
        "cpu_percent": 50.0,
        "memory_percent": 1.0,
        "rss_bytes": 100,
        "num_threads": 2,
        "read_bytes_per_second": None,
        "write_bytes_per_second": None,
        "cmdline": "gunicorn app",
    },
]


@pytest.fixture
def web01():
    now = datetime.now(UTC)
    points = [
        (now - timedelta(minutes=10) + timedelta(seconds=15 * i), float(i)) for i in range(40)
    ]
    store(
        "web-01",
        {
            "cpu_usage_percent": points,
            'disk_usage_percent{mount="/"}': [(now, 95.0)],
            "memory_usage_percent": [(now, 40.0)],
        },
        processes=[dict(p) for p in PROCESSES],  # ingest may rewrite what it is given
    )
    return now


def test_it_serves_a_series_with_units(carol, client, web01):
    client.force_login(carol)
    response = client.get(
        "/api/v1/metrics/system",
        {"host": "web-01", "metric": "cpu_usage_percent", "range": "15m", "step": 60},
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["unit"] == "percent" and body["source"] == "raw" and body["step_seconds"] == 60
    assert sum(p["count"] for p in body["points"]) == 40


def test_it_takes_labels_for_a_series(carol, client, web01):
    client.force_login(carol)
    response = client.get(
        "/api/v1/metrics/system",
        {"host": "web-01", "metric": "disk_usage_percent", "labels": "mount=/"},
    )
    assert response.status_code == 200
    assert response.json()["points"][0]["value"] == 95.0


@pytest.mark.parametrize(
    ("params", "status", "message"),
    [
        (
            {"host": "nope", "metric": "cpu_usage_percent"},
            404,
            "unknown host 'nope' (known: web-01)",
        ),
        ({"host": "web-01", "metric": "cpu_usage"}, 404, "did you mean: cpu_usage_percent"),
        (
            {"host": "web-01", "metric": "cpu_usage_percent", "range": "2w"},
            400,
            "range must be one of",
        ),
        (
            {
                "host": "web-01",
                "metric": "cpu_usage_percent",
                "start": "2026-11-02T00:00:00Z",
                "end": "2026-11-01T00:00:00Z",
            },
            400,
            "start must be before end",
        ),
        (
            {"host": "web-01", "metric": "cpu_usage_percent", "aggregation": "p99"},
            400,
            "aggregation",
        ),
        ({"host": "web-01", "metric": "cpu_usage_percent", "start": "yesterday"}, 422, "start"),
    ],
)
def test_it_explains_bad_queries(carol, client, web01, params, status, message):
    client.force_login(carol)
    response = client.get("/api/v1/metrics/system", params)
    assert response.status_code == status
    assert message in response.json()["detail"]


def test_it_lists_processes_by_cpu_or_memory(carol, client, web01):
    client.force_login(carol)
    by_cpu = client.get("/api/v1/metrics/processes", {"host": "web-01"}).json()
    assert [p["name"] for p in by_cpu] == ["gunicorn", "postgres"]
    by_memory = client.get("/api/v1/metrics/processes", {"host": "web-01", "sort": "memory"}).json()
    assert [p["name"] for p in by_memory] == ["postgres", "gunicorn"]
    assert (
        client.get("/api/v1/metrics/processes", {"host": "web-01", "sort": "pid"}).status_code
        == 400
    )


def test_a_process_answers_what_the_collector_records_with_its_time(carol, client, web01):
    from dataclasses import asdict

    from metrics.collector import ProcessRecord

    client.force_login(carol)
    (gunicorn, _postgres) = client.get("/api/v1/metrics/processes", {"host": "web-01"}).json()
    assert gunicorn.pop("time")
    # The answer is the collector's record, field for field (and no other).
    assert asdict(ProcessRecord(**gunicorn)) == gunicorn == PROCESSES[1]


def test_hosts_answer_their_row_and_whether_they_are_stale(carol, client, web01):
    client.force_login(carol)
    (host,) = client.get("/api/v1/metrics/hosts").json()
    fields = "hostname is_local platform cpu_count memory_total_bytes last_seen stale"
    assert set(host) == set(fields.split())
    assert host["hostname"] == "web-01" and host["stale"] is False


def test_it_serves_latest_values_from_the_cache(carol, token_for, api_client, web01):
    api = api_client(token_for(carol, "read"))
    body = api.get("/metrics/latest/web-01").json()
    assert body["values"]["cpu_usage_percent"] == 39.0
    assert body["units"]["cpu_usage_percent"] == "percent"
    assert body["stale"] is False
    assert {p["name"] for p in body["processes"]} == {"postgres", "gunicorn"}


def test_it_flags_hosts_over_thresholds_in_the_overview(carol, client, web01):
    client.force_login(carol)
    body = client.get("/api/v1/system/overview").json()
    assert body["host_count"] == 1 and body["critical_hosts"] == 1
    host = body["hosts"][0]
    assert host["status"] == "CRITICAL_LOAD"  # disk at 95 % is over the 90 % threshold
    assert host["disk_percent"] == 95.0


def test_it_refuses_users_without_a_role(mallory, client, web01):
    client.force_login(mallory)
    response = client.get("/api/v1/system/overview")
    assert response.status_code == 403
    assert "viewer" in response.json()["detail"]


def test_it_answers_health_without_auth(client):
    assert client.get("/api/v1/health").json()["status"] == "ok"
    assert client.get("/health").json()["status"] == "ok"
    assert client.get("/api/v1/").json()["name"] == "OpsConsole"
    assert client.get("/api/v1/status").status_code == 401


def test_it_collects_on_demand_for_responders_only(bob, carol, client):
    client.force_login(carol)
    response = client.post("/api/v1/metrics/collect")
    assert response.status_code == 403
    client.force_login(bob)
    response = client.post("/api/v1/metrics/collect")
    assert response.status_code == 200, response.content
    assert response.json()["samples"] > 10


def test_it_checks_csrf_for_session_writes(bob):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(bob)
    response = strict.post("/api/v1/metrics/collect")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


def test_it_serves_the_openapi_schema(client):
    schema = client.get("/api/v1/openapi.json").json()
    paths = schema["paths"]
    for path in [
        "/api/v1/metrics/system",
        "/api/v1/metrics",
        "/api/v1/system/overview",
        "/api/v1/metrics/latest/{hostname}",
        "/api/v1/metrics/collect",
    ]:
        assert path in paths


def test_a_token_never_does_more_than_its_owner_may(mallory, carol, token_for, api_client):
    # Mallory holds no role: her token reads nothing, whatever its scopes.
    nothing = api_client(token_for(mallory, "read,write,ingest"))
    response = nothing.get("/metrics/hosts")
    assert response.status_code == 403 and "viewer role" in response.json()["detail"]
    # Carol may read, not act: a write token of hers cannot trigger a collection.
    viewer = api_client(token_for(carol, "read,write"))
    assert viewer.get("/metrics/hosts").status_code == 200
    refused = viewer.post("/metrics/collect")
    assert refused.status_code == 403 and "responder role" in refused.json()["detail"]

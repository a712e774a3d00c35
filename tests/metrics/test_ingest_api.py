from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import TestCase

from metrics.models import Host, MetricSample, ProcessSample

pytestmark = pytest.mark.django_db


def _batch(host="db-01", n=3, **extra):
    now = datetime.now(UTC)
    return {
        "host": host,
        "samples": [
            {
                "metric": "cpu_usage_percent",
                "value": 10.0 + i,
                "time": (now - timedelta(seconds=n - i)).isoformat(),
            }
            for i in range(n)
        ],
        **extra,
    }


def test_it_stores_a_batch_and_reports_counts(alice, token_for, api_client):
    api = api_client(token_for(alice, "ingest"))
    response = api.post("/metrics", _batch(n=5, units={"orders": "count"}))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["samples"] == 5 and body["hosts"] == ["db-01"]
    assert MetricSample.objects.filter(host__hostname="db-01").count() == 5


def test_it_accepts_several_batches_and_labels(alice, token_for, api_client):
    api = api_client(token_for(alice, "ingest"))
    body = {
        "batches": [
            _batch("a"),
            {
                "host": "b",
                "samples": [
                    {"metric": "disk_usage_percent", "labels": {"mount": "/"}, "value": 40}
                ],
                "processes": [
                    {
                        "pid": 1,
                        "name": "init",
                        "cpu_percent": 0.1,
                        "memory_percent": 0.2,
                        "rss_bytes": 1000,
                    }
                ],
            },
        ]
    }
    response = api.post("/metrics", body)
    assert response.status_code == 201, response.content
    assert set(Host.objects.values_list("hostname", flat=True)) == {"a", "b"}
    sample = MetricSample.objects.get(host__hostname="b")
    assert sample.metric.key == 'disk_usage_percent{mount="/"}'
    assert sample.metric.unit == "percent"
    assert ProcessSample.objects.get(host__hostname="b").name == "init"


def test_it_resent_batch_stores_nothing_twice(alice, token_for, api_client):
    api = api_client(token_for(alice, "ingest"))
    batch = _batch(n=4)
    assert api.post("/metrics", batch).status_code == 201
    assert api.post("/metrics", batch).status_code == 201
    assert MetricSample.objects.count() == 4


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda b: b["samples"][1].update(value="abc"), "valid number"),
        (lambda b: b["samples"][1].update(metric="9bad name"), "metric name"),
        (lambda b: b["samples"][1].update(time="2026-01-01T00:00:00"), "timezone"),
        (lambda b: b.pop("host"), "either 'host'"),
        (
            lambda b: b["samples"][2].update(
                time=(datetime.now(UTC) + timedelta(hours=1)).isoformat()
            ),
            "ahead",
        ),
    ],
)
def test_it_refuses_a_bad_batch_whole(alice, token_for, api_client, mutate, message):
    api = api_client(token_for(alice, "ingest"))
    batch = _batch(n=3)
    mutate(batch)
    response = api.post("/metrics", batch)
    assert 400 <= response.status_code < 500, response.content
    assert message in response.json()["detail"]
    assert MetricSample.objects.count() == 0


def test_it_refuses_a_whole_request_when_one_batch_is_bad(alice, token_for, api_client):
    api = api_client(token_for(alice, "ingest"))
    bad = _batch("b")
    bad["samples"][0]["metric"] = "bad{label"
    response = api.post("/metrics", {"batches": [_batch("a"), bad]})
    assert response.status_code == 400
    assert MetricSample.objects.count() == 0
    assert not Host.objects.filter(hostname="a").exists()


def test_it_refuses_an_oversize_body(alice, token_for, api_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2048
    api = api_client(token_for(alice, "ingest"))
    response = api.post("/metrics", _batch(n=100))
    assert response.status_code == 413
    assert "smaller batches" in response.json()["detail"]
    assert MetricSample.objects.count() == 0


def test_it_needs_the_ingest_scope(alice, token_for, api_client):
    response = api_client(token_for(alice, "read")).post("/metrics", _batch())
    assert response.status_code == 403
    assert "ingest" in response.json()["detail"]
    assert api_client("opc_not-a-token").post("/metrics", _batch()).status_code == 401
    assert api_client().post("/metrics", _batch()).status_code == 401


def test_it_refuses_disabled_hosts(alice, token_for, api_client):
    Host.objects.create(hostname="db-01", enabled=False)
    response = api_client(token_for(alice, "ingest")).post("/metrics", _batch())
    assert response.status_code == 400
    assert "disabled" in response.json()["detail"]


def test_an_older_batch_does_not_replace_newer_latest_values(alice, token_for, api_client):
    from metrics.ingest import get_latest

    api = api_client(token_for(alice, "ingest"))
    now = datetime.now(UTC)
    for at, value in ((now, 90.0), (now - timedelta(minutes=10), 5.0)):
        body = {
            "host": "db-01",
            "samples": [{"metric": "cpu_usage_percent", "value": value, "time": at.isoformat()}],
        }
        with TestCase.captureOnCommitCallbacks(execute=True):
            assert api.post("/metrics", body).status_code == 201
    latest = get_latest(Host.objects.get(hostname="db-01"))
    assert latest["values"]["cpu_usage_percent"] == 90.0
    assert latest["time"] == now.isoformat()

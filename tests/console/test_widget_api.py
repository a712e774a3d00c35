"""The dashboard widget endpoints and the audit stream over the API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import override_settings

from alerts.service import AlertService
from opsconsole.models import AuditEntry
from tests.console.helpers import raise_alert
from tests.metrics.helpers import store

pytestmark = pytest.mark.django_db


def _host(name="web-01", cpu=42.0, memory=50.0):
    now = datetime.now(UTC)
    return store(
        name,
        {
            "cpu_usage_percent": [(now - timedelta(minutes=2), 10.0), (now, cpu)],
            "memory_usage_percent": [(now, memory)],
            'disk_usage_percent{mount="/"}': [(now, 30.0)],
        },
    ).host


def test_the_overview_counts_hosts_by_state_and_open_alerts(api_client, token_for, carol):
    _host("web-01", cpu=10)
    _host("db-01", cpu=97)
    raise_alert("CPU hot", "critical", resource="db-01")
    acked = raise_alert("Disk", "warning", resource="web-01")
    AlertService().acknowledge_alert(acked.pk, acknowledged_by="bob")
    body = api_client(token_for(carol)).get("/dashboard/overview").json()
    assert body["hosts"] == {"total": 2, "healthy": 1, "critical_load": 1, "no_data": 0, "stale": 0}
    assert body["critical_hosts"] == ["db-01"]
    assert body["alerts"]["open"] == 2 and body["alerts"]["acknowledged"] == 1
    assert body["alerts"]["open_by_severity"]["critical"] == 1
    assert [a["title"] for a in body["latest_alerts"]] == ["CPU hot", "Disk"]


def test_the_metrics_summary_gives_last_avg_min_max_per_host(api_client, token_for, carol):
    _host("web-01", cpu=30.0)
    body = api_client(token_for(carol)).get("/dashboard/metrics/summary", {"range": "1h"}).json()
    (host,) = body["hosts"]
    cpu = next(m for m in host["metrics"] if m["metric"] == "cpu_usage_percent")
    assert (cpu["last"], cpu["avg"], cpu["min"], cpu["max"], cpu["unit"]) == (
        30.0,
        20.0,
        10.0,
        30.0,
        "%",
    )


def test_the_metrics_summary_refuses_an_unknown_range_or_host(api_client, token_for, carol):
    client = api_client(token_for(carol))
    response = client.get("/dashboard/metrics/summary", {"range": "2y"})
    assert response.status_code == 400 and "range must be one of" in response.json()["detail"]
    assert client.get("/dashboard/metrics/summary", {"host": "nope"}).status_code == 404


@override_settings(CPU_ALERT_THRESHOLD=80.0)
def test_the_vitals_widget_says_critical_load_over_a_threshold(api_client, token_for, carol):
    _host("web-01", cpu=93.0)
    raise_alert("CPU hot", "critical", resource="web-01")
    body = api_client(token_for(carol)).get("/widgets/vitals", {"host": "web-01"}).json()
    assert body["status"] == "CRITICAL_LOAD" and body["cpu_percent"] == 93.0
    assert body["thresholds"]["cpu"] == 80.0 and body["open_alerts"] == 1


def test_the_vitals_widget_says_healthy_under_thresholds(api_client, token_for, carol):
    _host("web-01", cpu=12.0)
    body = api_client(token_for(carol)).get("/widgets/vitals", {"host": "web-01"}).json()
    assert body["status"] == "HEALTHY"


def test_the_vitals_widget_of_an_unknown_host_is_a_404(api_client, token_for, carol):
    response = api_client(token_for(carol)).get("/widgets/vitals", {"host": "ghost"})
    assert response.status_code == 404 and "ghost" in response.json()["detail"]


def test_the_audit_stream_pages_back_by_cursor(api_client, token_for, carol):
    for n in range(5):
        AuditEntry.objects.create(kind="login", actor="x", summary=f"entry {n}")
    client = api_client(token_for(carol))
    first = client.get("/audit", {"actor": "x", "limit": 2}).json()
    assert [i["summary"] for i in first["items"]] == ["entry 4", "entry 3"]
    second = client.get("/audit", {"actor": "x", "limit": 2, "cursor": first["next_cursor"]}).json()
    assert [i["summary"] for i in second["items"]] == ["entry 2", "entry 1"]
    last = client.get("/audit", {"actor": "x", "limit": 2, "cursor": second["next_cursor"]}).json()
    assert [i["summary"] for i in last["items"]] == ["entry 0"] and last["next_cursor"] is None


def test_the_audit_stream_refuses_an_unknown_kind(api_client, token_for, carol):
    response = api_client(token_for(carol)).get("/audit", {"kind": "gossip"})
    assert response.status_code == 400 and "unknown kind" in response.json()["detail"]


def test_widgets_need_a_role(api_client, token_for, mallory):
    response = api_client(token_for(mallory)).get("/dashboard/overview")
    assert response.status_code == 403


def test_the_widget_shapes_are_documented_with_examples(client):
    schema = client.get("/api/v1/openapi.json").json()
    for path in (
        "/api/v1/dashboard/overview",
        "/api/v1/dashboard/metrics/summary",
        "/api/v1/widgets/vitals",
        "/api/v1/audit",
    ):
        assert path in schema["paths"], path
    for name in ("OverviewOut", "MetricsSummaryOut", "VitalsOut", "AuditPage"):
        assert schema["components"]["schemas"][name]["examples"], name

"""Seed 002's alert and alert-rule endpoints, with roles and clear refusals."""

from __future__ import annotations

import pytest

from alerts.models import Alert, AlertRule
from alerts.service import AlertService
from opsconsole.bootstrap import load_defaults

pytestmark = pytest.mark.django_db


@pytest.fixture
def alerts():
    service = AlertService()
    warning = service.create_system_alert("cpu_percent", 92, 80, "web-01")
    critical = service.create_system_alert("disk_usage_percent", 140, 90, "db-01")
    resolved = service.create_system_alert("memory_usage_percent", 90, 85, "web-02")
    service.resolve_alert(resolved.pk, resolved_by="bob")
    return warning, critical, resolved


def test_the_list_is_most_severe_first_and_filters(carol, token_for, api_client, alerts):
    warning, critical, resolved = alerts
    api = api_client(token_for(carol))
    page = api.get("/alerts").json()
    assert page["count"] == 3
    # Critical first, then the warnings newest first.
    assert [a["id"] for a in page["items"]] == [critical.pk, resolved.pk, warning.pk]
    assert [a["id"] for a in api.get("/alerts", {"status": "open"}).json()["items"]] == [
        critical.pk,
        warning.pk,
    ]
    assert api.get("/alerts", {"severity": "high"}).json()["count"] == 1  # error or worse
    assert api.get("/alerts", {"q": "web-02"}).json()["items"][0]["id"] == resolved.pk
    assert api.get("/alerts", {"limit": 1, "offset": 2}).json()["items"][0]["id"] == warning.pk


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"status": "sleeping"}, "status must be open, all or one of"),
        ({"severity": "urgent"}, "unknown severity 'urgent'"),
        ({"category": "weather"}, "category must be one of"),
    ],
)
def test_bad_filters_get_a_reason(carol, token_for, api_client, params, message):
    response = api_client(token_for(carol)).get("/alerts", params)
    assert response.status_code == 400 and message in response.json()["detail"]


def test_an_alert_with_its_timeline(carol, token_for, api_client, alerts):
    warning, *_ = alerts
    body = api_client(token_for(carol)).get(f"/alerts/{warning.pk}").json()
    assert body["message"] == "CPU is at 92% (threshold: 80%, exceeded by 15.0%)"
    assert [e["kind"] for e in body["events"]] == ["fired"]
    assert api_client(token_for(carol)).get("/alerts/999999").status_code == 404


def test_responders_act_on_alerts_and_viewers_cannot(bob, carol, token_for, api_client, alerts):
    warning, _, resolved = alerts
    viewer = api_client(token_for(carol, "read,write"))
    assert viewer.post(f"/alerts/{warning.pk}", {"action": "acknowledge"}).status_code in (403, 405)
    refused = api_client(token_for(carol, "read,write")).client_patch(
        f"/alerts/{warning.pk}", {"action": "acknowledge"}
    )
    assert refused.status_code == 403
    responder = api_client(token_for(bob, "read,write"))
    done = responder.client_patch(
        f"/alerts/{warning.pk}", {"action": "acknowledge", "notes": "on it"}
    )
    assert done.status_code == 200, done.content
    assert done.json()["status"] == "acknowledged" and done.json()["acknowledged_by"] == "bob"
    again = responder.client_patch(f"/alerts/{resolved.pk}", {"action": "acknowledge"})
    assert again.status_code == 409 and "resolved" in again.json()["detail"]
    bad = responder.client_patch(f"/alerts/{warning.pk}", {"action": "suppress"})
    assert bad.status_code == 400 and "duration_hours" in bad.json()["detail"]
    suppressed = responder.client_patch(
        f"/alerts/{warning.pk}", {"action": "suppress", "duration_hours": 2, "notes": "maintenance"}
    )
    assert suppressed.json()["status"] == "suppressed"


def test_services_raise_alerts_and_repeats_count(bob, token_for, api_client):
    api = api_client(token_for(bob, "read,write"))
    body = {
        "alert_type": "payment_errors",
        "title": "Payments failing",
        "severity": "high",
        "category": "business",
        "resource": "checkout",
    }
    first = api.post("/alerts", body)
    assert first.status_code == 201 and first.json()["severity"] == "error"
    second = api.post("/alerts", body)
    assert second.json()["id"] == first.json()["id"]
    assert second.json()["notification_count"] == 2
    bad = api.post("/alerts", {**body, "severity": "urgent"})
    assert bad.status_code == 400 and "unknown severity" in bad.json()["detail"]


def test_stats_and_patterns(carol, token_for, api_client, alerts):
    api = api_client(token_for(carol))
    stats = api.get("/alerts/stats").json()
    assert stats["open"] == 2 and stats["open_by_severity"]["critical"] == 1
    patterns = api.get("/alerts/patterns", {"days": 7}).json()
    assert patterns["total_alerts"] == 3 and len(patterns["hourly_distribution"]) == 24
    assert api.get("/alerts/patterns", {"days": 0}).status_code == 422


def test_check_runs_the_evaluator(bob, token_for, api_client):
    body = api_client(token_for(bob, "read,write")).post("/alerts/check").json()
    assert {"rules", "fired", "resolved", "milliseconds"} <= set(body)


def test_rules_in_seed_002s_shape_are_accepted(alice, token_for, api_client):
    load_defaults()
    api = api_client(token_for(alice, "read,write"))
    created = api.post(
        "/alert-rules",
        {
            "name": "High CPU Usage (seed)",
            "rule_type": "system_metric",
            "condition": {
                "metric_type": "cpu_usage_percent",
                "operator": ">",
                "threshold": 85.0,
                "time_window_minutes": 5,
            },
            "severity": "high",
            "cooldown_minutes": 15,
        },
    )
    assert created.status_code == 201, created.content
    rule = AlertRule.objects.get(name="High CPU Usage (seed)")
    assert (rule.metric, rule.operator, rule.threshold) == ("cpu_usage_percent", "gt", 85.0)
    assert (rule.window_seconds, rule.cooldown_seconds, rule.severity) == (300, 900, "error")
    process = api.post(
        "/alert-rules",
        {
            "name": "High Python Memory Usage",
            "rule_type": "process_metric",
            "condition": {
                "process_name": "python",
                "metric_field": "memory_percent",
                "operator": ">",
                "threshold": 80.0,
            },
            "severity": "medium",
            "cooldown_minutes": 10,
        },
    )
    assert process.status_code == 201, process.content
    assert AlertRule.objects.get(name="High Python Memory Usage").process == "python"


def test_seed_002s_service_health_rule_is_accepted_as_written(alice, token_for, api_client):
    response = api_client(token_for(alice, "read,write")).post(
        "/alert-rules",
        {
            "name": "Chat Service Down",
            "rule_type": "service_health",
            "condition": {"service_name": "chat-service", "max_response_time_ms": 5000},
            "severity": "critical",
            "cooldown_minutes": 5,
        },
    )
    assert response.status_code == 201, response.content
    rule = AlertRule.objects.get(name="Chat Service Down")
    assert (rule.kind, rule.service, rule.operator, rule.threshold) == (
        "service_health",
        "chat-service",
        "gt",
        5000,
    )
    assert (rule.severity, rule.cooldown_seconds) == ("critical", 300)


def test_rule_edits_are_validated_and_admin_only(alice, carol, token_for, api_client):
    load_defaults()
    rule = AlertRule.objects.get(name="High CPU usage")
    admin = api_client(token_for(alice, "read,write"))
    bad = admin.client_patch(f"/alert-rules/{rule.pk}", {"threshold": "lots"})
    assert bad.status_code == 422 and "threshold" in bad.json()["detail"]
    unknown = admin.client_patch(f"/alert-rules/{rule.pk}", {"treshold": 5})
    assert unknown.status_code == 422 and "treshold" in unknown.json()["detail"]
    rule.refresh_from_db()
    assert rule.threshold == 80.0, "nothing changed"
    changed = admin.client_patch(f"/alert-rules/{rule.pk}", {"threshold": 90, "enabled": False})
    assert changed.status_code == 200 and changed.json()["threshold"] == 90
    assert changed.json()["enabled"] is False
    viewer = api_client(token_for(carol, "read,write"))
    assert viewer.client_patch(f"/alert-rules/{rule.pk}", {"threshold": 1}).status_code == 403
    assert [r["name"] for r in viewer.get("/alert-rules", {"enabled": False}).json()] == [
        "High CPU usage"
    ]
    assert admin.client_delete(f"/alert-rules/{rule.pk}").status_code == 204
    assert admin.get(f"/alert-rules/{rule.pk}").status_code == 404


def test_deleting_a_rule_keeps_its_alerts(alice, token_for, api_client):
    rule = AlertRule.objects.create(name="r", metric="cpu_usage_percent", threshold=1)
    alert = AlertService().create_system_alert("cpu_percent", 95, 80, "web-01", rule=rule)
    api_client(token_for(alice, "read,write")).client_delete(f"/alert-rules/{rule.pk}")
    alert.refresh_from_db()
    assert Alert.objects.filter(pk=alert.pk).exists() and alert.rule is None


def test_the_api_docs_describe_the_alert_endpoints(client):
    schema = client.get("/api/v1/openapi.json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert {"/api/v1/alerts", "/api/v1/alerts/{alert_id}", "/api/v1/alert-rules/{rule_id}"} <= set(
        paths
    )
    assert "patch" in paths["/api/v1/alerts/{alert_id}"]


def test_silences_are_created_listed_ended_and_validated(bob, carol, token_for, api_client):
    from datetime import timedelta

    from django.utils import timezone

    from alerts.models import Silence

    responder = api_client(token_for(bob, "read,write"))
    ends = (timezone.now() + timedelta(hours=2)).isoformat()
    created = responder.post(
        "/silences",
        {
            "matchers": [{"field": "resource", "op": "regex", "value": "db-0[12]"}],
            "ends_at": ends,
            "comment": "failover test",
        },
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["state"] == "active" and body["created_by"] == "bob"
    # Patterns run on RE2: what it cannot run (a backreference) is refused with why.
    unsupported = responder.post(
        "/silences",
        {"matchers": [{"field": "resource", "op": "regex", "value": r"(a)\1"}], "ends_at": ends},
    )
    assert unsupported.status_code == 422 and "backreferences" in unsupported.json()["detail"]
    backwards = responder.post(
        "/silences",
        {
            "matchers": [{"field": "resource", "value": "x"}],
            "starts_at": ends,
            "ends_at": timezone.now().isoformat(),
        },
    )
    assert backwards.status_code == 422 and "end after it starts" in backwards.json()["detail"]
    assert Silence.objects.count() == 1
    viewer = api_client(token_for(carol, "read,write"))
    assert [s["comment"] for s in viewer.get("/silences", {"state": "active"}).json()] == [
        "failover test"
    ]
    assert viewer.post("/silences", {"matchers": [], "ends_at": ends}).status_code == 403
    ended = responder.client_patch(
        f"/silences/{body['id']}", {"ends_at": timezone.now().isoformat()}
    )
    assert ended.status_code == 200, ended.content
    assert ended.json()["state"] == "expired"
    assert viewer.get("/silences", {"state": "active"}).json() == []
    assert responder.client_delete(f"/silences/{body['id']}").status_code == 204


def test_the_api_docs_page_and_its_assets_are_served(client):
    page = client.get("/api/v1/docs")
    assert page.status_code == 200 and b"swagger-ui" in page.content
    asset = client.get("/static/ninja/swagger-ui-bundle.js")
    assert asset.status_code == 200

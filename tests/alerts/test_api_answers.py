"""Answers made of a row's columns (ModelSchemas with StoredColumns): the keys and their
order as clients have always read them, a document that says which are never null,
and a stored text longer than its column answered rather than a 500."""

from __future__ import annotations

import pytest
from django.db import connection

from alerts.models import Alert, AlertRule
from alerts.service import AlertService
from opsconsole.api import api

SCHEMAS = api.get_openapi_schema()["components"]["schemas"]

ALERT_KEYS = [
    "id", "alert_type", "title", "message", "severity", "category", "status", "resource",
    "labels", "value", "threshold", "notification_count", "first_seen", "last_seen",
    "acknowledged_by", "acknowledged_at", "resolved_by", "resolved_at", "suppressed_until",
    "rule_id",
]  # fmt: skip
RULE_KEYS = [
    "id", "name", "kind", "metric", "process", "service", "host", "operator", "threshold",
    "clear_threshold", "window_seconds", "aggregation", "min_samples", "for_seconds",
    "severity", "category", "labels", "cooldown_seconds", "repeat_interval_seconds",
    "enabled", "description", "runbook_url", "recommendations", "broken_reason",
    "broken_since",
]  # fmt: skip


def test_the_keys_come_as_they_always_did(carol, token_for, api_client):
    rule = AlertRule.objects.create(name="cpu", metric="cpu_usage_percent", threshold=80)
    alert = AlertService().create_system_alert("cpu_percent", 95, 80, "web-01", rule=rule)
    viewer = api_client(token_for(carol))
    assert list(viewer.get("/alerts").json()["items"][0]) == ALERT_KEYS
    detail = list(viewer.get(f"/alerts/{alert.pk}").json())
    assert detail[: len(ALERT_KEYS)] == ALERT_KEYS and detail[-1] == "events"
    assert list(viewer.get(f"/alert-rules/{rule.pk}").json()) == RULE_KEYS


def test_the_document_says_which_columns_may_be_null():
    alert = SCHEMAS["AlertOut"]
    assert alert["required"] == ALERT_KEYS
    assert alert["properties"]["resource"]["type"] == "string"  # blank, never null
    nullable = {t.get("type") for t in alert["properties"]["acknowledged_at"]["anyOf"]}
    assert nullable == {"string", "null"}
    rule = SCHEMAS["RuleOut"]["properties"]
    assert rule["metric"]["type"] == "string" and "default" not in rule["metric"]
    assert rule["window_seconds"]["description"] == "5 s to 30 days."  # the model's help


@pytest.mark.skipif(connection.vendor != "sqlite", reason="PostgreSQL refuses the row")
def test_a_text_longer_than_its_column_is_answered_as_stored(carol, token_for, api_client):
    Alert.objects.filter(pk=AlertService().create_system_alert("cpu", 95, 80, "web").pk).update(
        resource="r" * 400
    )
    answer = api_client(token_for(carol)).get("/alerts")
    assert answer.status_code == 200
    assert answer.json()["items"][0]["resource"] == "r" * 400


def test_a_silence_patch_refuses_a_null_where_there_is_no_meaning(bob, token_for, api_client):
    api = api_client(token_for(bob, "read,write"))
    silence = api.post(
        "/silences",
        {"matchers": [{"field": "severity", "value": "info"}], "ends_at": "2099-01-01T00:00:00Z"},
    ).json()
    for field in ("matchers", "ends_at"):
        refused = api.client_patch(f"/silences/{silence['id']}", {field: None})
        assert refused.status_code == 422 and refused.json()["detail"].startswith(f"{field}: ")
    cleared = api.client_patch(f"/silences/{silence['id']}", {"comment": None, "recurrence": None})
    assert cleared.status_code == 200 and cleared.json()["comment"] == ""

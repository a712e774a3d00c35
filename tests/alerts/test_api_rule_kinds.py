"""A rule's body is typed per kind: each kind's schema takes the fields that kind reads,
a field of another kind is refused (unless it holds its default, as a GET shows it),
and seed 002's shape and a rule sent back as a GET returned it keep working."""

from __future__ import annotations

from typing import get_args

import pytest

from alerts.forms import KIND_FIELDS
from alerts.models import AlertRule
from alerts.schema import RULE_SCHEMAS, NewRule, RuleKind, RulePatch
from opsconsole.api import api

SCHEMAS = api.get_openapi_schema()["components"]["schemas"]


@pytest.fixture
def admin(alice, token_for, api_client):
    return api_client(token_for(alice, "read,write"))


def test_each_kinds_schema_takes_the_fields_that_kind_reads():
    common = set(NewRule.model_fields) | {"kind", "rule_type", "condition"}
    for kind, schema in RULE_SCHEMAS.items():
        reads = {field for field, kinds in KIND_FIELDS.items() if kind in kinds}
        assert set(schema.model_fields) - common == reads, kind
    assert set(RULE_SCHEMAS) == set(AlertRule.Kind.values) == set(get_args(RuleKind))
    # A PATCH may change the kind, so it takes every field of every kind.
    assert set(RulePatch.model_fields) == set().union(
        *(s.model_fields for s in RULE_SCHEMAS.values())
    )


def test_the_document_shows_each_kinds_body():
    post = api.get_openapi_schema()["paths"]["/api/v1/alert-rules"]["post"]
    bodies = post["requestBody"]["content"]["application/json"]["schema"]["oneOf"]
    names = {ref["$ref"].rsplit("/", 1)[1] for ref in bodies}
    assert names == {s.__name__ for s in RULE_SCHEMAS.values()}
    service = SCHEMAS["ServiceRuleIn"]["properties"]
    assert "service" in service and not {"metric", "labels", "host", "process"} & set(service)
    absence = SCHEMAS["AbsenceRuleIn"]["properties"]
    assert "metric" in absence and not {"threshold", "operator", "aggregation"} & set(absence)
    assert SCHEMAS["SystemMetricRuleIn"]["properties"]["operator"]["enum"][0] == "gt"
    assert SCHEMAS["ServiceRuleIn"]["examples"][0]["rule_type"] == "service_health"


def test_a_field_of_another_kind_is_refused_with_who_reads_it(admin):
    body = {"name": "cpu", "metric": "cpu_usage_percent", "threshold": 80, "process": "python"}
    refused = admin.post("/alert-rules", body)
    assert refused.status_code == 422
    assert refused.json()["detail"] == (
        "process: system_metric rules do not read it (process_metric rules do)"
    )
    absent = admin.post(
        "/alert-rules", {"name": "quiet", "kind": "absence", "metric": "x", "threshold": 1}
    )
    assert absent.status_code == 422 and absent.json()["detail"].startswith(
        "threshold: absence rules do not read it ("
    )
    assert not AlertRule.objects.exists()


def test_a_rule_as_a_get_returns_it_can_be_sent_back(admin):
    created = admin.post("/alert-rules", {"name": "web down", "kind": "service_health",
                                          "service": "web", "threshold": 500})  # fmt: skip
    assert created.status_code == 201, created.content
    rule = created.json()
    assert (rule["metric"], rule["host"], rule["labels"]) == ("", "", {})
    copy = admin.post("/alert-rules", {**rule, "name": "web down (copy)", "threshold": 800})
    assert copy.status_code == 201, copy.content
    assert copy.json()["id"] != rule["id"] and copy.json()["threshold"] == 800
    back = admin.client_patch(f"/alert-rules/{rule['id']}", {**rule, "min_samples": 3})
    assert back.status_code == 200, back.content
    assert back.json() == {**rule, "min_samples": 3}


def test_an_unknown_kind_says_which_there_are(admin):
    for body in (
        {"name": "x", "kind": "nope"},
        {"name": "x", "rule_type": "nope"},
        {"name": "x", "kind": ["system_metric"]},
        {"name": "x", "rule_type": {"kind": "trend"}},
    ):
        refused = admin.post("/alert-rules", body)
        assert refused.status_code == 422
        assert refused.json()["detail"].startswith(
            "kind (or rule_type) must be one of: system_metric"
        )


def test_a_field_the_kind_knows_not_of_is_refused(admin):
    refused = admin.post("/alert-rules", {"name": "x", "metric": "cpu_usage_percent",
                                          "threshold": 1, "treshold": 2})  # fmt: skip
    assert refused.status_code == 422
    assert refused.json()["detail"] == "system_metric.treshold: Extra inputs are not permitted"


def test_min_samples_is_taken(admin):
    created = admin.post("/alert-rules", {"name": "queue", "kind": "custom_metric",
                                          "metric": "queue_depth", "threshold": 5,
                                          "min_samples": 3})  # fmt: skip
    assert created.status_code == 201, created.content
    assert AlertRule.objects.get(name="queue").required_samples == 3


def test_a_patch_is_held_to_the_rules_kind_or_the_one_it_gives(admin):
    rule = AlertRule.objects.create(name="cpu", metric="cpu_usage_percent", threshold=80)
    refused = admin.client_patch(f"/alert-rules/{rule.pk}", {"service": "web"})
    assert refused.status_code == 422
    assert refused.json()["detail"] == (
        "service: system_metric rules do not read it (service_health rules do)"
    )
    moved = admin.client_patch(
        f"/alert-rules/{rule.pk}", {"kind": "process_metric", "process": "postgres"}
    )
    assert moved.status_code == 200, moved.content
    rule.refresh_from_db()
    assert (rule.kind, rule.process, rule.metric) == (
        "process_metric",
        "postgres",
        "cpu_usage_percent",
    )
    contradicted = admin.client_patch(
        f"/alert-rules/{rule.pk}", {"kind": "absence", "rule_type": "trend"}
    )
    assert contradicted.status_code == 422 and "rule_type" in contradicted.json()["detail"]


def test_a_seed_shaped_patch_keeps_the_kind(admin):
    created = admin.post(
        "/alert-rules",
        {
            "name": "High Python Memory Usage",
            "rule_type": "process_metric",
            "condition": {"process_name": "python", "metric_field": "memory_percent",
                          "operator": ">", "threshold": 80.0},
            "cooldown_minutes": 10,
        },
    )  # fmt: skip
    assert created.status_code == 201, created.content
    rule_id = created.json()["id"]
    changed = admin.client_patch(f"/alert-rules/{rule_id}", {"condition": {"threshold": 90}})
    assert changed.status_code == 200, changed.content
    assert (changed.json()["kind"], changed.json()["threshold"]) == ("process_metric", 90.0)
    assert changed.json()["metric"] == "memory_percent"


@pytest.mark.parametrize(
    "body",
    [
        {"cooldown_minutes": 1e308},
        {"cooldown_minutes": -1},
        {"condition": {"metric_type": "cpu_usage_percent", "threshold": 1,
                       "time_window_minutes": 1e308}},
    ],
)  # fmt: skip
def test_seed_minutes_out_of_range_are_refused_not_a_500(admin, body):
    response = admin.post("/alert-rules", {"name": "x", "metric": "cpu_usage_percent",
                                           "threshold": 1, **body})  # fmt: skip
    assert response.status_code == 422, response.content
    assert "minutes" in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ({"name": "x"}, "SystemMetricRuleIn"),
        ({"name": "x", "rule_type": None}, "SystemMetricRuleIn"),
        ({"name": "x", "kind": "trend"}, "TrendRuleIn"),
        ({"name": "x", "rule_type": "service_health"}, "ServiceRuleIn"),
        ({"name": "x", "kind": "absence", "rule_type": "absence"}, "AbsenceRuleIn"),
    ],
)
def test_the_document_matches_a_body_to_one_kind_as_the_api_does(body, kind):
    # The fuzzer generates a oneOf's body from one branch and drops it if another branch
    # takes it too: every body must match the one schema the discriminator picks.
    import json

    import jsonschema_rs

    document = json.loads(json.dumps(api.get_openapi_schema(), default=str))
    post = document["paths"]["/api/v1/alert-rules"]["post"]
    branches = post["requestBody"]["content"]["application/json"]["schema"]["oneOf"]
    matching = [
        ref["$ref"].rsplit("/", 1)[1]
        for ref in branches
        if jsonschema_rs.is_valid({"components": document["components"], **ref}, body)
    ]
    assert matching == [kind]

"""Seed 003's built-in domain rules (drawdown, leverage, API rate limit remaining, agent
failures, exchange latency) ship as disabled templates an admin enables in one click."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alerts import rule_templates
from alerts.evaluator import evaluate
from alerts.forms import AlertRuleForm
from alerts.models import Alert, AlertRule
from opsconsole.bootstrap import load_defaults
from opsconsole.models import ConfigVersion
from tests.metrics.helpers import store

pytestmark = pytest.mark.django_db

URL = "/admin/alerts/alertrule/templates/"
NAMES = [t.name for t in rule_templates.TEMPLATES]


def test_nothing_runs_until_a_template_is_enabled():
    load_defaults()
    assert not AlertRule.objects.filter(name__in=NAMES).exists()
    assert {t.key for t in rule_templates.TEMPLATES} >= {
        "trading_drawdown",
        "leverage",
        "api_rate_limit",
        "agent_failures",
        "exchange_latency",
    }


@pytest.mark.parametrize("template", rule_templates.TEMPLATES, ids=lambda t: t.key)
def test_each_template_is_a_rule_the_admin_form_accepts(template):
    store("trader-01", {template.fields["metric"]: [(datetime.now(UTC), 1.0)]})
    rule = rule_templates.template_rule(template)
    data = {name: getattr(rule, name) for name in AlertRuleForm.Meta.fields}
    data = {k: ("" if v is None else v) for k, v in data.items()}
    data["labels"], data["recommendations"] = "{}", "[]"
    form = AlertRuleForm(data=data)
    assert form.is_valid(), form.errors


def test_one_click_in_the_admin_enables_it_and_it_then_fires(admin_client):
    client = admin_client
    page = client.get(URL)
    assert page.status_code == 200 and b"Large trading losses" in page.content
    assert b"not in use" in page.content
    response = client.post(URL, {"template": "trading_drawdown"})
    assert response.status_code == 302
    rule = AlertRule.objects.get(name="Large trading losses")
    assert rule.enabled and rule.kind == "custom_metric" and rule.threshold == 10
    assert ConfigVersion.objects.filter(object_key=str(rule.pk), source="template").exists()
    now = datetime.now(UTC).replace(microsecond=0)
    store("trader-01", {"trading_drawdown_percent": [(now - timedelta(seconds=5), 12.5)]})
    evaluate(now)
    alert = Alert.objects.get(rule=rule)
    assert alert.severity == "critical" and alert.resource == "trader-01"


def test_enabling_again_enables_the_rule_an_admin_turned_off(admin_client):
    client = admin_client
    client.post(URL, {"template": "leverage"})
    AlertRule.objects.filter(name="Risk limit breach: leverage").update(enabled=False)
    assert b"disabled" in client.get(URL).content
    client.post(URL, {"template": "leverage"})
    assert AlertRule.objects.get(name="Risk limit breach: leverage").enabled
    assert AlertRule.objects.filter(name__in=NAMES).count() == 1


def test_viewers_see_the_templates_but_cannot_enable_them(client, carol):
    load_defaults()
    carol.is_staff = True
    carol.save()
    client.force_login(carol)
    page = client.get(URL)
    assert page.status_code == 200 and b"Enable</button>" not in page.content
    assert client.post(URL, {"template": "leverage"}).status_code == 403
    assert not AlertRule.objects.filter(name__in=NAMES).exists()


def test_the_api_lists_and_enables_templates(alice, carol, token_for, api_client):
    viewer = api_client(token_for(carol))
    listed = viewer.get("/alert-rules/templates").json()
    assert {t["key"] for t in listed} >= {"exchange_latency", "agent_failures"}
    assert viewer.post("/alert-rules/templates/agent_failures/enable").status_code in (401, 403)
    admin = api_client(token_for(alice, "read,write"))
    enabled = admin.post("/alert-rules/templates/exchange_latency/enable")
    assert enabled.status_code == 200, enabled.content
    assert (enabled.json()["aggregation"], enabled.json()["kind"]) == ("p99", "latency")
    assert admin.post("/alert-rules/templates/nope/enable").status_code == 404

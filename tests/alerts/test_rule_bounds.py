"""Rule numbers have bounds at save, and a rule that cannot be evaluated is marked
broken with its reason while every other rule goes on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from alerts import evaluator
from alerts.evaluator import evaluate
from alerts.models import Alert, AlertRule
from opsconsole.bootstrap import load_defaults
from tests.alerts.test_admin import _rule as _form_data
from tests.metrics.helpers import store

pytestmark = pytest.mark.django_db

NOW = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)


@pytest.fixture(autouse=True)
def _no_evaluation_on_ingest():
    from alerts.apps import _evaluate_soon
    from metrics.signals import samples_ingested

    samples_ingested.disconnect(dispatch_uid="alerts.evaluate_after_ingest")
    yield
    samples_ingested.connect(_evaluate_soon, dispatch_uid="alerts.evaluate_after_ingest")


def _rule(name, **fields):
    defaults = {"metric": "cpu_usage_percent", "threshold": 80, "window_seconds": 60}
    return AlertRule.objects.create(name=name, **{**defaults, **fields})


def _hot_cpu():
    store("web-01", {"cpu_usage_percent": [(NOW - timedelta(seconds=s), 95.0) for s in (0, 15)]})


def _broken_gauge() -> dict[str, float]:
    response = Client().get("/metrics")
    assert response.status_code == 200
    families = {f.name: f for f in text_string_to_metric_families(response.content.decode())}
    return {s.labels["rule"]: s.value for s in families["opsconsole_alert_rule_broken"].samples}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("window_seconds", 10**12, "at most 30 days"),
        ("window_seconds", 1, "at least 5 s"),
        ("for_seconds", 10**12, "at most 30 days"),
        ("cooldown_seconds", 31 * 86400, "at most 30 days"),
        ("repeat_interval_seconds", 2**40, "at most 30 days"),
    ],
)
def test_the_admin_refuses_numbers_out_of_bounds(client, alice, field, value, message):
    load_defaults()
    store("web-01", {"cpu_usage_percent": [(datetime.now(UTC), 40.0)]})
    client.force_login(alice)
    response = client.post("/admin/alerts/alertrule/add/", _form_data(**{field: value}))
    assert response.status_code == 200
    assert message in " ".join(response.context["adminform"].form.errors[field])
    assert not AlertRule.objects.filter(name="CPU high").exists()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"window_seconds": 10**12}, "window_seconds: at most 30 days"),
        ({"for_seconds": 2**63}, "for_seconds: at most 30 days"),
        ({"cooldown_seconds": -1}, "cooldown_seconds:"),
        ({"threshold": "NaN"}, "threshold:"),
        ({"threshold": 1e400}, "threshold:"),
    ],
)
def test_the_api_refuses_them_with_the_field_and_reason(
    alice, token_for, api_client, body, message
):
    rule = {"name": "CPU", "kind": "custom_metric", "metric": "cpu", "threshold": 80, **body}
    response = api_client(token_for(alice, "read,write")).post("/alert-rules", rule)
    assert response.status_code == 422, response.content
    assert message in response.json()["detail"]
    assert not AlertRule.objects.exists()


def _store_out_of_bounds(rule: AlertRule) -> None:
    """What an older console let through: SQLite keeps a 10^12 s window, PostgreSQL's
    integer column keeps at most 2^31 - 1 s (68 years), still far past the bound."""
    window = 10**12 if connection.vendor == "sqlite" else 2**31 - 1
    AlertRule.objects.filter(pk=rule.pk).update(window_seconds=window)


def test_a_rule_stored_out_of_bounds_is_marked_broken_and_the_others_fire(
    bob, token_for, api_client
):
    good = _rule("CPU high")
    bad = _rule("CPU forever")
    _store_out_of_bounds(bad)
    _hot_cpu()
    result = evaluate(NOW)
    assert result.fired == 1 and result.broken == 1
    assert Alert.objects.get().rule == good
    bad.refresh_from_db()
    assert bad.broken and "window_seconds: at most 30 days" in bad.broken_reason
    assert _broken_gauge() == {"CPU high": 0, "CPU forever": 1}
    # The API's check answers too, naming how many rules it could not evaluate.
    response = api_client(token_for(bob, "read,write")).post("/alerts/check")
    assert response.status_code == 200 and response.json()["broken"] == 1


def test_the_mark_stays_from_the_first_failure_and_clears_once_fixed():
    bad = _rule("CPU forever")
    _store_out_of_bounds(bad)
    evaluate(NOW)
    first = AlertRule.objects.get().broken_since
    evaluate(NOW + timedelta(seconds=30))
    assert AlertRule.objects.get().broken_since == first
    # Fixed through an edit (which bumps updated, so the evaluator reloads its rules).
    bad.refresh_from_db()
    bad.window_seconds = 60
    bad.save()
    _hot_cpu()
    assert evaluate(NOW).broken == 0
    fixed = AlertRule.objects.get()
    assert not fixed.broken and fixed.broken_reason == ""
    assert _broken_gauge() == {"CPU forever": 0}


def test_a_failure_while_evaluating_one_window_leaves_the_other_windows(monkeypatch):
    _rule("CPU high", window_seconds=60)
    _rule("CPU high for long", window_seconds=120)
    real = evaluator._aggregate

    def failing_for_two_minutes(ids, start, end, **options):
        if (end - start).total_seconds() == 120:
            raise OverflowError("date value out of range")
        return real(ids, start, end, **options)

    monkeypatch.setattr(evaluator, "_aggregate", failing_for_two_minutes)
    _hot_cpu()
    result = evaluate(NOW)
    assert result.fired == 1 and result.broken == 1
    broken = AlertRule.objects.get(name="CPU high for long")
    assert broken.broken_reason == "OverflowError: date value out of range"


def test_the_admin_shows_which_rules_are_broken_and_why(client, alice):
    load_defaults()  # the roles' permissions
    bad = _rule("CPU forever")
    _store_out_of_bounds(bad)
    evaluate(NOW)
    client.force_login(alice)
    listing = client.get("/admin/alerts/alertrule/?broken=yes").content.decode()
    assert "CPU forever" in listing and "broken since" in listing
    detail = client.get(f"/admin/alerts/alertrule/{bad.pk}/change/").content.decode()
    assert "window_seconds: at most 30 days" in detail
    # Its preview says what to fix instead of failing.
    preview = client.get(f"/admin/alerts/alertrule/{bad.pk}/preview/")
    assert preview.status_code == 200
    assert "this rule needs fixing first" in preview.content.decode()

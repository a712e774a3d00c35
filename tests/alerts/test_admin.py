"""Rules, alerts and silences in the admin: clear form errors, bulk actions, timelines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from alerts.constants import EventKind, Status
from alerts.evaluator import evaluate
from alerts.models import AlertRule, Silence
from alerts.service import AlertService
from opsconsole.bootstrap import load_defaults
from opsconsole.patterns import check_pattern
from tests.metrics.helpers import store
from tests.text import captured

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _cpu_collected(db):
    # The rule form asks that a system metric has been collected.
    store("web-01", {"cpu_usage_percent": [(datetime.now(UTC), 40.0)]})


def _rule(**overrides):
    data = {
        "name": "CPU high",
        "kind": "system_metric",
        "enabled": "on",
        "metric": "cpu_usage_percent",
        "labels": "{}",
        "aggregation": "avg",
        "window_seconds": 300,
        "operator": "gt",
        "threshold": "80",
        "for_seconds": 60,
        "severity": "warning",
        "category": "system",
        "cooldown_seconds": 300,
        "repeat_interval_seconds": 3600,
        "recommendations": "[]",
    }
    data.update(overrides)
    return data


def test_a_valid_rule_is_saved(admin_client):
    response = admin_client.post("/admin/alerts/alertrule/add/", _rule())
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert AlertRule.objects.get(name="CPU high").threshold == 80


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"metric": "cpu_usge_percent"}, "metric", "No metric named 'cpu_usge_percent'"),
        ({"metric": ""}, "metric", "needs a metric name"),
        ({"threshold": "eighty"}, "threshold", "Enter a number"),
        ({"threshold": ""}, "threshold", "needs a threshold"),
        ({"clear_threshold": "90"}, "clear_threshold", "healthy side"),
        ({"severity": "urgent"}, "severity", "Select a valid choice"),
        ({"labels": '{"mount": 1}'}, "labels", "JSON object of strings"),
    ],
)
def test_a_bad_rule_gets_a_clear_form_error(admin_client, overrides, field, message):
    response = admin_client.post("/admin/alerts/alertrule/add/", _rule(**overrides))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert message in " ".join(errors[field])
    assert not AlertRule.objects.filter(name="CPU high").exists()


def test_rules_are_enabled_and_disabled_in_bulk(admin_client):
    load_defaults()  # four default rules, which the action leaves alone
    a = AlertRule.objects.create(name="a", metric="cpu_usage_percent", threshold=1)
    b = AlertRule.objects.create(name="b", metric="cpu_usage_percent", threshold=2)
    assert evaluate().rules == 6
    admin_client.post(
        "/admin/alerts/alertrule/",
        {"action": "disable", "_selected_action": [a.pk, b.pk]},
    )
    assert not AlertRule.objects.filter(pk__in=[a.pk, b.pk], enabled=True).exists()
    assert AlertRule.objects.filter(enabled=True).count() == 4, "the defaults are untouched"
    # The evaluator's next pass no longer reads them.
    assert evaluate().rules == 4


def test_alerts_are_acknowledged_in_bulk_with_the_admin_as_actor(admin_client):
    service = AlertService()
    one = service.create_system_alert("cpu_percent", 95, 80, "web-01")
    two = service.create_system_alert("cpu_percent", 95, 80, "web-02")
    service.resolve_alert(two.pk, resolved_by="bob")
    response = admin_client.post(
        "/admin/alerts/alert/",
        {"action": "acknowledge", "_selected_action": [one.pk, two.pk]},
        follow=True,
    )
    shown = [str(m) for m in response.context["messages"]]
    assert "Acknowledged 1 alert(s)." in shown
    assert "Skipped 1 alert(s) that were not open." in shown
    one.refresh_from_db()
    assert one.status == Status.ACKNOWLEDGED and one.acknowledged_by == "alice"
    two.refresh_from_db()
    assert two.status == Status.RESOLVED


def test_the_alert_page_shows_its_timeline(admin_client):
    alert = AlertService().create_system_alert("cpu_percent", 95, 80, "web-01")
    AlertService().acknowledge_alert(alert.pk, acknowledged_by="bob", notes="on it")
    page = admin_client.get(f"/admin/alerts/alert/{alert.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert EventKind.ACKNOWLEDGED.label in html and "on it" in html


@pytest.mark.parametrize(
    ("matchers", "message"),
    [
        ('[{"field": "resource", "op": "regex", "value": "(a)\\\\1"}]', "no backreferences"),
        ('[{"field": "resource", "op": "regex", "value": "web-("}]', "not a valid regular"),
        ('[{"field": "host", "value": "x"}]', "unknown field 'host'"),
        ("[]", "at least one matcher"),
        # The form's own lines, as the inhibition rules take them.
        ("resource =~ web-(", "not a valid regular"),
        ("", "at least one matcher"),
    ],
)
def test_a_bad_silence_gets_a_clear_form_error(admin_client, matchers, message):
    response = admin_client.post(
        "/admin/alerts/silence/add/",
        {
            "matchers": matchers,
            "starts_at_0": "2026-11-22",
            "starts_at_1": "10:00:00",
            "ends_at_0": "2026-11-22",
            "ends_at_1": "12:00:00",
            "recurrence": "{}",
            "comment": "db maintenance",
        },
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert message in " ".join(error for field in errors.values() for error in field)
    assert not Silence.objects.exists()


@pytest.mark.parametrize(
    ("recurrence", "message"),
    [
        ('{"weekdays": [7], "start": "22:00", "end": "02:00"}', "0 (Monday) to 6 (Sunday)"),
        ('{"weekdays": [5], "start": "25:00", "end": "02:00"}', "start must be a time of day"),
        ('{"start": "22:00", "end": "22:00"}', "the window would be empty"),
        ('{"start": "22:00", "end": "23:00", "timezone": "Mars/Olympus"}', "unknown time zone"),
        ('{"days": [1]}', "unknown key 'days'"),
        ('["22:00"]', "give a JSON object"),
    ],
)
def test_a_bad_weekly_window_gets_a_clear_form_error(admin_client, recurrence, message):
    response = admin_client.post(
        "/admin/alerts/silence/add/",
        {
            "matchers": '[{"field": "resource", "value": "db-01"}]',
            "starts_at_0": "2026-11-22",
            "starts_at_1": "10:00:00",
            "ends_at_0": "2026-12-22",
            "ends_at_1": "12:00:00",
            "recurrence": recurrence,
            "comment": "weekly backup",
        },
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert message in " ".join(errors.get("recurrence", []))
    assert not Silence.objects.exists()


def test_the_silence_list_says_which_are_active_pending_or_expired(admin_client):
    now = timezone.now()
    matchers = [{"field": "resource", "value": "db-01"}]
    Silence.objects.create(
        matchers=matchers, starts_at=now - timedelta(hours=2), ends_at=now - timedelta(hours=1)
    )
    Silence.objects.create(
        matchers=matchers, starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=3)
    )
    Silence.objects.create(
        matchers=[{"field": "resource", "op": "regex", "value": "web-0[12]"}],
        starts_at=now + timedelta(days=1),
        ends_at=now + timedelta(days=9),
        recurrence={"weekdays": [5, 6], "start": "22:00", "end": "02:00", "timezone": "UTC"},
    )
    page = admin_client.get("/admin/alerts/silence/").content.decode()
    assert "expired 1\xa0hour ago" in page and "active, ends in 2\xa0hours" in page
    assert "resource = db-01" in page and "the whole period" in page
    assert "resource ~ web-0[12]" in page and "Sat, Sun 22:00-02:00 UTC" in page
    active = admin_client.get("/admin/alerts/silence/?state=active").content.decode()
    assert "active, ends in" in active and "expired 1" not in active


def test_a_silence_is_saved_with_its_creator(admin_client, alice):
    response = admin_client.post(
        "/admin/alerts/silence/add/",
        {
            "matchers": '[{"field": "resource", "op": "regex", "value": "^db-0[12]$"}]',
            "starts_at_0": "2026-11-22",
            "starts_at_1": "10:00:00",
            "ends_at_0": "2026-11-22",
            "ends_at_1": "12:00:00",
            "recurrence": "{}",
            "comment": "db maintenance",
        },
    )
    assert response.status_code == 302
    assert Silence.objects.get().created_by == alice


def test_check_pattern_accepts_ordinary_patterns():
    assert check_pattern(r"^web-\d+$") == r"^web-\d+$"
    # Nested repetition is harmless on a linear-time engine.
    assert check_pattern(r"(\w*)*x") == r"(\w*)*x"
    with pytest.raises(ValueError, match="at most 200 characters"):
        check_pattern("a" * 201)


def test_the_rule_form_says_which_fields_each_kind_uses(admin_client):
    import html
    import json

    page = admin_client.get("/admin/alerts/alertrule/add/").content.decode()
    kinds = json.loads(html.unescape(captured(r'data-kind-fields="([^"]+)"', page)))
    assert kinds["process"] == ["process_metric"] and kinds["service"] == ["service_health"]
    assert "absence" not in kinds["threshold"] and "js/admin_kinds.js" in page

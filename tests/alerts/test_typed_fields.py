"""The admin's silence and rule pages ask for no JSON: a weekly window is day ticks,
two times and a time zone; labels and advice are lines. The API and configuration
files keep their shape (a window object, a labels object, a list) and store the same."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from django.core.management import call_command
from django.utils import timezone

from alerts.models import AlertRule, Silence
from opsconsole.bootstrap import load_defaults
from tests.metrics.helpers import store

pytestmark = pytest.mark.django_db

WINDOW = {"weekdays": [5, 6], "start": "22:00", "end": "02:00", "timezone": "Europe/Paris"}


@pytest.fixture
def admin_client(client, alice):
    load_defaults()
    store("web-01", {"cpu_usage_percent": [(datetime.now(UTC), 40.0)]})
    client.force_login(alice)
    return client


def _silence_post(**window):
    return {
        "matchers": "resource = db-01",
        "starts_at_0": "2030-01-01",
        "starts_at_1": "00:00:00",
        "ends_at_0": "2030-02-01",
        "ends_at_1": "00:00:00",
        "comment": "weekly backup",
        **window,
    }


def test_the_admin_makes_a_weekly_window_from_ticks_and_times(admin_client):
    response = admin_client.post(
        "/admin/alerts/silence/add/",
        _silence_post(
            recurrence_days=["5", "6"],
            recurrence_start="22:00",
            recurrence_end="02:00",
            recurrence_timezone="Europe/Paris",
        ),
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    silence = Silence.objects.get()
    assert silence.recurrence == WINDOW
    page = admin_client.get(f"/admin/alerts/silence/{silence.pk}/change/").content.decode()
    assert 'name="recurrence_days" value="5" checked' in page
    assert 'name="recurrence_days" value="0">' in page
    assert '<option value="Europe/Paris" selected>' in page
    assert "weekdays" not in page, "no JSON on the page"


def test_every_day_or_no_window_at_all(admin_client):
    every_day = _silence_post(
        recurrence_days=[str(d) for d in range(7)],
        recurrence_start="01:00",
        recurrence_end="03:00",
        recurrence_timezone="UTC",
    )
    assert admin_client.post("/admin/alerts/silence/add/", every_day).status_code == 302
    assert Silence.objects.get().recurrence == {"start": "01:00", "end": "03:00", "timezone": "UTC"}
    Silence.objects.all().delete()
    nothing = _silence_post(recurrence_start="", recurrence_end="", recurrence_timezone="UTC")
    assert admin_client.post("/admin/alerts/silence/add/", nothing).status_code == 302
    assert Silence.objects.get().recurrence == {}


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        ({"recurrence_start": "22:00", "recurrence_end": "22:00"}, "the window would be empty"),
        ({"recurrence_start": "22:00", "recurrence_timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"recurrence_days": ["Sunday"], "recurrence_start": "22:00"}, "Pick days"),
    ],
)
def test_a_bad_window_is_a_form_error_and_the_page_keeps_what_was_typed(
    admin_client, parts, message
):
    response = admin_client.post("/admin/alerts/silence/add/", _silence_post(**parts))
    assert response.status_code == 200
    assert message in " ".join(response.context["adminform"].form.errors["recurrence"])
    assert 'name="recurrence_start" value="22:00"' in response.content.decode()
    assert not Silence.objects.exists()


def test_the_api_takes_and_gives_the_window_object(bob, token_for, api_client):
    responder = api_client(token_for(bob, "read,write"))
    created = responder.post(
        "/silences",
        {
            "matchers": [{"field": "resource", "value": "db-01"}],
            "ends_at": (timezone.now() + timedelta(days=30)).isoformat(),
            "recurrence": WINDOW,
        },
    )
    assert created.status_code == 201, created.content
    assert created.json()["recurrence"] == WINDOW
    assert Silence.objects.get().recurrence == WINDOW
    refused = responder.post(
        "/silences",
        {
            "matchers": [{"field": "resource", "value": "db-02"}],
            "ends_at": (timezone.now() + timedelta(days=30)).isoformat(),
            "recurrence": {"days": [1]},
        },
    )
    assert refused.status_code == 422 and "unknown key 'days'" in refused.json()["detail"]


def test_a_configuration_file_keeps_the_window_object(tmp_path):
    path = tmp_path / "ops.yaml"
    path.write_text(
        "silences:\n"
        "  - matchers: [{field: resource, value: db-01}]\n"
        "    starts_at: 2030-01-01T00:00:00Z\n"
        "    ends_at: 2030-02-01T00:00:00Z\n"
        "    recurrence: {weekdays: [5, 6], start: '22:00', end: '02:00', "
        "timezone: Europe/Paris}\n"
    )
    call_command("import_config", str(path), stdout=io.StringIO())
    assert Silence.objects.get().recurrence == WINDOW
    out = io.StringIO()
    call_command("export_config", "--section", "silences", stdout=out)
    assert yaml.safe_load(out.getvalue())["silences"][0]["recurrence"] == WINDOW
    again = io.StringIO()
    call_command("import_config", str(path), stdout=again)
    assert Silence.objects.count() == 1 and "no changes" in again.getvalue()


def _rule_post(**fields):
    return {
        "name": "Disk of /data",
        "kind": "system_metric",
        "enabled": "on",
        "metric": "cpu_usage_percent",
        "aggregation": "avg",
        "window_seconds": 300,
        "operator": "gt",
        "threshold": "80",
        "for_seconds": 60,
        "severity": "warning",
        "category": "system",
        "cooldown_seconds": 300,
        "repeat_interval_seconds": 3600,
        **fields,
    }


def test_a_rules_labels_and_advice_are_lines_in_the_admin(admin_client):
    response = admin_client.post(
        "/admin/alerts/alertrule/add/",
        _rule_post(
            labels="mount = /data\nteam = storage",
            recommendations="Check df -h, then du -sh /data/*\nRotate the logs",
        ),
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    rule = AlertRule.objects.get(name="Disk of /data")
    assert rule.labels == {"mount": "/data", "team": "storage"}
    assert rule.recommendations == ["Check df -h, then du -sh /data/*", "Rotate the logs"]
    page = admin_client.get(f"/admin/alerts/alertrule/{rule.pk}/change/").content.decode()
    assert "mount = /data" in page and "team = storage" in page
    bad = admin_client.post("/admin/alerts/alertrule/add/", _rule_post(name="x", labels="mount"))
    assert "is not &#x27;name = value&#x27;" in bad.content.decode()


def test_the_api_still_takes_labels_and_advice_as_json(alice, token_for, api_client):
    admin_api = api_client(token_for(alice, "read,write"))
    body = {
        "name": "cpu of web",
        "metric": "cpu_usage_percent",
        "threshold": 80,
        "labels": {"mount": "/"},
        "recommendations": ["one, with a comma", "two"],
    }
    created = admin_api.post("/alert-rules", body)
    assert created.status_code == 201, created.content
    rule = AlertRule.objects.get(name="cpu of web")
    assert rule.labels == {"mount": "/"}
    assert rule.recommendations == ["one, with a comma", "two"]
    refused = admin_api.post("/alert-rules", {**body, "name": "y", "labels": {"mount": 1}})
    assert refused.status_code == 422 and "JSON object of strings" in refused.json()["detail"]

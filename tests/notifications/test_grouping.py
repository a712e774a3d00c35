"""Alert groups: one message per channel for the alerts a routing rule groups together,
on Alertmanager's timers (group_wait, group_interval, repeat_interval)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.models import Alert
from alerts.service import AlertService
from notifications import grouping
from notifications.models import AlertGroup, Notification, RoutingRule
from tests.notifications.helpers import spec

pytestmark = pytest.mark.django_db


@pytest.fixture
def cpu_rule(db):
    """A rule with the default timers: group by rule, wait 30 s, every 5 min, 4 h."""
    return RoutingRule.objects.create(name="everything", all_channels=True)


@pytest.fixture
def hook(make_channel, receiver):
    return make_channel("webhook", "hook", receiver=receiver)


def _cpu(n: int, severity: str = "error", **fields):
    return AlertService().create_alert(
        spec(
            alert_type="high_cpu",
            title=f"High CPU usage - web-{n:02d}",
            message="CPU is high",
            resource=f"web-{n:02d}",
            labels={"host": f"web-{n:02d}", **fields.pop("labels", {})},
            priority=severity,
            value=90.0 + n,
            threshold=80.0,
            **fields,
        )
    )


def _at(capture, start, seconds: float) -> int:
    with capture(execute=True):
        return grouping.flush_due(start + timedelta(seconds=seconds))


def _bodies(receiver):
    return [r.json for r in receiver.requests]


def test_a_new_group_waits_then_one_message_names_the_group_and_lists_its_alerts(
    cpu_rule, hook, receiver, django_capture_on_commit_callbacks
):
    start = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(3):
            _cpu(n)
    assert _at(django_capture_on_commit_callbacks, start, 10) == 0
    assert receiver.requests == []  # group_wait (30 s) is not over

    assert _at(django_capture_on_commit_callbacks, start, 31) == 1
    [body] = _bodies(receiver)
    group = AlertGroup.objects.get()
    assert body["event"] == "firing"
    assert body["alert"]["title"] == "High CPU usage on 3 hosts"
    assert body["group"]["firing_count"] == 3
    assert [a["resource"] for a in body["group"]["alerts"]] == ["web-00", "web-01", "web-02"]
    assert body["group"]["url"] == f"https://ops.example.com/alerts/?group={group.pk}"
    assert "web-01 91 (threshold 80), error, since" in body["alert"]["message"]


def test_alerts_joining_later_go_out_at_most_every_group_interval(
    cpu_rule, hook, receiver, django_capture_on_commit_callbacks
):
    start = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        _cpu(0)
    _at(django_capture_on_commit_callbacks, start, 31)
    with django_capture_on_commit_callbacks(execute=True):
        _cpu(1)
        _cpu(2)
    # The first message went out at +31 s: the next may go at +331 s.
    assert _at(django_capture_on_commit_callbacks, start, 200) == 0
    assert _at(django_capture_on_commit_callbacks, start, 332) == 1
    first, second = _bodies(receiver)
    assert first["alert"]["id"] is not None  # a message about one alert reads as one
    assert second["group"]["firing_count"] == 3 and second["group"]["new_count"] == 2
    assert second["alert"]["message"].startswith("3 firing (2 new).")


def test_resolutions_are_reported_and_all_resolved_closes_the_group(
    cpu_rule, make_channel, receiver, django_capture_on_commit_callbacks
):
    pager = make_channel("pagerduty", "pager", receiver=receiver)
    start = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        alerts = [_cpu(n, "critical") for n in range(2)]
    _at(django_capture_on_commit_callbacks, start, 31)
    with django_capture_on_commit_callbacks(execute=True):
        AlertService().resolve_alert(alerts[0].pk, resolved_by="bob")
    _at(django_capture_on_commit_callbacks, start, 332)
    with django_capture_on_commit_callbacks(execute=True):
        AlertService().resolve_alert(alerts[1].pk, resolved_by="bob")
    _at(django_capture_on_commit_callbacks, start, 633)

    group = AlertGroup.objects.get()
    events = [(b["event_action"], b["dedup_key"]) for b in _bodies(receiver)]
    # One incident for the group: triggered, updated (one resolved), then resolved.
    assert events == [("trigger", group.key), ("trigger", group.key), ("resolve", group.key)]
    assert group.closed_at is not None
    assert Notification.objects.filter(channel=pager, group=group).count() == 3


def test_an_unchanged_group_is_sent_again_after_repeat_interval_until_acknowledged(
    cpu_rule, hook, receiver, django_capture_on_commit_callbacks
):
    start = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        _cpu(0), _cpu(1)
    _at(django_capture_on_commit_callbacks, start, 31)
    assert _at(django_capture_on_commit_callbacks, start, 31 + 3600) == 0
    assert _at(django_capture_on_commit_callbacks, start, 31 + 4 * 3600) == 1
    assert [b["event"] for b in _bodies(receiver)] == ["firing", "repeat"]
    for alert in Alert.objects.all():
        AlertService().acknowledge_alert(alert.pk, acknowledged_by="bob")
    assert _at(django_capture_on_commit_callbacks, start, 31 + 9 * 3600) == 0


def test_a_channel_hears_only_of_the_alerts_at_or_above_its_minimum_severity(
    cpu_rule, make_channel, receiver, django_capture_on_commit_callbacks
):
    make_channel("webhook", "errors-only", receiver=receiver, min_severity="error")
    start = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        _cpu(0, "warning")
        _cpu(1, "critical")
        _cpu(2, "warning")
    _at(django_capture_on_commit_callbacks, start, 31)
    [body] = _bodies(receiver)
    assert body["alert"]["resource"] == "web-01"  # one alert for this channel: as itself
    assert body["alert"]["severity"] == "critical"


def test_group_by_a_label_keeps_teams_apart(
    cpu_rule, hook, receiver, django_capture_on_commit_callbacks
):
    cpu_rule.group_by = ["team"]
    cpu_rule.save()
    start = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        _cpu(0, labels={"team": "db"})
        _cpu(1, labels={"team": "db"})
        _cpu(2, labels={"team": "web"})
    _at(django_capture_on_commit_callbacks, start, 31)
    counts = sorted((b.get("group") or {}).get("firing_count", 1) for b in _bodies(receiver))
    assert counts == [1, 2]
    assert sorted(g.labels["team"] for g in AlertGroup.objects.all()) == ["db", "web"]


def test_without_grouping_and_timers_each_alert_goes_alone_and_at_once(
    cpu_rule, hook, receiver, django_capture_on_commit_callbacks
):
    RoutingRule.objects.filter(pk=cpu_rule.pk).update(
        group_by=["..."], group_wait=0, group_interval=0
    )
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(3):
            _cpu(n)
    assert [b["alert"]["resource"] for b in _bodies(receiver)] == ["web-00", "web-01", "web-02"]
    assert AlertGroup.objects.count() == 3


def test_a_storm_of_300_alerts_is_one_message_per_channel_and_one_short_text(
    cpu_rule, hook, make_channel, receiver, django_capture_on_commit_callbacks
):
    sms = make_channel("sms", "phones", receiver=receiver)
    start = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(300):
            _cpu(n, "critical")
    assert receiver.requests == []
    assert _at(django_capture_on_commit_callbacks, start, 31) == 2
    hook_bodies = [r.json for r in receiver.requests if r.path == "/incoming"]
    texts = [r.form["Body"] for r in receiver.requests if r.path != "/incoming"]
    assert len(hook_bodies) == 1 and hook_bodies[0]["group"]["firing_count"] == 300
    assert len(hook_bodies[0]["group"]["alerts"]) == grouping.LISTED
    assert "… and 280 more firing" in hook_bodies[0]["alert"]["message"]
    assert len(texts) == 1 and len(texts[0]) <= 160
    assert texts[0].startswith("[CRITICAL] High CPU usage on 300 hosts")
    assert Notification.objects.filter(channel=sms).count() == 1


def test_the_console_link_shows_the_groups_alerts(
    cpu_rule, hook, client, alice, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _cpu(0)
        _cpu(1)
    AlertService().create_alert(spec(alert_type="other", resource="db-9", title="Other - db-9"))
    group = AlertGroup.objects.get(key=grouping.key_of(cpu_rule, Alert.objects.first())[0])
    client.force_login(alice)
    page = client.get("/alerts/", {"group": group.pk}).content.decode()
    assert "High CPU usage - web-00" in page and "High CPU usage - web-01" in page
    assert "Other - db-9" not in page
    assert f"In notification group #{group.pk}" in page
    assert "is not a group number" in client.get("/alerts/", {"group": "x"}).content.decode()


def test_the_routing_rules_admin_page_shows_its_groups_and_when_each_sends(
    cpu_rule, hook, client, alice, django_capture_on_commit_callbacks
):
    from django.contrib.auth.models import Group, Permission

    Group.objects.get(name="Admins").permissions.set(
        Permission.objects.filter(content_type__app_label="notifications")
    )
    with django_capture_on_commit_callbacks(execute=True):
        _cpu(0)
        _cpu(1)
    client.force_login(alice)
    page = client.get(f"/admin/notifications/routingrule/{cpu_rule.pk}/change/").content.decode()
    assert "2 firing</a> of 2" in page
    assert "Next message" in page
    # Counting down from the 30 s group wait (a slow machine may take seconds to get
    # here: the figure, not the exact second, is what the page must show).
    wait = re.search(r"in (\d+) s\b", page)
    assert wait and 0 < int(wait.group(1)) <= 30, wait
    assert 'value="rule"' in page  # group_by is typed as names, not JSON
    listing = client.get("/admin/notifications/routingrule/").content.decode()
    assert "by rule; wait 30 s, every 5 min" in listing


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"group_by": ["rule", "..."]}, '"..." (no grouping) stands alone'),
        ({"group_by": ["host name"]}, "is not a field or label name"),
        ({"group_by": ["rule", "rule"]}, "a name is listed twice"),
        ({"group_wait": 10**9}, "group_wait"),
        ({"repeat_interval": 5}, "repeat_interval"),
    ],
)
def test_bad_grouping_is_refused_with_the_reason(alice, token_for, api_client, fields, message):
    api = api_client(token_for(alice, "read,write"))
    response = api.post("/routing-rules", {"name": "r", **fields})
    assert response.status_code == 422, response.content
    assert message in response.json()["detail"]
    assert not RoutingRule.objects.exists()


def test_grouping_is_kept_through_the_api_and_in_configuration_files(alice, token_for, api_client):
    from opsconsole.configcode import export_document

    api = api_client(token_for(alice, "read,write"))
    created = api.post(
        "/routing-rules",
        {"name": "by host", "group_by": ["rule", "host"], "group_wait": 10, "group_interval": 60},
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["group_by"] == ["rule", "host"] and body["repeat_interval"] == 14400
    [exported] = export_document(["routing"])["routing"]
    assert exported["group_by"] == ["rule", "host"] and exported["group_wait"] == 10


def test_a_group_message_that_fails_raises_the_channel_alert_naming_the_group(
    cpu_rule, hook, receiver, django_capture_on_commit_callbacks
):
    from notifications.delivery import CHANNEL_ALERT_TYPE

    receiver.answer((400, {}, b"no such hook"))
    start = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        _cpu(0)
        _cpu(1)
    _at(django_capture_on_commit_callbacks, start, 31)
    group = AlertGroup.objects.get(rule=cpu_rule, key=grouping.key_of(cpu_rule, _cpu(2))[0])
    failing = Alert.objects.get(alert_type=CHANNEL_ALERT_TYPE)
    assert f"about alert group #{group.pk} could not be delivered to hook" in failing.message

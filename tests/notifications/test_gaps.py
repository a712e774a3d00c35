"""A severity whose alerts reach no enabled channel is said on the alerts page, the
routing rules' and channels' admin pages and /api/v1/status."""

from __future__ import annotations

import pytest

from notifications.gaps import routing_gaps
from notifications.models import NotificationChannel, RoutingRule

pytestmark = pytest.mark.django_db


def _only_rule(**fields) -> RoutingRule:
    RoutingRule.objects.all().delete()
    return RoutingRule.objects.create(name="Everything to Slack", position=1, **fields)


def test_it_names_each_severity_that_reaches_nobody_and_why():
    _only_rule(severities=["critical"], channel_kinds=["pagerduty"])
    assert routing_gaps()[0].why == "no channel is enabled (none may exist yet)"
    NotificationChannel.objects.create(name="screen", kind="dashboard", min_severity="critical")
    gaps = {gap.severity: gap for gap in routing_gaps()}
    assert list(gaps) == ["critical", "error", "warning", "info"]
    assert "'Everything to Slack' takes them" in gaps["critical"].why
    assert gaps["error"].why == "no enabled routing rule takes them"


def test_an_enabled_channel_of_a_kind_the_rule_names_closes_the_gap():
    _only_rule(channel_kinds=["slack"])
    NotificationChannel.objects.create(
        name="ops", kind="slack", secrets={"webhook_url": "https://hooks.slack.com/x"}
    )
    assert routing_gaps() == []


def test_a_disabled_channel_or_a_higher_minimum_severity_leaves_the_gap():
    _only_rule(channel_kinds=["slack", "sms"])
    NotificationChannel.objects.create(name="ops", kind="slack", enabled=False)
    NotificationChannel.objects.create(name="pager", kind="sms", min_severity="critical")
    assert [gap.severity for gap in routing_gaps()] == ["error", "warning", "info"]


def test_a_gap_of_some_categories_names_them():
    _only_rule(channel_kinds=["slack"], categories=["database"])
    NotificationChannel.objects.create(name="ops", kind="slack")
    gap = routing_gaps()[0]
    assert "database" not in gap.categories and "system" in gap.categories


def test_the_pages_and_the_status_api_warn(admin_client):
    _only_rule(channel_kinds=["email"], severities=["error"])
    alerts_page = admin_client.get("/alerts/").content.decode()
    assert "Some alerts would notify nobody" in alerts_page
    assert "no channel is enabled (none may exist yet)" in alerts_page
    rules_page = admin_client.get("/admin/notifications/routingrule/").content.decode()
    assert "Some alerts would notify nobody" in rules_page
    status = admin_client.get("/api/v1/status").json()
    assert any(
        line.startswith("critical alerts reach no enabled channel") for line in status["warnings"]
    )


def test_nothing_is_said_when_every_severity_reaches_someone(admin_client):
    _only_rule(all_channels=True)
    NotificationChannel.objects.create(name="ops", kind="slack")
    assert "notify nobody" not in admin_client.get("/alerts/").content.decode()
    assert admin_client.get("/api/v1/status").json()["warnings"] == []

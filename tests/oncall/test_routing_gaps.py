"""A severity whose routing escalates to on-call people of whom nobody can be reached is
a routing gap: said on the alerts page, the routing rules' admin, /api/v1/status and
the On call page, until someone reachable is in the policy's way."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.utils import timezone

from notifications.gaps import NO_CHANNEL, NOBODY, routing_gaps
from notifications.models import NO_GROUPING, RoutingRule
from oncall import editing
from oncall.models import EscalationPolicy

pytestmark = pytest.mark.django_db


@pytest.fixture
def zoe(db):
    """On call in 'Ops', with no contact method yet."""
    zoe = User.objects.create_user("zoe")
    zoe.groups.add(Group.objects.get_or_create(name="Responders")[0])
    editing.save_schedule(
        {
            "name": "Ops",
            "rotations": [
                {
                    "name": "week",
                    "length": "weekly",
                    "start_date": timezone.now().date().isoformat(),
                    "participants": ["zoe"],
                }
            ],
        }
    )
    return zoe


@pytest.fixture
def others_to_slack(make_channel):
    """Info to error go to a Slack channel: only critical is left to on-call."""
    make_channel("slack", name="ops-chat", secrets={"webhook_url": "https://hooks.slack.com/x"})
    RoutingRule.objects.create(
        name="The rest to Slack",
        position=1,
        severities=["info", "warning", "error"],
        channel_kinds=["slack"],
    )


def _escalating_rule(steps, **fields) -> RoutingRule:
    rule = RoutingRule.objects.create(
        name="Critical to on call", position=2, severities=["critical"], group_by=[NO_GROUPING],
        **fields,
    )  # fmt: skip
    editing.save_policy(
        {"name": "Primary", "repeat": 0, "routing_rules": [rule.name], "steps": steps}
    )
    return rule


def _only_critical_gap():
    gaps = routing_gaps()
    assert [(gap.severity, gap.reach) for gap in gaps] == [("critical", NOBODY)]
    return gaps[0]


def test_a_schedule_of_people_nobody_can_reach_is_a_gap_until_one_has_an_email(
    zoe, others_to_slack, verified, email_channel
):
    _escalating_rule([{"action": "schedule", "schedule": "Ops"}])
    gap = _only_critical_gap()
    assert "policy 'Primary' pages nobody (step 1: schedule 'Ops': nobody can reach zoe" in gap.why
    # No channel of the rule's own either: said after the people.
    assert "and no channel either" in gap.why
    verified(zoe, "email")
    assert routing_gaps() == []


def test_a_rule_with_a_channel_still_warns_when_its_policy_pages_nobody(
    zoe, others_to_slack, verified, make_channel
):
    rule = _escalating_rule([{"action": "person", "person": "zoe"}])
    RoutingRule.objects.filter(pk=rule.pk).update(channel_kinds=["slack"])
    assert _only_critical_gap().text.startswith("critical alerts page nobody on call: ")
    # A verified phone with no SMS channel to send to it still reaches nobody.
    verified(zoe, "phone")
    assert _only_critical_gap()
    make_channel("sms", name="pager")
    assert routing_gaps() == []


def test_a_policy_without_steps_or_with_an_empty_group(zoe, others_to_slack):
    _escalating_rule([])
    assert "policy 'Primary' has no steps" in _only_critical_gap().why
    Group.objects.create(name="Nobody yet")
    editing.save_policy(
        {
            "name": "Primary",
            "repeat": 0,
            "routing_rules": ["Critical to on call"],
            "steps": [{"action": "group", "group": "Nobody yet"}],
        },
        instance=EscalationPolicy.objects.get(name="Primary"),
    )
    assert "step 1: group Nobody yet has nobody in it" in _only_critical_gap().why


def test_a_rule_that_escalates_to_someone_reachable_needs_no_channel(
    zoe, others_to_slack, verified, email_channel
):
    verified(zoe, "email")
    _escalating_rule([{"action": "schedule", "schedule": "Ops"}])
    assert routing_gaps() == []
    # Without a policy, the same rule is a plain "no channel" gap.
    RoutingRule.objects.get(name="Critical to on call").escalation_policies.clear()
    assert [(gap.severity, gap.reach) for gap in routing_gaps()] == [("critical", NO_CHANNEL)]


def test_every_surface_says_it(zoe, others_to_slack, verified, email_channel, client, alice):
    Group.objects.get(name="Admins").permissions.set(
        Permission.objects.filter(content_type__app_label__in=["alerts", "notifications"])
    )
    client.force_login(alice)
    _escalating_rule([{"action": "schedule", "schedule": "Ops"}])
    said = "policy &#x27;Primary&#x27; pages nobody"
    for page in ("/alerts/", "/admin/notifications/routingrule/", "/oncall/"):
        body = client.get(page).content.decode()
        assert said in body, page
    assert "Some alerts would page nobody" in client.get("/oncall/").content.decode()
    status = client.get("/api/v1/status").json()
    assert any(
        line.startswith("critical alerts page nobody on call") for line in status["warnings"]
    )

    verified(zoe, "email")
    for page in ("/alerts/", "/admin/notifications/routingrule/", "/oncall/"):
        assert "pages nobody" not in client.get(page).content.decode(), page
    assert client.get("/api/v1/status").json()["warnings"] == []

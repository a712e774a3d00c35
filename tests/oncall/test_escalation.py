"""Escalation policies: steps taken in order while nobody acknowledges, each exactly
once, on the alert's timeline and in its decisions; acknowledging stops, resolving ends."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone

from alerts.decisions import decisions_of
from alerts.models import AlertEvent
from alerts.service import AlertService
from notifications import delivery
from notifications.delivery import deliver_batch
from notifications.models import NO_GROUPING, Notification, RoutingRule
from oncall import editing, escalation
from oncall.models import Escalation, EscalationStatus, StepTaken
from tests.notifications.helpers import spec

pytestmark = pytest.mark.django_db


@pytest.fixture
def rule(db):
    """A routing rule with no channels of its own: its alerts are escalated instead."""
    return RoutingRule.objects.create(
        name="to people", group_by=[NO_GROUPING], group_wait=0, group_interval=0
    )


@pytest.fixture
def crew(bob, verified, email_channel):
    ann = User.objects.create_user("ann")
    ann.groups.add(Group.objects.get(name="Responders"))
    for person in (bob, ann):
        verified(person, "email")
    start = (timezone.now() - timedelta(days=1)).date().isoformat()
    editing.save_schedule(
        {
            "name": "Primary",
            "rotations": [
                {
                    "name": "r",
                    "length": "weekly",
                    "start_date": start,
                    "participants": ["bob", "ann"],
                }
            ],
        }
    )
    return {"bob": bob, "ann": ann}


def _policy(rule, steps, repeat=0, name="Default"):
    return editing.save_policy(
        {"name": name, "repeat": repeat, "routing_rules": [rule.name], "steps": steps}
    )


def _fire(capture, **fields):
    with capture(execute=True):
        return AlertService().create_alert(spec(**fields))


def _tick(capture, minutes: float):
    """A tick ``minutes`` from now, and the delivery of what it wrote at that moment."""
    at = timezone.now() + timedelta(minutes=minutes)
    with capture():
        taken = escalation.tick(at)
    waiting = list(delivery.waiting(at).values_list("pk", flat=True))
    if waiting:
        deliver_batch(waiting, at)
    return taken


def _mailed(smtp) -> list[str]:
    return [envelope.rcpt_tos[0] for envelope, _ in smtp.messages]


def test_it_pages_who_is_on_call_at_once_then_the_next_step_after_the_wait(
    rule, crew, smtp, django_capture_on_commit_callbacks
):
    _policy(
        rule,
        [
            {"action": "schedule", "schedule": "Primary", "wait_minutes": 5},
            {"action": "person", "person": "ann", "wait_minutes": 10},
        ],
    )
    alert = _fire(django_capture_on_commit_callbacks)
    assert _mailed(smtp) == ["bob@example.com"]  # bob's week; the team list is not mailed
    assert _tick(django_capture_on_commit_callbacks, 4) == 0
    assert _tick(django_capture_on_commit_callbacks, 5) == 1
    assert _mailed(smtp) == ["bob@example.com", "ann@example.com"]
    notes = AlertEvent.objects.filter(alert=alert, actor="escalation").values_list(
        "reason", flat=True
    )
    assert [n.split(": ", 1)[1] for n in notes][:2] == [
        "step 1: on call in Primary: paged bob",
        "step 2: ann: paged ann",
    ]
    summaries = [d.summary for d in decisions_of(alert) if d.stage == "escalation"]
    assert "escalation policy 'Default' started (routing rule 'to people')" in summaries
    assert "step 2: ann: paged ann" in summaries


def test_acknowledging_stops_it_and_resolving_ends_it(
    rule, crew, smtp, django_capture_on_commit_callbacks
):
    _policy(rule, [{"action": "person", "person": "bob", "wait_minutes": 1}] * 3)
    alert = _fire(django_capture_on_commit_callbacks)
    AlertService().acknowledge_alert(alert.pk, "bob")
    assert _tick(django_capture_on_commit_callbacks, 10) == 0
    esc = Escalation.objects.get(alert=alert)
    assert esc.status == EscalationStatus.ACKNOWLEDGED and esc.ended_reason == "acknowledged by bob"
    second = _fire(django_capture_on_commit_callbacks, resource="db-02")
    AlertService().resolve_alert(second.pk, "bob")
    assert Escalation.objects.get(alert=second).status == EscalationStatus.RESOLVED
    assert len(smtp.messages) == 2  # one first page each


def test_it_repeats_k_times_then_ends(rule, crew, smtp, django_capture_on_commit_callbacks):
    _policy(rule, [{"action": "person", "person": "ann", "wait_minutes": 1}], repeat=2)
    alert = _fire(django_capture_on_commit_callbacks)
    for minute in (1, 2, 3):
        _tick(django_capture_on_commit_callbacks, minute + 0.01)
    assert _mailed(smtp) == ["ann@example.com"] * 3
    esc = Escalation.objects.get(alert=alert)
    assert esc.status == EscalationStatus.EXHAUSTED
    assert esc.ended_reason == "every step taken (3 round(s))"


def test_repeat_from_step_n(rule, crew, smtp, django_capture_on_commit_callbacks):
    _policy(
        rule,
        [
            {"action": "person", "person": "bob", "wait_minutes": 1},
            {"action": "person", "person": "ann", "wait_minutes": 1},
            {"action": "repeat", "repeat_from": 2},
        ],
        repeat=1,
    )
    _fire(django_capture_on_commit_callbacks)
    for minute in (1, 2, 3):
        _tick(django_capture_on_commit_callbacks, minute + 0.01)
    assert _mailed(smtp) == ["bob@example.com", "ann@example.com", "ann@example.com"]
    assert StepTaken.objects.filter(summary__contains="repeat from step 2").count() == 1
    assert StepTaken.objects.filter(summary__contains="repeats used up").count() == 1


def test_every_member_of_a_group_and_a_channel(
    rule, crew, smtp, make_channel, receiver, django_capture_on_commit_callbacks
):
    team = Group.objects.create(name="DBAs")
    team.user_set.add(crew["bob"], crew["ann"])
    make_channel("webhook", name="ops-hook", receiver=receiver)
    _policy(
        rule,
        [
            {"action": "group", "group": "DBAs", "wait_minutes": 0},
            {"action": "channel", "channel": "ops-hook"},
        ],
    )
    _fire(django_capture_on_commit_callbacks)
    _tick(django_capture_on_commit_callbacks, 0.01)
    assert sorted(_mailed(smtp)) == ["ann@example.com", "bob@example.com"]
    assert len(receiver.requests) == 1


def test_the_next_person_on_call(rule, crew, smtp, django_capture_on_commit_callbacks):
    _policy(rule, [{"action": "next", "schedule": "Primary"}])
    _fire(django_capture_on_commit_callbacks)
    assert _mailed(smtp) == ["ann@example.com"]


def test_nobody_reached_is_on_the_timeline_and_in_the_decisions(
    rule, crew, smtp, django_capture_on_commit_callbacks
):
    User.objects.create_user("zoe")
    _policy(rule, [{"action": "person", "person": "zoe"}])
    alert = _fire(django_capture_on_commit_callbacks)
    step = StepTaken.objects.get(escalation__alert=alert)
    assert step.reached == [] and step.unreached == ["zoe has no verified contact method"]
    outcomes = [d.outcome for d in decisions_of(alert) if d.stage == "escalation"]
    assert "nobody reached" in outcomes


def test_a_silenced_alert_does_not_escalate_and_a_step_is_taken_once(
    rule, crew, smtp, django_capture_on_commit_callbacks
):
    _policy(rule, [{"action": "person", "person": "bob", "wait_minutes": 1}] * 2)
    alert = _fire(django_capture_on_commit_callbacks)
    esc = Escalation.objects.get(alert=alert)
    later = timezone.now() + timedelta(minutes=2)
    assert escalation.take_step(esc.pk, later) is not None
    assert escalation.take_step(esc.pk, later) is None  # not due any more
    assert StepTaken.objects.filter(escalation=esc).count() == 2
    AlertService().suppress_alert(alert.pk, "bob", "maintenance")
    assert Escalation.objects.get(pk=esc.pk).status == EscalationStatus.HELD


def test_a_routing_rule_with_channels_escalates_beside_them(
    rule, crew, smtp, make_channel, receiver, django_capture_on_commit_callbacks
):
    rule.channels.add(make_channel("webhook", name="beside", receiver=receiver))
    _policy(rule, [{"action": "person", "person": "ann"}])
    _fire(django_capture_on_commit_callbacks)
    assert len(receiver.requests) == 1 and _mailed(smtp) == ["ann@example.com"]
    assert Notification.objects.filter(context__person=crew["ann"].pk).count() == 1


def test_lint_at_save(rule, crew, client, alice):
    editing.save_schedule({"name": "Empty"})
    User.objects.create_user("zoe")
    body = {
        "name": "Linted",
        "repeat": 0,
        "steps": [
            {"action": "schedule", "schedule": "Empty"},
            {"action": "person", "person": "zoe"},
            {"action": "repeat", "repeat_from": 1},
            {"action": "person", "person": "bob"},
        ],
    }
    client.force_login(alice)
    made = client.post("/api/v1/escalation-policies", body, content_type="application/json")
    assert made.status_code == 201, made.content
    assert made.json()["problems"] == [
        "step 1: schedule 'Empty' has nobody in any rotation",
        "step 2: nobody would reach zoe (no verified contact method)",
        "step 3 never repeats: the policy's repeat count is 0",
        "step 4 is unreachable: step 3 repeats from step 1 before it, and the escalation "
        "ends there",
    ]
    body["steps"] = [{"action": "repeat", "repeat_from": 1}]
    body["name"] = "Bad"
    refused = client.post("/api/v1/escalation-policies", body, content_type="application/json")
    assert refused.status_code == 422 and "repeat_from" in refused.json()["detail"]


def test_the_alert_page_shows_who_is_on_call(
    rule, crew, client, carol, django_capture_on_commit_callbacks
):
    _policy(rule, [{"action": "schedule", "schedule": "Primary"}])
    alert = _fire(django_capture_on_commit_callbacks)
    client.force_login(carol)
    page = client.get(f"/alerts/{alert.pk}/").content.decode()
    assert "On call" in page and "Primary" in page and "bob" in page
    assert "Escalating" in page or "next step" in page


def test_a_storm_reads_which_policies_routing_rules_name_once(
    rule, crew, settings, django_capture_on_commit_callbacks
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.CONFIG_CACHE_SECONDS = 60
    escalation.forget_policy_table()
    _policy(rule, [{"action": "person", "person": "ann"}])
    with CaptureQueriesContext(connection) as queries:
        for n in range(20):
            AlertService().create_alert(spec(resource=f"storm-{n}"))
    reads = [q for q in queries if "oncall_escalationpolicy_routing_rules" in q["sql"]]
    assert len(reads) == 1
    assert Escalation.objects.count() == 20
    escalation.forget_policy_table()

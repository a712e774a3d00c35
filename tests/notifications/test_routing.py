"""Which channels an alert change reaches, and when: the matrix, cooldowns, repeats,
resolved messages, silences, and the outbox written with the alert."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.utils import timezone

from alerts.models import Alert
from alerts.service import AlertService
from notifications import delivery, routing
from notifications.models import (
    AlertGroup,
    DeliveryStatus,
    Notification,
    NotificationChannel,
    RoutingRule,
    Transition,
)
from opsconsole.bootstrap import load_defaults
from tests.notifications.helpers import fire, flush_groups, resolve, spec

pytestmark = pytest.mark.django_db


@pytest.fixture
def matrix(db, make_channel, receiver):
    """Seed 000's default rules and one channel of each kind it names."""
    load_defaults()
    return {
        kind: make_channel(kind, kind, receiver=receiver, min_severity="info")
        for kind in ("slack", "email", "pagerduty", "sms", "webhook")
    }


def routed(alert) -> set[str]:
    """The channels told of this alert once its groups' first wait is over."""
    flush_groups()
    return set(Notification.objects.filter(alert=alert).values_list("channel__name", flat=True))


def test_a_fresh_console_gets_seed_000s_matrix_once():
    load_defaults()
    assert list(RoutingRule.objects.values_list("severities", "channel_kinds", "all_channels")) == [
        (["info", "warning"], ["slack"], False),
        (["error"], ["email", "slack"], False),
        (["critical"], ["pagerduty", "sms"], True),
    ]
    RoutingRule.objects.all().delete()
    Notification.objects.create(
        channel=NotificationChannel.objects.create(name="x", kind="dashboard"),
        transition=Transition.TEST,
        idempotency_key="t",
        next_attempt_at=timezone.now(),
    )
    load_defaults()
    assert not RoutingRule.objects.exists()  # an operator's deletion stands


@pytest.mark.parametrize(
    ("severity", "expected"),
    [
        ("info", {"slack"}),
        ("warning", {"slack"}),
        ("error", {"email", "slack"}),
        ("critical", {"slack", "email", "pagerduty", "sms", "webhook"}),
    ],
)
def test_the_matrix_routes_by_severity(matrix, severity, expected):
    with transaction.atomic():
        alert = AlertService().create_alert(spec(priority=severity))
    assert routed(alert) == expected


def test_a_channel_never_gets_alerts_below_its_minimum_severity(matrix):
    NotificationChannel.objects.filter(name="slack").update(min_severity="error")
    alert = AlertService().create_alert(spec(priority="warning"))
    assert routed(alert) == set()


def test_rules_match_categories_and_labels(make_channel):
    db_team = make_channel("webhook", "db-team", secrets={"url": "http://127.0.0.1:9/x"})
    rule = RoutingRule.objects.create(
        name="database to db team", categories=["database"], label_matchers={"team": "db"}
    )
    rule.channels.add(db_team)
    service = AlertService()
    assert routed(service.create_alert(spec(alert_type="a", category="database"))) == set()
    assert routed(
        service.create_alert(spec(alert_type="b", category="database", labels={"team": "db"}))
    ) == {"db-team"}
    assert routed(service.create_alert(spec(alert_type="c", labels={"team": "db"}))) == set()


def test_channels_named_on_the_alert_replace_the_matrix(matrix):
    alert = AlertService().create_alert(
        spec(priority="critical", notification_channels=["email", "webhook"])
    )
    assert routed(alert) == {"email", "webhook"}


def test_the_outbox_rows_roll_back_with_the_alert(matrix):
    with pytest.raises(RuntimeError), transaction.atomic():
        AlertService().create_alert(spec())
        raise RuntimeError("the caller's transaction fails after the alert")
    assert not Alert.objects.exists()
    assert not Notification.objects.exists()


def test_routing_the_same_change_twice_adds_nothing(make_channel, route_all):
    make_channel("dashboard")
    alert = AlertService().create_alert(spec())
    event = alert.events.get()
    assert routing.on_alert_event(alert, event) == []
    assert Notification.objects.count() == 1


def test_repeats_of_an_open_alert_are_counted_not_sent(
    make_channel, route_all, receiver, django_capture_on_commit_callbacks
):
    make_channel("webhook", receiver=receiver)
    for _ in range(5):
        fire(django_capture_on_commit_callbacks)
    assert Alert.objects.get().notification_count == 5
    assert len(receiver.requests) == 1


def test_a_refire_within_the_cooldown_waits_for_it_to_end(
    settings, make_channel, route_all, receiver, django_capture_on_commit_callbacks
):
    make_channel("webhook", receiver=receiver)
    first = fire(django_capture_on_commit_callbacks, priority="warning")
    resolve(django_capture_on_commit_callbacks, first)
    fire(django_capture_on_commit_callbacks, priority="warning")
    # The same group comes back within the warning cooldown (300 s): it waits it out.
    flush_groups(django_capture_on_commit_callbacks, seconds=290)
    assert [r.json["event"] for r in receiver.requests] == ["firing", "resolved"]
    flush_groups(django_capture_on_commit_callbacks, seconds=301)
    assert [r.json["event"] for r in receiver.requests] == ["firing", "resolved", "firing"]


def test_critical_cooldown_is_shorter_than_warning(settings):
    assert settings.NOTIFY_COOLDOWN_SECONDS["critical"] == 60
    assert settings.NOTIFY_COOLDOWN_SECONDS["warning"] == 300


def test_a_held_message_is_dropped_if_the_alert_resolves_first(
    make_channel, route_all, receiver, django_capture_on_commit_callbacks
):
    make_channel("webhook", receiver=receiver)
    first = fire(django_capture_on_commit_callbacks)
    resolve(django_capture_on_commit_callbacks, first)
    second = fire(django_capture_on_commit_callbacks)
    resolve(django_capture_on_commit_callbacks, second)
    # Held by the cooldown, then resolved: nothing to tell, and the group closes.
    flush_groups(django_capture_on_commit_callbacks, seconds=3600)
    assert not Notification.objects.filter(alert=second).exists()
    assert not AlertGroup.objects.filter(closed_at=None).exists()
    # No resolved message for a firing message that never went out.
    assert [r.json["event"] for r in receiver.requests] == ["firing", "resolved"]


def test_a_silenced_alert_still_gets_its_resolved_message(
    make_channel, route_all, receiver, django_capture_on_commit_callbacks
):
    make_channel("webhook", receiver=receiver)
    alert = fire(django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        AlertService().suppress_alert(alert.pk, "bob", "maintenance", duration_hours=2)
    resolve(django_capture_on_commit_callbacks, alert)
    assert [r.json["event"] for r in receiver.requests] == ["firing", "resolved"]


def test_silencing_drops_firing_messages_not_yet_sent(
    make_channel, route_all, receiver, django_capture_on_commit_callbacks
):
    make_channel("webhook", receiver=receiver)
    alert = AlertService().create_alert(spec())  # routed; delivery not yet run
    AlertService().suppress_alert(alert.pk, "evaluator", "silence #1", duration_hours=1)
    notification = Notification.objects.get()
    assert notification.status == DeliveryStatus.CANCELLED
    with django_capture_on_commit_callbacks(execute=True):
        resolve(django_capture_on_commit_callbacks, alert)
        delivery.sweep()
    assert receiver.requests == []


def test_channels_that_opt_out_get_no_resolved_message(
    make_channel, route_all, receiver, django_capture_on_commit_callbacks
):
    make_channel("webhook", receiver=receiver, send_resolved=False)
    alert = fire(django_capture_on_commit_callbacks)
    resolve(django_capture_on_commit_callbacks, alert)
    assert [r.json["event"] for r in receiver.requests] == ["firing"]


def test_an_escalation_is_sent_at_once_to_the_channels_of_the_new_severity(
    matrix, receiver, django_capture_on_commit_callbacks
):
    alert = fire(django_capture_on_commit_callbacks, priority="warning")
    assert routed(alert) == {"slack"}
    fire(django_capture_on_commit_callbacks, priority="critical")
    # It joins the critical route's group, which waits its group_wait like any other.
    flush_groups(django_capture_on_commit_callbacks)
    escalated = Notification.objects.filter(alert=alert, context__severity="critical")
    assert set(escalated.values_list("channel__name", flat=True)) == {
        "slack",
        "email",
        "pagerduty",
        "sms",
        "webhook",
    }


def test_open_unacknowledged_alerts_are_repeated_after_the_interval(
    settings, make_channel, route_all, receiver, django_capture_on_commit_callbacks
):
    make_channel("webhook", receiver=receiver)
    alert = fire(django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        delivery.sweep()
    assert len(receiver.requests) == 1  # not yet

    # The group's repeat_interval passes.
    later = route_all.repeat_interval + 1
    flush_groups(django_capture_on_commit_callbacks, seconds=later)
    flush_groups(django_capture_on_commit_callbacks, seconds=later)  # a second flush adds nothing
    assert [r.json["event"] for r in receiver.requests] == ["firing", "repeat"]

    # Acknowledged: no more repeats.
    AlertService().acknowledge_alert(alert.pk, "bob")
    flush_groups(django_capture_on_commit_callbacks, seconds=2 * later + 1)
    assert len(receiver.requests) == 2

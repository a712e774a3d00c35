"""Personal notification rules: a page reaches a person by their rules for the alert's
urgency, each after its delay, and a delayed one is dropped once someone acknowledges."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.service import AlertService
from notifications.delivery import deliver_batch
from notifications.models import DeliveryStatus, Notification
from oncall import people
from oncall.models import NotificationRule
from tests.notifications.helpers import spec

pytestmark = pytest.mark.django_db


@pytest.fixture
def alert(db):
    return AlertService().create_alert(spec(priority="critical"))


def _page(user, alert, capture, key="t"):
    now = timezone.now()
    page = people.plan_page(user, alert, key=key, now=now, context={"escalation": 1})
    with capture(execute=True):
        people.write_pages([page], now)
    return page


def test_critical_texts_at_once_and_emails_after_five_minutes_if_still_unacknowledged(
    bob,
    alert,
    make_channel,
    receiver,
    email_channel,
    smtp,
    verified,
    django_capture_on_commit_callbacks,
):
    make_channel("sms", receiver=receiver)
    phone, mail = verified(bob, "phone"), verified(bob, "email")
    NotificationRule.objects.create(user=bob, contact_method=phone, urgency="high")
    NotificationRule.objects.create(user=bob, contact_method=mail, urgency="high", delay_minutes=5)
    page = _page(bob, alert, django_capture_on_commit_callbacks)
    assert page.reached
    assert receiver.requests[0].form["To"] == "+15550001000"
    assert smtp.messages == []
    later = Notification.objects.get(context__contact_method=mail.pk)
    assert later.status == DeliveryStatus.PENDING
    assert later.next_attempt_at >= timezone.now() + timedelta(minutes=4)
    # Five minutes on, still unacknowledged: the email goes.
    deliver_batch([later.pk], later.next_attempt_at)
    assert [e.rcpt_tos for e, _ in smtp.messages] == [["bob@example.com"]]


def test_an_acknowledged_alert_drops_the_delayed_page(
    bob, alert, email_channel, smtp, verified, django_capture_on_commit_callbacks
):
    mail = verified(bob, "email")
    NotificationRule.objects.create(user=bob, contact_method=mail, delay_minutes=5)
    _page(bob, alert, django_capture_on_commit_callbacks)
    AlertService().acknowledge_alert(alert.pk, "bob")
    row = Notification.objects.get(context__contact_method=mail.pk)
    assert deliver_batch([row.pk], row.next_attempt_at) == {row.pk: DeliveryStatus.CANCELLED}
    assert smtp.messages == []


def test_low_urgency_uses_only_the_low_urgency_rules(
    bob, email_channel, make_channel, receiver, smtp, verified, django_capture_on_commit_callbacks
):
    make_channel("sms", receiver=receiver)
    phone, mail = verified(bob, "phone"), verified(bob, "email")
    NotificationRule.objects.create(user=bob, contact_method=phone, urgency="high")
    NotificationRule.objects.create(user=bob, contact_method=mail, urgency="low")
    warning = AlertService().create_alert(spec(priority="warning", resource="db-02"))
    _page(bob, warning, django_capture_on_commit_callbacks)
    assert receiver.requests == [] and len(smtp.messages) == 1


def test_without_rules_every_verified_method_is_used_at_once(
    bob, alert, email_channel, smtp, verified, django_capture_on_commit_callbacks
):
    verified(bob, "email")
    verified(bob, "email", "bob.home@example.com")
    _page(bob, alert, django_capture_on_commit_callbacks)
    assert sorted(e.rcpt_tos[0] for e, _ in smtp.messages) == [
        "bob.home@example.com",
        "bob@example.com",
    ]


def test_nobody_is_reached_without_a_verified_method(bob, alert, email_channel):
    from oncall.models import ContactMethod

    ContactMethod.objects.create(user=bob, kind="email", address="bob@example.com")
    page = people.plan_page(bob, alert, key="t", now=timezone.now(), context={})
    assert not page.reached and "no verified contact method" in page.problem


def test_the_same_page_is_written_once(
    bob, alert, email_channel, smtp, verified, django_capture_on_commit_callbacks
):
    verified(bob, "email")
    _page(bob, alert, django_capture_on_commit_callbacks, key="same")
    _page(bob, alert, django_capture_on_commit_callbacks, key="same")
    assert Notification.objects.filter(context__person=bob.pk).count() == 1

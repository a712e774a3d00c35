"""The delivery lane: messages leave the outbox most urgent first, on threads of their
own, and never as tasks in the monitoring queue."""

from __future__ import annotations

import re
import threading
import time

import pytest
from django.core.management import call_command
from django.utils.timezone import now as timezone_now
from django_q.models import OrmQ

from alerts.service import AlertService
from notifications import delivery
from notifications.dispatcher import Dispatcher
from notifications.models import DeliveryStatus, Notification
from tests.notifications.helpers import spec

pytestmark = pytest.mark.django_db


@pytest.fixture
def outbox(settings, make_channel, route_all, receiver):
    """Rows wait in the outbox for the lane, instead of being sent inline."""
    settings.NOTIFY_INLINE = False
    make_channel("webhook", receiver=receiver)
    return receiver


def _raise(severity: str, name: str):
    return AlertService().create_alert(spec(alert_type=name, priority=severity))


def test_the_most_urgent_due_message_goes_first(outbox):
    for n in range(3):
        _raise("info", f"info_{n}")
    _raise("warning", "warning_0")
    _raise("critical", "critical_0")
    sent_after_each_round = []
    while delivery.deliver_next(5):
        sent_after_each_round.append(len(outbox.requests))
    assert [r.json["alert"]["severity"] for r in outbox.requests] == [
        "critical",
        "warning",
        "info",
        "info",
        "info",
    ]
    # One claim takes one severity: critical alone, warning alone, then the infos.
    assert sent_after_each_round == [1, 2, 5]
    assert set(Notification.objects.values_list("status", flat=True)) == {DeliveryStatus.SENT}


def test_routing_enqueues_nothing_in_the_monitoring_queue(outbox, settings):
    from django_q.conf import Conf

    if not Conf.ORM:
        pytest.skip("the ORM broker's queue is a table to count")
    before = OrmQ.objects.count()
    for n in range(50):
        _raise("warning", f"storm_{n}")
    assert Notification.objects.filter(status=DeliveryStatus.PENDING).count() == 50
    assert OrmQ.objects.count() == before


def test_deliver_once_sends_what_is_due_and_says_so(outbox, capsys):
    _raise("error", "once_0")
    _raise("error", "once_1")
    call_command("deliver", "--once")
    assert capsys.readouterr().out.strip() == "sent 2 message(s), routed 0 repeat(s)"
    assert len(outbox.requests) == 2


def test_deliver_refuses_zero_threads_with_one_line(capsys):
    with pytest.raises(SystemExit) as exit_:
        call_command("deliver", "--threads", "0")
    assert exit_.value.code == 2
    assert capsys.readouterr().err.strip() == "deliver: --threads must be at least 1"


def _critical_during_a_burst(outbox, *, infos: int, batch: int, raise_after: int):
    """A lane of one sender works through ``infos`` info messages; a critical alert is
    raised once ``raise_after`` have arrived. The severities in arrival order, and how
    many had arrived when the critical was raised."""
    for n in range(infos):
        _raise("info", f"info_{n}")
    lane = Dispatcher(threads=1, batch=batch, poll=0.05)
    runner = threading.Thread(target=lane.run, kwargs={"handle_signals": False}, daemon=True)
    runner.start()
    try:
        deadline = time.monotonic() + 30
        while len(outbox.requests) < raise_after and time.monotonic() < deadline:
            time.sleep(0.01)
        sent_when_raised = len(outbox.requests)
        _raise("critical", "critical_0")
        while len(outbox.requests) < infos + 1 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        lane.stop()
        runner.join(10)
    assert not runner.is_alive()
    return [r.json["alert"]["severity"] for r in outbox.requests], sent_when_raised


@pytest.mark.django_db(transaction=True)
def test_a_critical_raised_during_a_burst_overtakes_the_info_messages_waiting(outbox):
    outbox.delay = 0.05
    order, sent_when_raised = _critical_during_a_burst(outbox, infos=30, batch=2, raise_after=3)
    assert len(order) == 31, order
    # At most the claim in flight (2 rows) and the one being sent go before it; a
    # first-come queue would have sent it last.
    assert order.index("critical") <= sent_when_raised + 2
    assert set(Notification.objects.values_list("status", flat=True)) == {DeliveryStatus.SENT}


@pytest.mark.django_db(transaction=True)
def test_a_claim_of_info_messages_hands_its_rest_back_when_a_critical_arrives(outbox):
    outbox.delay = 0.2
    order, _sent = _critical_during_a_burst(outbox, infos=12, batch=10, raise_after=1)
    assert len(order) == 13, order
    # The first claim took ten infos; without handing them back the critical would be
    # eleventh at best.
    assert order.index("critical") <= 3, order
    rows = Notification.objects.all()
    assert {n.status for n in rows} == {DeliveryStatus.SENT}
    # Handed back without counting an attempt.
    assert {n.attempts for n in rows} == {1}


def test_a_claim_whose_sender_died_waits_again_in_its_place(outbox):
    from datetime import timedelta

    from django.utils import timezone

    _raise("warning", "abandoned")
    row = Notification.objects.get()
    assert delivery.claim([row.pk])  # a sender took it, then died
    assert delivery.deliver_next(5) == 0  # within its lease nobody else may send it
    Notification.objects.update(lease_until=timezone.now() - timedelta(seconds=1))
    assert delivery.reclaim_abandoned() == 1
    assert delivery.deliver_next(5) == 1
    row.refresh_from_db()
    assert row.status == DeliveryStatus.SENT and row.attempts == 2
    assert len(outbox.requests) == 1


def test_a_row_claimed_before_its_alert_was_silenced_is_not_sent(outbox):
    from alerts import pipeline
    from alerts.policies import Hold

    alert = _raise("warning", "silenced_meanwhile")
    row = Notification.objects.get()
    token = delivery.claim([row.pk])
    assert token is not None
    assert pipeline._hold(alert.pk, Hold("silence", "silenced by silence #9: deploy"), "active")
    row = Notification.objects.select_related("channel", "alert").get()
    # The sender read the alert (active) with its claim; by the time it sends, it is held.
    assert row.alert is not None
    row.alert.status = "active"
    assert delivery._attempt(row, token, timezone_now()) == DeliveryStatus.CANCELLED
    assert outbox.requests == []


def test_a_slow_sender_whose_claim_was_taken_over_sends_nothing_twice(outbox):
    from datetime import timedelta

    _raise("warning", "slow_sender")
    row = Notification.objects.get()
    stale = delivery.claim([row.pk])
    assert stale is not None
    Notification.objects.update(lease_until=timezone_now() - timedelta(seconds=1))
    delivery.reclaim_abandoned()
    assert delivery.deliver_next(5) == 1  # another sender took it and sent it
    late = Notification.objects.select_related("channel", "alert").get()
    late.status = DeliveryStatus.SENDING  # what the slow sender still believes
    assert delivery._attempt(late, stale, timezone_now()) == "lease lost"
    assert len(outbox.requests) == 1


def test_a_stopping_lane_hands_back_the_rest_of_its_claim(outbox):
    for n in range(4):
        _raise("info", f"stop_{n}")
    assert delivery.deliver_next(10, stopping=lambda: True) == 4
    rows = list(Notification.objects.order_by("pk"))
    assert len(outbox.requests) == 1
    assert [r.status for r in rows].count(DeliveryStatus.SENT) == 1
    waiting = [r for r in rows if r.status == DeliveryStatus.PENDING]
    assert len(waiting) == 3 and {r.attempts for r in waiting} == {0}


def test_a_broken_row_does_not_keep_the_rest_of_its_claim_waiting(outbox, monkeypatch):
    for n in range(3):
        _raise("error", f"broken_{n}")
    first = Notification.objects.order_by("pk").first()
    assert first is not None
    real = delivery._rate_slot
    failed: list[bool] = []

    def failing(channel, now):
        if not failed:
            failed.append(True)
            raise RuntimeError("database went away for a moment")
        return real(channel, now)

    monkeypatch.setattr(delivery, "_rate_slot", failing)
    assert delivery.deliver_next(10) == 3
    statuses = dict(Notification.objects.values_list("pk", "status"))
    assert statuses.pop(first.pk) == DeliveryStatus.RETRYING
    assert set(statuses.values()) == {DeliveryStatus.SENT}


def test_no_repeat_is_routed_beside_a_firing_message_still_waiting(outbox, settings):
    from datetime import timedelta

    from notifications import routing

    # An alert that names its channel: per-alert repeats (a group repeats itself).
    AlertService().create_alert(
        spec(alert_type="long_silence", priority="warning", notification_channels=["webhook"])
    )
    assert delivery.deliver_next(5) == 1
    long_ago = timezone_now() - timedelta(seconds=settings.NOTIFY_REPEAT_INTERVAL + 60)
    Notification.objects.update(sent_at=long_ago, updated=long_ago)
    assert routing.repeats_due(timezone_now()).count() == 1
    # The alert was let go after a silence: its firing message waits in the outbox.
    sent = Notification.objects.get()
    Notification.objects.create(
        alert_id=sent.alert_id,
        channel_id=sent.channel_id,
        transition="firing",
        idempotency_key="released-firing",
        next_attempt_at=timezone_now(),
    )
    assert routing.repeats_due(timezone_now()).count() == 0


def test_messages_left_waiting_raise_an_alert_that_resolves_once_they_leave(outbox, settings):
    from datetime import timedelta

    from alerts.models import Alert
    from notifications import watch

    _raise("critical", "nobody_sends")
    # No lane is running: the message has waited past the stall limit.
    past = timezone_now() - timedelta(seconds=settings.NOTIFY_STALL_SECONDS + 30)
    Notification.objects.update(next_attempt_at=past)
    assert watch.watch_args() == ()
    assert watch.watch() > settings.NOTIFY_STALL_SECONDS
    stalled = Alert.objects.get(alert_type=watch.STALL_ALERT)
    assert stalled.status == "active"
    assert re.search(r"has waited 5 min \d+ s \(more than 300 s\)", stalled.message)
    while delivery.deliver_next(10):
        pass
    assert watch.watch() == 0
    stalled.refresh_from_db()
    assert stalled.status == "resolved" and stalled.resolution_notes == "messages are leaving again"
    # Nothing to raise or resolve now: the ticker enqueues no task.
    assert watch.watch_args() is None

"""Delivery against a receiver that fails: retries, backoff, dead letters, circuit
breaker, rate limit, and claims abandoned by workers that died."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.models import Alert
from notifications import delivery
from notifications.models import DeliveryStatus, Notification, NotificationChannel
from tests.notifications.helpers import fire
from tests.notifications.receivers import HANG

pytestmark = pytest.mark.django_db

JSON = {"Content-Type": "application/json"}


def sweep_when_due(capture, notification: Notification) -> None:
    """Let time pass until the row is due, then run the sweeper and what it enqueues."""
    Notification.objects.filter(pk=notification.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )
    with capture(execute=True):
        delivery.sweep()
    notification.refresh_from_db()


def test_a_500_is_retried_and_delivered_once_the_receiver_recovers(
    make_channel, route_all, receiver, django_capture_on_commit_callbacks
):
    make_channel("webhook", receiver=receiver)
    receiver.answer((500, JSON, b'{"error": "boom"}'))
    fire(django_capture_on_commit_callbacks)
    notification = Notification.objects.get()
    assert notification.status == DeliveryStatus.RETRYING
    assert notification.response_code == 500
    assert "HTTP 500" in notification.last_error
    assert notification.next_attempt_at > timezone.now()
    # Nothing due yet: the delivery lane has nothing to send.
    assert not delivery.sweep_needed()
    assert delivery.sweep_needed(notification.next_attempt_at + timedelta(seconds=1))

    sweep_when_due(django_capture_on_commit_callbacks, notification)
    assert notification.status == DeliveryStatus.SENT
    assert notification.attempts == 2
    assert len(receiver.requests) == 2
    assert not delivery.sweep_needed(timezone.now() + timedelta(minutes=1))


def test_a_429_waits_for_retry_after(
    make_channel, route_all, receiver, django_capture_on_commit_callbacks
):
    make_channel("webhook", receiver=receiver)
    receiver.answer((429, {"Retry-After": "120"}, b"slow down"))
    before = timezone.now()
    fire(django_capture_on_commit_callbacks)
    notification = Notification.objects.get()
    assert notification.status == DeliveryStatus.RETRYING
    assert notification.response_code == 429
    assert notification.next_attempt_at >= before + timedelta(seconds=120)
    # Not yet due a minute later.
    assert delivery.deliver(notification.pk, before + timedelta(seconds=60)) == "not claimed"


def test_a_400_fails_for_good_and_alerts_through_another_channel(
    make_channel, route_all, receiver, django_capture_on_commit_callbacks
):
    from tests.notifications.receivers import Receiver

    backup = Receiver()
    try:
        broken = make_channel("webhook", "broken-hook", receiver=receiver)
        make_channel("webhook", "backup-hook", receiver=backup)
        receiver.answer((400, JSON, b'{"error": "bad payload"}'))
        fire(django_capture_on_commit_callbacks)
        failed = Notification.objects.get(channel=broken, alert__alert_type="disk_full")
        assert failed.status == DeliveryStatus.FAILED
        assert failed.response_code == 400
        assert len(receiver.requests) == 1  # never retried
        about = Alert.objects.get(alert_type=delivery.CHANNEL_ALERT_TYPE)
        assert about.title == "Notification channel broken-hook is failing"
        # The backup got the original alert and the alert about the broken channel;
        # the broken channel was not asked to carry news of its own failure.
        titles = [r.json["alert"]["title"] for r in backup.requests]
        assert titles == ["Disk almost full - db-01", about.title]
        assert not Notification.objects.filter(alert=about, channel=broken).exists()
    finally:
        backup.stop()


def test_the_channel_alert_resolves_when_the_channel_delivers_again(
    make_channel, route_all, receiver, django_capture_on_commit_callbacks
):
    make_channel("webhook", "flaky-hook", receiver=receiver)
    receiver.answer((400, JSON, b'{"error": "bad payload"}'))
    fire(django_capture_on_commit_callbacks)
    about = Alert.objects.get(alert_type=delivery.CHANNEL_ALERT_TYPE)
    assert about.status == "active"
    failed = Notification.objects.get(alert__alert_type="disk_full")
    # The operator mends the receiver and resends from the delivery log.
    Notification.objects.filter(pk=failed.pk).update(status=DeliveryStatus.PENDING)
    with django_capture_on_commit_callbacks(execute=True):
        assert delivery.deliver(failed.pk) == DeliveryStatus.SENT
    about.refresh_from_db()
    assert about.status == "resolved" and about.resolved_by == "notifier"
    expected = f"flaky-hook delivered the firing message about alert #{failed.alert_id}"
    assert about.resolution_notes == expected


def test_the_channel_alert_names_the_messages_still_undelivered_when_it_resolves(
    make_channel, route_all, receiver, django_capture_on_commit_callbacks
):
    from alerts.service import AlertService

    make_channel("webhook", "flaky-hook", receiver=receiver)
    receiver.answer((400, JSON, b"{}"))
    fire(django_capture_on_commit_callbacks)  # fails for good, raises the channel alert
    # A later alert goes through: the channel works again, the first message did not.
    with django_capture_on_commit_callbacks(execute=True):
        AlertService().create_system_alert("cpu_usage_percent", 97, 80, "web-09")
    about = Alert.objects.get(alert_type=delivery.CHANNEL_ALERT_TYPE)
    assert about.status == "resolved"
    assert about.resolution_notes.endswith(
        "; 1 message(s) that failed stay undelivered: resend them from the delivery log"
    )


def test_a_receiver_that_hangs_times_out_and_is_retried(
    settings, make_channel, route_all, receiver, django_capture_on_commit_callbacks
):
    make_channel("webhook", receiver=receiver, config={"timeout": 0.3})
    receiver.answer(HANG)
    fire(django_capture_on_commit_callbacks)
    notification = Notification.objects.get()
    assert notification.status == DeliveryStatus.RETRYING
    assert "no answer within 0.3 s" in notification.last_error


def test_a_receiver_down_for_a_while_gets_the_message_after_it_comes_back(
    make_channel, route_all, receiver, django_capture_on_commit_callbacks
):
    make_channel("webhook", receiver=receiver)
    receiver.stop()
    fire(django_capture_on_commit_callbacks)
    notification = Notification.objects.get()
    sweep_when_due(django_capture_on_commit_callbacks, notification)
    assert notification.status == DeliveryStatus.RETRYING
    assert notification.attempts == 2
    assert "network error" in notification.last_error

    receiver.start()
    sweep_when_due(django_capture_on_commit_callbacks, notification)
    assert notification.status == DeliveryStatus.SENT
    assert len(receiver.requests) == 1


def test_after_the_last_attempt_it_is_a_dead_letter(
    settings, make_channel, route_all, receiver, django_capture_on_commit_callbacks
):
    settings.NOTIFY_MAX_ATTEMPTS = 3
    make_channel("webhook", receiver=receiver)
    receiver.default = (503, JSON, b"{}")
    fire(django_capture_on_commit_callbacks)
    notification = Notification.objects.get()
    for _ in range(2):
        sweep_when_due(django_capture_on_commit_callbacks, notification)
    assert notification.status == DeliveryStatus.DEAD
    assert notification.attempts == 3
    assert Alert.objects.filter(alert_type=delivery.CHANNEL_ALERT_TYPE).exists()
    # A dead letter is left alone by the sweeper (within the group's repeat_interval).
    with django_capture_on_commit_callbacks(execute=True):
        delivery.sweep(timezone.now() + timedelta(hours=1))
    assert len(receiver.requests) == 3


def test_backoff_doubles_up_to_the_cap_with_jitter(settings):
    settings.NOTIFY_RETRY_BASE_SECONDS = 10
    settings.NOTIFY_RETRY_MAX_SECONDS = 60
    assert 5 <= delivery.backoff(1) <= 10
    assert 20 <= delivery.backoff(3) <= 40
    assert 30 <= delivery.backoff(10) <= 60
    assert len({round(delivery.backoff(5), 6) for _ in range(20)}) > 1


def test_the_circuit_opens_after_five_failures_in_a_row(
    make_channel, route_all, receiver, django_capture_on_commit_callbacks
):
    channel = make_channel("webhook", receiver=receiver)
    receiver.default = (500, JSON, b"{}")
    for n in range(5):
        fire(django_capture_on_commit_callbacks, alert_type=f"disk_{n}")
    channel.refresh_from_db()
    assert channel.consecutive_failures == 5
    assert channel.circuit_open_until > timezone.now() + timedelta(seconds=290)
    # While it is open a new message waits instead of reaching the receiver.
    fire(django_capture_on_commit_callbacks, alert_type="disk_6")
    waiting = Notification.objects.get(alert__alert_type="disk_6")
    assert waiting.status == DeliveryStatus.PENDING
    assert waiting.next_attempt_at == channel.circuit_open_until
    assert waiting.attempts == 0
    assert len(receiver.requests) == 5


def test_a_success_closes_the_circuit(
    make_channel, route_all, receiver, django_capture_on_commit_callbacks
):
    channel = make_channel("webhook", receiver=receiver)
    NotificationChannel.objects.filter(pk=channel.pk).update(
        consecutive_failures=5, circuit_open_until=timezone.now() - timedelta(seconds=1)
    )
    fire(django_capture_on_commit_callbacks)
    channel.refresh_from_db()
    assert channel.consecutive_failures == 0 and channel.circuit_open_until is None


def test_a_rate_limited_channel_sends_the_next_message_later(
    make_channel, route_all, receiver, django_capture_on_commit_callbacks
):
    # PagerDuty's 120 a minute, as 1 a minute to make the second wait past the worker.
    make_channel("pagerduty", receiver=receiver, rate_limit_per_minute=1)
    fire(django_capture_on_commit_callbacks, alert_type="one")
    fire(django_capture_on_commit_callbacks, alert_type="two")
    second = Notification.objects.get(alert__alert_type="two")
    assert second.status == DeliveryStatus.PENDING
    assert second.last_error == "rate limited"
    assert len(receiver.requests) == 1
    # A minute on, the channel's next slot has come.
    NotificationChannel.objects.update(next_send_at=timezone.now())
    sweep_when_due(django_capture_on_commit_callbacks, second)
    assert second.status == DeliveryStatus.SENT
    assert len(receiver.requests) == 2


def test_claims_abandoned_by_dead_workers_are_delivered_after_their_lease(
    settings, make_channel, route_all, receiver, django_capture_on_commit_callbacks
):
    make_channel("webhook", receiver=receiver)
    # Twenty alerts routed, each claimed by a worker that then died before sending.
    with django_capture_on_commit_callbacks(execute=False):
        for n in range(20):
            fire(lambda **_: _NoCapture(), alert_type=f"crash_{n}")
    ids = list(Notification.objects.values_list("pk", flat=True))
    assert all(delivery.claim([pk]) for pk in ids)
    # Within the lease nobody else may take them, the sweeper included.
    assert delivery.deliver(ids[0]) == "not claimed"
    with django_capture_on_commit_callbacks(execute=True):
        delivery.sweep()
    assert receiver.requests == []

    # A lease later: the claims ran out.
    past = timezone.now() - timedelta(seconds=1)
    Notification.objects.update(lease_until=past)
    with django_capture_on_commit_callbacks(execute=True):
        delivery.sweep()
    assert Notification.objects.filter(status=DeliveryStatus.SENT).count() == 20
    keys = sorted(r.headers["idempotency-key"] for r in receiver.requests)
    assert keys == sorted(Notification.objects.values_list("idempotency_key", flat=True))


def test_a_late_worker_does_not_overwrite_the_outcome_of_the_one_that_took_over(
    settings, make_channel, route_all, receiver, django_capture_on_commit_callbacks
):
    make_channel("webhook", receiver=receiver)
    with django_capture_on_commit_callbacks(execute=False):
        fire(lambda **_: _NoCapture())
    notification = Notification.objects.get()
    now = timezone.now()
    stale_claim = delivery.claim([notification.pk], now)
    notification.refresh_from_db()
    assert stale_claim is not None and notification.lease_until is not None
    later_now = notification.lease_until + timedelta(seconds=1)
    assert delivery.deliver(notification.pk, later_now) == DeliveryStatus.SENT
    notification.refresh_from_db()
    assert delivery._finish(notification, stale_claim, DeliveryStatus.FAILED, now) == "lease lost"
    notification.refresh_from_db()
    assert notification.status == DeliveryStatus.SENT


def test_secrets_stay_out_of_errors_and_logs(
    make_channel, route_all, receiver, django_capture_on_commit_callbacks, caplog
):
    make_channel("telegram", receiver=receiver)
    receiver.answer((500, JSON, b'{"description": "token 123456:BOT-TOKEN-SECRET broke"}'))
    with caplog.at_level(logging.DEBUG):
        fire(django_capture_on_commit_callbacks)
    notification = Notification.objects.get()
    assert notification.status == DeliveryStatus.RETRYING
    assert "BOT-TOKEN-SECRET" not in notification.last_error
    assert "***" in notification.last_error
    assert "BOT-TOKEN-SECRET" not in caplog.text


class _NoCapture:
    """Stands in for the on-commit capture when the test wants nothing delivered."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_no_delivery_work_reaches_the_monitoring_queue():
    from opsconsole.ticker import registered_jobs

    # Messages are the delivery lane's: the ticker enqueues monitoring work only, and of
    # the notifications app only the check that the lane is moving.
    jobs = {name: job.func for name, job in registered_jobs().items()}
    assert {n: f for n, f in jobs.items() if "notif" in n or "deliver" in f} == {
        "notifications.watch": "notifications.tasks.watch_lane"
    }


def test_a_circuit_opened_in_a_batch_holds_for_the_rest_of_it(
    make_channel, route_all, receiver, django_capture_on_commit_callbacks
):
    make_channel("webhook", receiver=receiver)
    receiver.default = (500, JSON, b"{}")
    with django_capture_on_commit_callbacks(execute=False):
        for n in range(8):
            fire(lambda **_: _NoCapture(), alert_type=f"batch_{n}")
    ids = list(Notification.objects.order_by("pk").values_list("pk", flat=True))
    outcomes = delivery.deliver_batch(ids)
    assert list(outcomes.values()) == [DeliveryStatus.RETRYING] * 5 + ["deferred"] * 3
    assert len(receiver.requests) == 5


def test_an_empty_batch_claims_nothing_on_either_database(db):
    # A group flush that wrote no message hands over no ids (PostgreSQL refused IN ()).
    assert delivery.claim([]) is None
    assert delivery.deliver_batch([]) == {}

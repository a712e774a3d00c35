"""/metrics counts notifications per channel and outcome and shows the outbox backlog;
the exported Grafana dashboard has panels over those series."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from notifications.models import Notification
from tests.notifications.helpers import fire

pytestmark = pytest.mark.django_db

JSON = {"Content-Type": "application/json"}


def scrape() -> dict[str, list]:
    response = Client().get("/metrics")
    assert response.status_code == 200
    return _samples(response.content.decode())


def _samples(text: str) -> dict[str, list]:
    found: dict[str, list] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append(sample)
    return found


def value(samples, **labels) -> float:
    (match,) = [s.value for s in samples if all(s.labels.get(k) == v for k, v in labels.items())]
    return match


def test_it_counts_a_sent_message_for_its_channel(
    make_channel, route_all, receiver, django_capture_on_commit_callbacks
):
    make_channel("webhook", name="ops-hook", receiver=receiver)
    fire(django_capture_on_commit_callbacks)
    sent = scrape()["opsconsole_notifications_total"]
    assert value(sent, channel="ops-hook", outcome="sent") == 1
    assert value(sent, channel="ops-hook", outcome="failed") == 0
    assert value(sent, channel="ops-hook", kind="webhook", outcome="dead") == 0


def test_it_counts_a_refused_message_as_failed(
    make_channel, route_all, receiver, django_capture_on_commit_callbacks
):
    make_channel("webhook", name="ops-hook", receiver=receiver)
    receiver.default = (400, JSON, b'{"error": "bad payload"}')
    fire(django_capture_on_commit_callbacks)
    counts = scrape()["opsconsole_notifications_total"]
    assert value(counts, channel="ops-hook", outcome="failed") == 1
    assert value(counts, channel="ops-hook", outcome="sent") == 0


def test_it_counts_a_message_out_of_retries_as_dead(
    settings, make_channel, route_all, receiver, django_capture_on_commit_callbacks
):
    settings.NOTIFY_MAX_ATTEMPTS = 1
    make_channel("webhook", name="ops-hook", receiver=receiver)
    receiver.default = (503, JSON, b"{}")
    fire(django_capture_on_commit_callbacks)
    counts = scrape()["opsconsole_notifications_total"]
    assert value(counts, channel="ops-hook", outcome="dead") == 1


def test_it_shows_the_backlog_and_the_age_of_the_oldest_waiting_message(make_channel):
    channel = make_channel("dashboard", name="screen")
    for index, status in enumerate(["pending", "pending", "retrying", "sent"]):
        Notification.objects.create(
            channel=channel,
            transition="firing",
            idempotency_key=f"k{index}",
            status=status,
            next_attempt_at=timezone.now() + timedelta(hours=1),
        )
    # The first pending message has waited ten minutes.
    Notification.objects.filter(idempotency_key="k0").update(
        created=timezone.now() - timedelta(minutes=10)
    )
    metrics = scrape()
    assert value(metrics["opsconsole_notification_outbox"], status="pending") == 2
    assert value(metrics["opsconsole_notification_outbox"], status="retrying") == 1
    age = metrics["opsconsole_notification_outbox_oldest_age_seconds"][0].value
    assert 600 <= age < 3600


def test_an_empty_outbox_has_no_age(make_channel):
    make_channel("dashboard", name="screen")
    metrics = scrape()
    assert metrics["opsconsole_notification_outbox_oldest_age_seconds"][0].value == 0
    assert value(metrics["opsconsole_notification_outbox"], status="pending") == 0


def test_it_shows_which_channels_have_an_open_circuit(make_channel):
    make_channel("dashboard", name="calm")
    make_channel(
        "dashboard", name="broken", circuit_open_until=timezone.now() + timedelta(minutes=5)
    )
    circuits = scrape()["opsconsole_notification_circuit_open"]
    assert value(circuits, channel="broken") == 1 and value(circuits, channel="calm") == 0


def test_the_grafana_dashboard_has_a_notifications_row_over_served_series(tmp_path, make_channel):
    make_channel("dashboard", name="screen")
    out = tmp_path / "dashboard.json"
    call_command("export_grafana_dashboard", "--output", str(out))
    board = json.loads(out.read_text())
    titles = [panel["title"] for panel in board["panels"]]
    start = titles.index("Notifications")
    assert {"Notifications per channel", "Outbox backlog"} <= set(titles[start:])
    served = set(scrape())
    wanted = {
        name
        for panel in board["panels"]
        if panel["title"] in {"Notifications per channel", "Outbox backlog", "Open circuits"}
        for target in panel["targets"]
        for name in re.findall(r"\bopsconsole_[a-z0-9_]+", target["expr"])
    }
    assert "opsconsole_notifications_total" in wanted and wanted <= served

"""Heartbeat pings: no login, the UUID is the secret; late is down."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from alerts.models import Alert
from healthchecks.heartbeats import deadline
from healthchecks.models import ServiceEndpoint
from healthchecks.runner import run_checks

pytestmark = pytest.mark.django_db


@pytest.fixture
def beat(make_endpoint):
    return make_endpoint(
        "nightly-backup", kind="heartbeat", target="", period_seconds=3600, grace_seconds=300
    )


def test_a_ping_marks_it_up(client, beat):
    response = client.get(f"/ping/{beat.ping_uuid}")
    assert response.status_code == 200 and response.content == b"OK\n"
    beat.refresh_from_db()
    assert beat.state == "up" and beat.last_ping is not None


def test_a_post_ping_needs_no_csrf_token(beat):
    from django.test import Client

    response = Client(enforce_csrf_checks=True).post(
        f"/ping/{beat.ping_uuid}", data=b"backup done", content_type="text/plain"
    )
    assert response.status_code == 200


def test_start_then_success_records_the_run_duration(client, beat):
    client.post(f"/ping/{beat.ping_uuid}/start")
    ServiceEndpoint.objects.filter(pk=beat.pk).update(
        last_start=timezone.now() - timedelta(seconds=90)
    )
    client.post(f"/ping/{beat.ping_uuid}")
    beat.refresh_from_db()
    assert beat.last_duration_ms == pytest.approx(90_000, rel=0.01)


def test_a_fail_ping_marks_it_down_and_pages(client, beat):
    client.get(f"/ping/{beat.ping_uuid}/fail")
    beat.refresh_from_db()
    assert beat.state == "down"
    assert Alert.objects.get().message == "nightly-backup is down: the run reported failure"


def test_no_ping_past_period_and_grace_is_late_and_down(beat):
    ServiceEndpoint.objects.filter(pk=beat.pk).update(
        last_ping=timezone.now() - timedelta(seconds=3600 + 301), state="up"
    )
    run_checks([beat.pk])
    beat.refresh_from_db()
    assert beat.state == "down" and beat.last_error.startswith("late: no ping since")


def test_within_the_grace_time_it_stays_up(beat):
    ServiceEndpoint.objects.filter(pk=beat.pk).update(
        last_ping=timezone.now() - timedelta(seconds=3600 + 200), state="up"
    )
    run_checks([beat.pk])
    beat.refresh_from_db()
    assert beat.state == "up"


def test_a_cron_schedule_is_read_in_the_endpoints_time_zone(beat):
    beat.cron = "0 2 * * *"  # 02:00 every day, Paris time
    beat.time_zone = "Europe/Paris"
    beat.grace_seconds = 600
    beat.last_ping = datetime(2026, 7, 1, 0, 0, tzinfo=UTC)  # 02:00 in Paris (summer)
    assert deadline(beat) == datetime(2026, 7, 2, 0, 10, tzinfo=UTC)


def test_an_unknown_uuid_is_404(client, beat):
    assert client.get("/ping/6f1c1d44-93a5-4c53-9bd8-6b7e2f3b9a10").status_code == 404


def test_a_non_heartbeat_endpoint_cannot_be_pinged(client, make_endpoint):
    endpoint = make_endpoint("web")
    assert client.get(f"/ping/{endpoint.ping_uuid}").status_code == 404


@override_settings(HEALTH_PING_RATE_PER_MINUTE=3)
def test_pings_are_rate_limited_per_uuid(client, beat):
    codes = [client.get(f"/ping/{beat.ping_uuid}").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]


def test_after_a_monitoring_gap_a_heartbeat_gets_a_full_period_again(beat):
    from healthchecks.state import mark_unknown

    long_ago = timezone.now() - timedelta(hours=5)
    ServiceEndpoint.objects.filter(pk=beat.pk).update(last_ping=long_ago, state="up")
    beat.refresh_from_db()
    # Pings sent while the console was away were lost: it must not call the job late.
    mark_unknown([beat], "monitoring gap", timezone.now())
    run_checks([beat.pk])
    beat.refresh_from_db()
    assert beat.state == "unknown"
    assert not Alert.objects.exists()

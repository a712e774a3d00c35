"""Seed 000's frontend mapping: Data Source Pulse (latency per source, live) on the
System Monitor and Security Vault Status (service health plus security events) on
Sentry Station."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from healthchecks.models import LatencySample, ServiceEndpoint
from opsconsole import audit
from opsconsole.models import ApiToken, AuditEntry
from tests.metrics.helpers import store

pytestmark = pytest.mark.django_db


@pytest.fixture
def monitored(settings):
    store(settings.LOCAL_HOSTNAME, {"cpu_usage_percent": [(datetime.now(UTC), 20.0)]})


def _latencies(source, values):
    now = timezone.now()
    LatencySample.objects.bulk_create(
        LatencySample(source=source, latency_ms=v, time=now - timedelta(seconds=i))
        for i, v in enumerate(values)
    )


def test_the_system_monitor_shows_each_sources_latency(client, carol, monitored, settings):
    settings.LATENCY_ALERT_THRESHOLD_MS = 200
    _latencies("redpanda", [40.0] * 20)
    _latencies("market-feed", [90.0] * 10 + [450.0] * 10)
    client.force_login(carol)
    page = client.get("/").content.decode()
    assert "Data source pulse" in page and 'hx-get="/services/pulse/"' in page
    assert 'data-source="redpanda"' in page and 'data-source="market-feed"' in page
    row = page[page.index('data-source="market-feed"') :]
    assert "lagging" in row[: row.index("</tr>")]
    row = page[page.index('data-source="redpanda"') :]
    assert "on time" in row[: row.index("</tr>")]


def test_the_pulse_refreshes_itself_for_viewers_only(client, carol, mallory):
    _latencies("redpanda", [40.0] * 5)
    client.force_login(mallory)
    assert client.get("/services/pulse/").status_code == 403
    client.force_login(carol)
    partial = client.get("/services/pulse/").content.decode()
    assert partial.startswith('<div id="data-source-pulse"') and "redpanda" in partial


def test_sentry_station_shows_the_security_vault(client, alice, carol):
    ServiceEndpoint.objects.create(name="vault-api", target="http://127.0.0.1:9/", state="down")
    for _ in range(3):
        audit.record(AuditEntry.Kind.LOGIN_FAILED, "failed login for root")
    old = audit.record(AuditEntry.Kind.LOGIN_FAILED, "old one")
    AuditEntry.objects.filter(pk=old.pk).update(created=timezone.now() - timedelta(days=2))
    ApiToken.issue(user=alice, name="agent on db-01", scopes=["ingest"])
    ApiToken.objects.update(last_used=timezone.now())
    from notifications.models import NotificationChannel

    NotificationChannel.objects.create(name="ops-hook", kind="dashboard")  # audited edit
    client.force_login(carol)
    page = client.get("/station/").content.decode()
    assert "Security vault status" in page
    assert 'data-status="alert"' in page, "a service is down"
    assert 'id="vault-failed-logins">3<' in page, "the last 24 hours only"
    assert 'id="vault-tokens-used">1<' in page
    # The endpoint and the channel made above: both hold secrets.
    assert 'id="vault-secret-changes">2<' in page
    assert "1 down" in page


def test_a_quiet_console_reads_sealed():
    from healthchecks.panels import vault_context

    context = vault_context()
    assert context["status"] == "sealed" and context["events"]["failed_logins"] == 0

"""The service endpoints' series on /metrics, parsed back from the exposition."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from healthchecks.models import Flip, ServiceEndpoint

pytestmark = pytest.mark.django_db


def scrape() -> dict[str, list]:
    response = Client().get("/metrics")
    assert response.status_code == 200
    families = text_string_to_metric_families(response.content.decode())
    return {family.name: family.samples for family in families}


def value(samples, **labels) -> float:
    (match,) = [s.value for s in samples if all(s.labels.get(k) == v for k, v in labels.items())]
    return match


def test_it_marks_the_state_each_endpoint_is_in():
    ServiceEndpoint.objects.create(name="api", target="https://api.example.org", state="down")
    states = scrape()["opsconsole_endpoint_state"]
    assert value(states, endpoint="api", kind="http", state="down") == 1
    assert value(states, endpoint="api", kind="http", state="up") == 0


def test_it_serves_the_last_response_time_only_once_checked():
    ServiceEndpoint.objects.create(
        name="api", target="https://api.example.org", last_response_ms=42.5
    )
    ServiceEndpoint.objects.create(name="new", target="https://new.example.org")
    samples = scrape()["opsconsole_endpoint_response_seconds"]
    assert value(samples, endpoint="api") == pytest.approx(0.0425)
    assert not [s for s in samples if s.labels["endpoint"] == "new"]


def test_it_serves_the_uptime_of_the_last_24_hours():
    now = timezone.now()
    endpoint = ServiceEndpoint.objects.create(
        name="api", target="https://api.example.org", state="up"
    )
    # Down for the first 6 of the last 24 hours, up since.
    Flip.objects.create(
        endpoint=endpoint, time=now - timedelta(hours=30), old_state="unknown", new_state="down"
    )
    Flip.objects.create(
        endpoint=endpoint, time=now - timedelta(hours=18), old_state="down", new_state="up"
    )
    assert value(
        scrape()["opsconsole_endpoint_uptime_24h_percent"], endpoint="api"
    ) == pytest.approx(75, abs=0.1)


def test_a_disabled_endpoint_is_left_out():
    ServiceEndpoint.objects.create(name="off", target="https://off.example.org", enabled=False)
    assert not scrape()["opsconsole_endpoint_state"]

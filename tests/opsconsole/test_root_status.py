"""Seed 002's ``GET /status``, "extended status with system info", at the root: open to
anyone, the public part of ``/api/v1/status`` (no host names, no secrets)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.metrics.helpers import store

pytestmark = pytest.mark.django_db


@pytest.fixture
def reporting(settings):
    at = datetime.now(UTC)
    store(settings.LOCAL_HOSTNAME, {"cpu_usage_percent": [(at, 37.0)]})
    store("secret-db-host", {"cpu_usage_percent": [(at, 5.0)]})


def test_it_answers_without_auth_with_system_info(client, reporting, settings):
    response = client.get("/status")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["database"] in ("sqlite", "postgresql")
    assert body["collection_interval_seconds"] == settings.METRICS_COLLECTION_INTERVAL
    assert (body["host_count"], body["stale_host_count"]) == (2, 0)
    assert body["system"]["cpu_percent"] == 37.0 and body["system"]["status"]


def test_it_names_no_host_and_no_secret(client, reporting, settings):
    text = client.get("/status").content.decode()
    assert "secret-db-host" not in text and settings.LOCAL_HOSTNAME not in text
    assert settings.SECRET_KEY not in text
    if settings.DATABASE_URL:
        assert settings.DATABASE_URL not in text


def test_it_is_the_public_part_of_the_api_status(client, carol, reporting):
    public = client.get("/status").json()
    client.force_login(carol)
    full = client.get("/api/v1/status").json()
    assert set(public) <= set(full)
    assert {h["hostname"] for h in full["hosts"]} >= {"secret-db-host"}
    assert full["system"] == public["system"]

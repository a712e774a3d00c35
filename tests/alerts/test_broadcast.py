"""Seed 002's Redis integration: "Alert Broadcasting: publishes alerts to Redis
channels", and the key patterns ``latest:{hostname}:{metric_type}`` and
``health:{hostname}``, readable by outside subscribers when REDIS_URL is set."""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime

import pytest

from alerts.service import AlertService
from opsconsole import redis_bridge
from tests.metrics.helpers import store

pytestmark = pytest.mark.django_db

REDIS_URL = os.environ.get("REDIS_URL", "")
needs_redis = pytest.mark.skipif(not REDIS_URL, reason="needs REDIS_URL")


@pytest.fixture(autouse=True)
def _fresh_bridge():
    redis_bridge._reset()
    yield
    redis_bridge._reset()


@pytest.fixture
def redis_client(settings):
    import redis

    settings.REDIS_URL = REDIS_URL
    # Pub/sub channels are shared by every database of a server: a channel of this
    # test's own, so nobody else's alerts reach it.
    settings.ALERT_BROADCAST_CHANNEL = f"alerts-{uuid.uuid4().hex}"
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    yield client
    client.close()


def _messages(pubsub) -> list[dict]:
    found = []
    while (message := pubsub.get_message(timeout=1.0)) is not None:
        if message["type"] == "message":
            found.append(json.loads(message["data"]))
    return found


@needs_redis
def test_it_publishes_every_alert_change_as_json(
    redis_client, settings, django_capture_on_commit_callbacks
):
    pubsub = redis_client.pubsub()
    pubsub.subscribe(settings.ALERT_BROADCAST_CHANNEL)
    assert pubsub.get_message(timeout=1.0)["type"] == "subscribe"
    service = AlertService()
    with django_capture_on_commit_callbacks(execute=True):
        alert = service.create_system_alert(
            metric_name="cpu_percent", current_value=97, threshold_value=80, resource="web-01"
        )
    with django_capture_on_commit_callbacks(execute=True):
        service.acknowledge_alert(alert.pk, acknowledged_by="bob", notes="looking")
    with django_capture_on_commit_callbacks(execute=True):
        service.resolve_alert(alert.pk, resolved_by="bob", resolution_notes="fixed")
    fired, acknowledged, resolved = _messages(pubsub)
    assert fired["type"] == "alert.fired" and fired["alert_id"] == alert.pk
    # 97 against 80 is 21 % over: error, by the auto-priority.
    assert (fired["severity"], fired["status"], fired["resource"]) == (
        "error",
        "active",
        "web-01",
    )
    assert fired["title"] == "High CPU Usage - web-01" and fired["value"] == 97
    assert fired["url"].endswith(f"/alerts/{alert.pk}/")
    assert acknowledged["type"] == "alert.changed" and acknowledged["status"] == "acknowledged"
    assert acknowledged["event"]["kind"] == "acknowledged"
    assert acknowledged["event"]["actor"] == "bob" and acknowledged["acknowledged_by"] == "bob"
    assert resolved["status"] == "resolved" and resolved["event"]["kind"] == "resolved"
    pubsub.close()


@needs_redis
def test_it_keeps_the_seed_key_patterns_for_the_latest_values_and_health(redis_client):
    hostname = f"monitor-{uuid.uuid4().hex[:8]}"
    at = datetime.now(UTC).replace(microsecond=0)
    store(
        hostname,
        {
            "cpu_usage_percent": [(at, 42.5)],
            "memory_usage_percent": [(at, 61.0)],
            'disk_usage_percent{mount="/"}': [(at, 70.0)],
        },
    )
    latest = json.loads(redis_client.get(f"latest:{hostname}:cpu_usage_percent"))
    assert latest == {"value": 42.5, "time": at.isoformat()}
    disk = json.loads(redis_client.get(f'latest:{hostname}:disk_usage_percent{{mount="/"}}'))
    assert disk["value"] == 70.0
    health = json.loads(redis_client.get(f"health:{hostname}"))
    assert health["hostname"] == hostname and health["cpu_percent"] == 42.5
    assert health["memory_percent"] == 61.0 and health["disk_percent"] == 70.0
    assert "status" in health and "processes" not in health
    assert redis_client.ttl(f"health:{hostname}") > 0
    redis_client.delete(*redis_client.keys(f"*:{hostname}*"))


def test_without_redis_nothing_is_published_and_nothing_breaks(
    settings, django_capture_on_commit_callbacks
):
    from alerts import broadcast

    settings.REDIS_URL = ""
    with django_capture_on_commit_callbacks(execute=True):
        alert = AlertService().create_system_alert(
            metric_name="cpu_percent", current_value=97, threshold_value=80, resource="web-02"
        )
    assert redis_bridge.client() is None
    assert broadcast.publish(alert, None) is False


def test_a_redis_that_does_not_answer_pauses_the_bridge_without_raising(settings, caplog):
    from alerts import broadcast

    settings.REDIS_URL = "redis://127.0.0.1:9/0"  # nothing listens on the discard port
    alert = AlertService().create_system_alert(
        metric_name="cpu_percent", current_value=97, threshold_value=80, resource="web-02"
    )
    assert broadcast.publish(alert, None) is False
    assert "pausing" in caplog.text
    assert redis_bridge.client() is None, "paused: the next change does not wait again"

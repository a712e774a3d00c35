"""Seed 000's health monitor API from its new import path."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from healthchecks.monitor import get_health_monitor
from healthchecks.probes import ProbeResult
from healthchecks.state import apply_results
from tests.metrics.helpers import store

pytestmark = pytest.mark.django_db


def test_system_vitals_say_critical_load_over_a_threshold(settings):
    settings.CPU_ALERT_THRESHOLD = 80.0
    store(
        settings.LOCAL_HOSTNAME,
        {
            "cpu_usage_percent": [(datetime.now(UTC), 92.0)],
            "memory_usage_percent": [(datetime.now(UTC), 40.0)],
        },
    )
    vitals = get_health_monitor().get_system_vitals()
    assert vitals["status"] == "CRITICAL_LOAD" and vitals["cpu_percent"] == 92.0


def test_system_vitals_without_samples_say_no_data():
    assert get_health_monitor().get_system_vitals()["status"] == "NO_DATA"


def test_service_health_is_degraded_when_one_service_is_slow(make_endpoint):
    fast = make_endpoint("fast")
    slow = make_endpoint("slow", max_response_time_ms=100)
    apply_results(
        [
            (fast, ProbeResult(ok=True, response_ms=10.0)),
            (slow, ProbeResult(ok=True, response_ms=900.0)),
        ]
    )
    health = get_health_monitor().check_service_health()
    assert health["status"] == "degraded"
    assert {s["name"]: s["status"] for s in health["services"]} == {
        "fast": "up",
        "slow": "degraded",
    }

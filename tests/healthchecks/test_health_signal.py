"""Seed 003's ``on_health_change`` callback: ``healthchecks.signals.health_changed``,
sent after commit for every change of an endpoint's state, and only then."""

from __future__ import annotations

import pytest
from django.utils import timezone

from healthchecks.models import ServiceEndpoint
from healthchecks.probes import ProbeResult
from healthchecks.signals import health_changed
from healthchecks.state import apply_results, mark_unknown

pytestmark = pytest.mark.django_db


@pytest.fixture
def heard():
    changes = []

    def on_health_change(sender, endpoint, old_state, new_state, reason, at, **kwargs):
        changes.append((endpoint.name, old_state, new_state, reason))

    health_changed.connect(on_health_change)
    yield changes
    health_changed.disconnect(on_health_change)


@pytest.fixture
def neo4j():
    return ServiceEndpoint.objects.create(
        name="neo4j", kind="tcp", target="127.0.0.1:7687", state="up"
    )


def test_it_tells_each_change_of_health_after_commit(
    heard, neo4j, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        apply_results([(neo4j, ProbeResult(ok=False, error="refused"))])
        assert heard == [], "not before the change is committed"
    assert heard == [("neo4j", "up", "down", "refused")]
    with django_capture_on_commit_callbacks(execute=True):
        apply_results([(neo4j, ProbeResult(ok=False, error="refused"))])
    assert len(heard) == 1, "still down: no change, no signal"
    with django_capture_on_commit_callbacks(execute=True):
        apply_results([(neo4j, ProbeResult(ok=True, response_ms=3.0))])
    assert heard[-1][1:3] == ("down", "up")


def test_a_monitoring_gap_is_a_change_too(heard, neo4j, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        mark_unknown([neo4j], "checks are three intervals behind", timezone.now())
    assert heard == [("neo4j", "up", "unknown", "checks are three intervals behind")]


def test_a_failing_receiver_never_undoes_the_change(
    heard, neo4j, django_capture_on_commit_callbacks, caplog
):
    def broken(**kwargs):
        raise RuntimeError("receiver bug")

    health_changed.connect(broken)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            apply_results([(neo4j, ProbeResult(ok=False, error="refused"))])
    finally:
        health_changed.disconnect(broken)
    neo4j.refresh_from_db()
    assert neo4j.state == "down" and len(heard) == 1
    assert "receiver bug" in caplog.text

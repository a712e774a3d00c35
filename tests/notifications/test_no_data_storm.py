"""Fifty agents lose their network at once: the console's defaults (rules, routing,
inhibition) turn the storm of "no data" alerts into one message per channel, not one
per host."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from alerts.constants import Status
from alerts.defaults import threshold_rules
from alerts.evaluator import evaluate
from alerts.inhibition import load_default_rules
from alerts.models import Alert
from notifications import grouping
from notifications.models import RoutingRule
from notifications.routing import load_default_routes
from tests.metrics.helpers import store

pytestmark = pytest.mark.django_db

HOSTS = [f"node-{n:02d}" for n in range(50)]


@pytest.fixture(autouse=True)
def _clock_in_the_tests_hands():
    """Evaluation after ingest would run at the real time; this test sets its own."""
    from alerts.apps import _evaluate_soon
    from metrics.signals import samples_ingested

    samples_ingested.disconnect(dispatch_uid="alerts.evaluate_after_ingest")
    yield
    samples_ingested.connect(_evaluate_soon, dispatch_uid="alerts.evaluate_after_ingest")


def _hot(at: datetime) -> None:
    """Every host's CPU and memory above the default thresholds for the last 5 minutes."""
    points = [at - timedelta(seconds=15 * i) for i in range(20)]
    for host in HOSTS:
        store(
            host,
            {
                "cpu_usage_percent": [(t, 97.0) for t in points],
                "memory_usage_percent": [(t, 96.0) for t in points],
            },
        )


def test_fifty_silent_hosts_make_one_message_per_channel_listing_them(
    make_channel, receiver, django_capture_on_commit_callbacks
):
    # Group timers run on the real clock: the samples end now.
    t0 = timezone.now().replace(microsecond=0)
    threshold_rules()
    load_default_rules()
    load_default_routes()
    # The default routing, with timers long enough for a slow machine: group timers run
    # on the real clock, and a pass over 100 alerts must not outlast group_wait.
    group_wait = 600
    RoutingRule.objects.update(group_wait=group_wait, group_interval=group_wait)
    slack = make_channel("slack", "ops-slack", receiver=receiver)
    with django_capture_on_commit_callbacks(execute=True):
        _hot(t0)
        evaluate(t0)
        evaluate(t0 + timedelta(seconds=61))  # past the rules' for
        _hot(t0 + timedelta(seconds=75))
        evaluate(t0 + timedelta(seconds=76))
    firing = Alert.objects.filter(alert_type__startswith="rule_", status=Status.ACTIVE)
    assert firing.count() == 2 * len(HOSTS)
    with django_capture_on_commit_callbacks(execute=True):
        grouping.flush_due(t0 + timedelta(minutes=20))
    told_before = len(receiver.requests)
    assert told_before == 2  # the firing groups, one per rule

    # The agents fall silent; the windows (5 min) empty.
    silent = t0 + timedelta(seconds=76 + 301)
    start = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        result = evaluate(silent)
    assert result.no_data == 2 * len(HOSTS)
    no_data = Alert.objects.filter(alert_type__startswith="no_data_rule_")
    open_no_data = no_data.filter(status=Status.ACTIVE)
    # One no-data alert speaks for each host; the host's others are held back.
    assert sorted(open_no_data.values_list("resource", flat=True)) == HOSTS
    assert not Alert.objects.filter(alert_type__startswith="rule_", status=Status.ACTIVE)

    for seconds in (0, 5, group_wait - 1):
        with django_capture_on_commit_callbacks(execute=True):
            grouping.flush_due(start + timedelta(seconds=seconds))
    assert len(receiver.requests) == told_before, "nothing before group_wait"
    with django_capture_on_commit_callbacks(execute=True):
        grouping.flush_due(timezone.now() + timedelta(seconds=group_wait + 1))
    [message] = receiver.requests[told_before:]  # one message for the channel
    body = message.json
    text = str(body)
    assert "No data on 50 hosts" in text
    listed = [host for host in HOSTS if host in text]
    assert len(listed) >= 20, text[:3000]  # the message lists them (the rest counted)
    assert "30 more" in text or len(listed) == len(HOSTS)
    assert slack.pk

"""The monitor monitors itself: a stall raises one gap alert, not a storm of DOWNs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.constants import Status
from alerts.models import Alert
from healthchecks.models import ServiceEndpoint
from healthchecks.probes import ProbeResult
from healthchecks.runner import run_checks
from healthchecks.selfwatch import watch
from healthchecks.state import apply_results

pytestmark = pytest.mark.django_db


def _stalled(make_endpoint, count=3):
    long_ago = timezone.now() - timedelta(minutes=30)
    endpoints = [make_endpoint(f"svc-{i}", interval_seconds=30) for i in range(count)]
    apply_results([(e, ProbeResult(ok=True, response_ms=5.0)) for e in endpoints], long_ago)
    return endpoints


def test_checks_that_stopped_raise_one_gap_alert_and_become_unknown(make_endpoint):
    _stalled(make_endpoint)
    problems = watch()
    assert problems == ["3 checks have not run for 3 intervals (svc-0, svc-1, svc-2)"]
    alert = Alert.objects.get()
    assert alert.alert_type == "monitoring_gap" and alert.status == Status.ACTIVE
    assert set(ServiceEndpoint.objects.values_list("state", flat=True)) == {"unknown"}


def test_returning_from_a_gap_does_not_page_for_every_service(make_endpoint, closed_port):
    endpoints = _stalled(make_endpoint)
    # The console's own network comes back slowly: the first checks fail.
    ServiceEndpoint.objects.update(target=f"http://127.0.0.1:{closed_port}/", retries=1)
    run_checks([e.pk for e in endpoints])
    assert not Alert.objects.filter(alert_type="service_down").exists()
    assert set(ServiceEndpoint.objects.values_list("state", flat=True)) == {"unknown"}


def test_the_gap_alert_resolves_once_checks_are_fresh(make_endpoint):
    endpoints = _stalled(make_endpoint)
    watch()
    apply_results([(e, ProbeResult(ok=True, response_ms=5.0)) for e in endpoints])
    assert watch() == []
    assert Alert.objects.get(alert_type="monitoring_gap").status == Status.RESOLVED


def test_a_stopped_collector_is_a_gap(db, settings):
    from metrics.models import Host

    settings.COLLECT_LOCAL_HOST = True
    Host.objects.create(
        hostname=settings.LOCAL_HOSTNAME,
        is_local=True,
        last_seen=timezone.now() - timedelta(minutes=10),
    )
    problems = watch()
    assert len(problems) == 1 and problems[0].startswith(
        f"no samples from {settings.LOCAL_HOSTNAME}"
    )


def test_a_lease_that_was_never_renewed_is_a_gap_not_an_error(db):
    """A lease row without a heartbeat (the admin leaves it blank) was compared with
    the clock and raised TypeError; it now says the scheduler has not run."""
    from opsconsole.models import SchedulerLease

    SchedulerLease.objects.create(name="ticker", holder="elsewhere", expires_at=timezone.now())
    assert watch() == ["the scheduler has not run since its lease was made"]

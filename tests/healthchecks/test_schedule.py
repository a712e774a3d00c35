"""Each endpoint at its own interval: what the ticker claims and what one cycle does."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from healthchecks.models import CheckResult, ServiceEndpoint
from healthchecks.runner import claim_due, run_checks
from opsconsole.ticker import Ticker, registered_jobs

pytestmark = pytest.mark.django_db


def test_a_new_endpoint_is_due_at_once_and_then_after_its_interval(make_endpoint):
    endpoint = make_endpoint(interval_seconds=10)
    now = timezone.now()
    assert claim_due(now) == [endpoint.pk]
    assert claim_due(now + timedelta(seconds=9)) == []
    assert claim_due(now + timedelta(seconds=10)) == [endpoint.pk]


def test_a_late_tick_does_not_drift_the_next_due_time(make_endpoint):
    endpoint = make_endpoint(interval_seconds=10)
    start = timezone.now()
    claim_due(start)
    claim_due(start + timedelta(seconds=13))  # three seconds late
    endpoint.refresh_from_db()
    assert endpoint.next_check_at == start + timedelta(seconds=20)


def test_disabled_endpoints_are_never_due(make_endpoint):
    make_endpoint(enabled=False)
    assert claim_due() == []


def test_endpoints_with_different_intervals_come_due_separately(make_endpoint):
    fast = make_endpoint("fast", interval_seconds=5)
    slow = make_endpoint("slow", interval_seconds=60)
    now = timezone.now()
    assert sorted(claim_due(now)) == sorted([fast.pk, slow.pk])
    assert claim_due(now + timedelta(seconds=5)) == [fast.pk]


def test_the_ticker_enqueues_one_cycle_for_the_due_endpoints(http_server, make_endpoint):
    for name in ("a", "b", "c"):
        make_endpoint(name, target=http_server.url(f"/{name}"))
    job = registered_jobs()["healthchecks.check"]
    ticker = Ticker(holder="t", jobs={"healthchecks.check": job})
    job.next_due = 0.0
    # Tasks run inline in tests, so the cycle has run when tick() returns.
    assert ticker.tick(time.time()) == ["healthchecks.check"]
    assert sorted(p for p in (r["path"] for r in http_server.received)) == ["/a", "/b", "/c"]
    assert set(ServiceEndpoint.objects.values_list("state", flat=True)) == {"up"}


def test_the_ticker_enqueues_nothing_when_nothing_is_due(make_endpoint):
    make_endpoint(next_check_at=timezone.now() + timedelta(minutes=5))
    job = registered_jobs()["healthchecks.check"]
    job.next_due = 0.0
    assert Ticker(holder="t", jobs={"healthchecks.check": job}).tick(time.time()) == []


def test_a_cycle_checks_every_endpoint_concurrently(http_server, make_endpoint):
    # Each answer takes 1 s; the server sees all five requests in flight at once.
    http_server.server.slow_seconds = 1.0
    for i in range(5):
        make_endpoint(f"slow-{i}", target=http_server.url("/slow"))
    cycle = run_checks()
    assert cycle.checked == 5
    assert http_server.server.most_in_flight == 5
    assert CheckResult.objects.filter(outcome="ok").count() == 5


def test_it_knows_how_long_until_the_next_check(make_endpoint):
    from healthchecks.runner import seconds_to_next_due

    now = timezone.now()
    assert seconds_to_next_due(now) is None
    make_endpoint("later", next_check_at=now + timedelta(seconds=40))
    assert seconds_to_next_due(now) == 40.0
    make_endpoint("new")  # never checked: due at once
    assert seconds_to_next_due(now) == 0.0


def test_between_due_times_the_ticker_does_not_ask_again(make_endpoint, django_assert_num_queries):
    from healthchecks import apps

    make_endpoint("later", next_check_at=timezone.now() + timedelta(minutes=5))
    apps._watched["at"] = time.monotonic()  # the self-watch is not due either
    assert apps._due() is None
    with django_assert_num_queries(0):
        assert apps._due() is None

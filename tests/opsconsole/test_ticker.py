from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.models import OrmQ

from opsconsole.models import SchedulerLease
from opsconsole.ticker import Job, Ticker

pytestmark = pytest.mark.django_db


def test_it_takes_a_free_lease_and_keeps_it():
    first = Ticker(holder="a", jobs={})
    assert first.acquire_lease()
    assert first.acquire_lease()  # renewing its own
    assert SchedulerLease.objects.get().holder == "a"


def test_it_leaves_a_held_lease_alone_until_it_lapses():
    Ticker(holder="a", jobs={}).acquire_lease()
    standby = Ticker(holder="b", jobs={})
    assert not standby.acquire_lease()
    SchedulerLease.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert standby.acquire_lease()
    assert SchedulerLease.objects.get().holder == "b"


def test_it_releases_the_lease_on_stop():
    ticker = Ticker(holder="a", jobs={})
    ticker.acquire_lease()
    ticker.release_lease()
    assert Ticker(holder="b", jobs={}).acquire_lease()


def _job(interval=5.0):
    return Job(name="probe", func="time.time", interval=lambda: interval)


def test_it_keeps_the_interval_without_drift(settings):
    job = _job(5.0)
    ticker = Ticker(holder="a", jobs={"probe": job})
    # q2 runs tasks inline in tests, so every enqueue is counted as a run.
    assert ticker.tick(1000.0) == ["probe"]
    assert job.next_due == 1005.0
    assert ticker.tick(1004.9) == []
    # Woken 0.7 s late: the next run is still due on the 5 s grid, not at 1010.7.
    assert ticker.tick(1005.7) == ["probe"]
    assert job.next_due == 1010.0
    # After a long pause it starts afresh instead of firing a burst of missed runs.
    assert ticker.tick(1100.0) == ["probe"]
    assert job.next_due == 1105.0
    assert job.runs == 3


def test_it_skips_a_job_while_the_queue_is_backed_up(monkeypatch):
    from opsconsole import ticker as ticker_module

    monkeypatch.setattr(ticker_module, "_queue_size", lambda broker: ticker_module.MAX_BACKLOG)
    job = _job()
    ticker = Ticker(holder="a", jobs={"probe": job})
    assert ticker.tick(1000.0) == []
    assert job.skipped == 1 and job.runs == 0
    assert OrmQ.objects.count() == 0

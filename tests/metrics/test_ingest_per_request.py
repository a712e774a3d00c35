"""Ingest per request: resent batches known by their id, duplicates skipped in one write,
per-process copies of tokens and hosts that never outlive a revocation or a disabled
host, the after-commit work coalesced, and /metrics bounded at fleet size.

Most tests here commit (``transaction=True``): the per-process copies are kept only for
committed rows, and on PostgreSQL a request of known hosts and series is written
outside a transaction, which a test wrapped in one never reaches.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from metrics import ingest
from metrics.exposition import host_series
from metrics.ingest import DUPLICATE_COUNTER, RESENT_COUNTER, get_latest
from metrics.models import Host, MetricSample, ProcessSample
from metrics.signals import samples_ingested
from opsconsole.counters import counter
from opsconsole.models import ApiToken
from tests.opsconsole.test_exposition import scrape, value

# One clock for the module's batches: the same step is the same sample time.
BASE = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
PROCESS = {"pid": 7, "name": "postgres", "cpu_percent": 1.5, "memory_percent": 2.0, "rss_bytes": 9}


def _batch(host="db-01", n=50, *, step=0, batch_id=None, processes=True):
    at = (BASE + timedelta(seconds=15 * step)).isoformat()
    batch = {
        "host": host,
        "samples": [
            {"metric": f"m_{i:02d}", "value": float(i + step), "time": at} for i in range(n)
        ],
        "processes": [PROCESS] if processes else [],
        "process_time": at,
    }
    if batch_id:
        batch["batch_id"] = batch_id
    return batch


@pytest.fixture
def agent(alice, token_for, api_client):
    return api_client(token_for(alice, "ingest"))


@pytest.mark.django_db(transaction=True)
def test_a_resent_batch_id_is_answered_as_stored_and_counted(agent):
    first = agent.post("/metrics", _batch(batch_id="batch-1"))
    assert first.status_code == 201 and first.json()["resent_batches"] == 0
    again = agent.post("/metrics", _batch(batch_id="batch-1"))
    assert again.status_code == 200, again.content
    assert again.json() | {"ingest_latency_ms": 0} == {
        "samples": 0,
        "processes": 0,
        "hosts": ["db-01"],
        "ingest_latency_ms": 0,
        "resent_batches": 1,
    }
    assert MetricSample.objects.count() == 50 and ProcessSample.objects.count() == 1
    assert counter(RESENT_COUNTER) == 1 and counter(DUPLICATE_COUNTER) == 0
    assert value(scrape()["opsconsole_ingest_resent_batches"]) == 1


@pytest.mark.django_db(transaction=True)
def test_postgresql_tells_a_resent_batch_by_its_write_without_a_cache_read(agent, monkeypatch):
    from django.core.cache import cache
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the array statement is PostgreSQL's; SQLite reads the batch ids")
    assert agent.post("/metrics", _batch(batch_id="batch-1")).status_code == 201
    reads: list = []
    get_many = cache.get_many

    def counted(keys):
        reads.append(keys)
        return get_many(keys)

    monkeypatch.setattr(cache, "get_many", counted)
    # The stored ids are gone (a restarted Redis): the write still knows the batch.
    cache.clear()
    again = agent.post("/metrics", _batch(batch_id="batch-1"))
    assert again.status_code == 200, again.content
    assert again.json()["resent_batches"] == 1 and again.json()["samples"] == 0
    # Its process row was not written a second time, and nothing was read first.
    assert MetricSample.objects.count() == 50 and ProcessSample.objects.count() == 1
    assert counter(RESENT_COUNTER) == 1 and counter(DUPLICATE_COUNTER) == 0
    assert reads == []
    # A new batch of the same agent is stored as usual.
    assert agent.post("/metrics", _batch(step=1, batch_id="batch-2")).status_code == 201
    assert ProcessSample.objects.count() == 2 and MetricSample.objects.count() == 100


@pytest.mark.django_db(transaction=True)
def test_a_request_with_a_resent_and_a_new_batch_stores_the_new_one(agent):
    assert agent.post("/metrics", _batch(batch_id="a")).status_code == 201
    body = {"batches": [_batch(batch_id="a"), _batch(step=1, batch_id="b")]}
    response = agent.post("/metrics", body)
    assert response.status_code == 201
    assert response.json()["samples"] == 50 and response.json()["resent_batches"] == 1
    assert MetricSample.objects.count() == 100 and ProcessSample.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_the_same_id_from_another_host_is_another_batch(agent):
    assert agent.post("/metrics", _batch("a", batch_id="same")).status_code == 201
    assert agent.post("/metrics", _batch("b", batch_id="same")).status_code == 201
    assert MetricSample.objects.count() == 100


@pytest.mark.django_db(transaction=True)
def test_a_batch_that_failed_leaves_its_id_unused(agent):
    bad = _batch(batch_id="retry-me")
    bad["samples"][3]["metric"] = "bad{label"
    assert agent.post("/metrics", bad).status_code == 400
    assert agent.post("/metrics", _batch(batch_id="retry-me")).status_code == 201
    assert MetricSample.objects.count() == 50


@pytest.mark.django_db(transaction=True)
def test_a_repeat_without_batch_id_is_skipped_in_one_write_and_counted(agent):
    """Old agents send no id: the stored samples are kept, the repeat's are skipped."""
    assert agent.post("/metrics", _batch(processes=False)).status_code == 201
    partly = _batch(n=60, processes=False)  # the same 50 and ten new series
    assert agent.post("/metrics", partly).status_code == 201
    assert MetricSample.objects.count() == 60
    assert counter(DUPLICATE_COUNTER) == 50
    assert value(scrape()["opsconsole_ingest_duplicate_samples"]) == 50


@pytest.mark.parametrize(
    "bad",
    ["", "x" * 65, "has space", "semi;colon"],
)
def test_a_malformed_batch_id_is_a_422(agent, bad):
    response = agent.post("/metrics", _batch(batch_id=None) | {"batch_id": bad})
    assert response.status_code == 422, response.content
    assert MetricSample.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_revoked_token_is_refused_at_once_though_kept_per_process(alice, token_for, api_client):
    raw = token_for(alice, "ingest")
    agent = api_client(raw)
    assert agent.post("/metrics", _batch(step=0)).status_code == 201
    assert agent.post("/metrics", _batch(step=1)).status_code == 201  # from the copy
    token = ApiToken.objects.get()
    token.revoked = True
    token.save()
    assert agent.post("/metrics", _batch(step=2)).status_code == 401


@pytest.mark.django_db(transaction=True)
def test_the_admins_revoke_action_reaches_every_copy(alice, token_for, api_client, monkeypatch):
    from django.contrib.admin.sites import site

    from opsconsole.admin import ApiTokenAdmin

    agent = api_client(token_for(alice, "ingest"))
    assert agent.post("/metrics", _batch()).status_code == 201
    admin = site._registry[ApiToken]
    assert isinstance(admin, ApiTokenAdmin)
    monkeypatch.setattr(admin, "message_user", lambda *args, **kwargs: None)
    admin.revoke(None, ApiToken.objects.all())  # a queryset update: no signal
    assert agent.post("/metrics", _batch(step=1)).status_code == 401


@pytest.mark.django_db(transaction=True)
def test_a_token_whose_owner_loses_the_role_is_refused(bob, token_for, api_client):
    from django.contrib.auth.models import Group

    bob.groups.set([Group.objects.get_or_create(name="Admins")[0]])
    agent = api_client(token_for(bob, "ingest"))
    assert agent.post("/metrics", _batch()).status_code == 201
    bob.groups.clear()
    assert agent.post("/metrics", _batch(step=1)).status_code == 403


@pytest.mark.django_db(transaction=True)
def test_a_host_disabled_after_it_was_kept_is_refused(agent, monkeypatch):
    from django.contrib.admin.sites import site

    from metrics.admin import HostAdmin

    assert agent.post("/metrics", _batch()).status_code == 201
    assert "db-01" in ingest._hosts.fresh()  # kept once its request committed
    admin = site._registry[Host]
    assert isinstance(admin, HostAdmin)
    monkeypatch.setattr(admin, "message_user", lambda *args, **kwargs: None)
    admin.disable(None, Host.objects.filter(hostname="db-01"))
    response = agent.post("/metrics", _batch(step=1))
    assert response.status_code == 400 and "disabled" in response.json()["detail"]
    host = Host.objects.get()
    host.enabled = True
    host.save()
    assert agent.post("/metrics", _batch(step=2)).status_code == 201
    assert MetricSample.objects.count() == 100


@pytest.mark.django_db(transaction=True)
def test_known_hosts_move_last_seen_forward_only(agent):
    assert agent.post("/metrics", _batch(step=4)).status_code == 201
    newest = Host.objects.get().last_seen
    assert newest is not None
    assert agent.post("/metrics", _batch(step=1)).status_code == 201  # an older backlog
    assert Host.objects.get().last_seen == newest
    assert agent.post("/metrics", _batch(step=9)).status_code == 201
    assert Host.objects.get().last_seen == newest + timedelta(seconds=75)
    # Processes and samples of the known host's requests all arrived.
    assert MetricSample.objects.count() == 150 and ProcessSample.objects.count() == 3
    assert ProcessSample.objects.filter(name="postgres", rss_bytes=9).count() == 3


@pytest.mark.django_db(transaction=True)
def test_the_after_commit_work_is_coalesced_per_interval(agent, settings):
    """With an interval, batches of many requests are announced together: one signal
    per host with its newest values, the latest cache written once."""
    settings.INGEST_ANNOUNCE_SECONDS = 3600  # the thread waits; the test flushes
    heard = []

    def receiver(sender, host, time, values, **kwargs):
        heard.append((host.hostname, time, values.get("m_00")))

    samples_ingested.connect(receiver, dispatch_uid="test.coalesced")
    try:
        for step in range(3):
            assert agent.post("/metrics", _batch("a", step=step)).status_code == 201
        assert agent.post("/metrics", _batch("b", step=5)).status_code == 201
        assert heard == []
        assert get_latest(Host.objects.get(hostname="a"))["time"] is None
        ingest.announcer.flush()
    finally:
        samples_ingested.disconnect(dispatch_uid="test.coalesced")
        settings.INGEST_ANNOUNCE_SECONDS = 0
    newest = {host.hostname: host.last_seen for host in Host.objects.all()}
    assert sorted(heard) == [("a", newest["a"], 2.0), ("b", newest["b"], 5.0)]
    latest = get_latest(Host.objects.get(hostname="a"))
    assert latest["values"]["m_00"] == 2.0 and latest["processes"][0]["name"] == "postgres"


def test_metrics_stay_bounded_at_2000_hosts(db, settings):
    """Hosts not seen within METRICS_HOST_SERIES_MAX_AGE leave /metrics; per-host
    series can be switched off, leaving the fleet counts."""
    from django.core.cache import cache

    settings.METRICS_HOST_SERIES_MAX_AGE = 3600
    now = timezone.now()
    Host.objects.bulk_create(
        Host(hostname=f"h-{i:04d}", last_seen=now - timedelta(hours=0 if i < 500 else 5))
        for i in range(2000)
    )
    values = {
        "cpu_usage_percent": 1.0,
        "memory_usage_percent": 2.0,
        'disk_usage_percent{mount="/"}': 3.0,
    }
    cache.set_many(
        {
            ingest.latest_cache_key(host.pk): {"time": now.isoformat(), "values": values}
            for host in Host.objects.all()
        }
    )
    text = "".join(rendered.text for rendered in host_series())
    per_host = sum(len(family.samples) for family in text_string_to_metric_families(text))
    assert per_host == 500 * (1 + len(values))  # last seen + each series, reporting hosts only
    metrics = scrape()
    assert len({s.labels["host"] for s in metrics["opsconsole_host_cpu_usage_percent"]}) == 500
    assert value(metrics["opsconsole_hosts"], state="enabled") == 2000
    assert value(metrics["opsconsole_hosts_reporting"]) == 500
    settings.METRICS_HOST_SERIES = False
    body = Client().get("/metrics").content.decode()
    assert "h-0001" not in body
    assert value(scrape()["opsconsole_hosts_reporting"]) == 500


@pytest.mark.django_db(transaction=True)
def test_a_kept_host_deleted_by_another_process_is_read_again(agent):
    from django.db import connection

    assert agent.post("/metrics", _batch(processes=False)).status_code == 201
    assert "db-01" in ingest._hosts.fresh()
    # Another process removes the host: no signal reaches this one.
    with connection.cursor() as cursor:
        for model in (MetricSample, ProcessSample, Host):
            cursor.execute(f"DELETE FROM {model._meta.db_table}")
    response = agent.post("/metrics", _batch(step=1, processes=False))
    assert response.status_code == 201, response.content
    assert MetricSample.objects.filter(host__hostname="db-01").count() == 50


@pytest.mark.django_db
@pytest.mark.parametrize("body", [[], "x", 5, [{"host": "db-01"}]])
def test_a_body_that_is_not_an_object_is_refused_with_what_to_send(agent, body):
    answer = agent.post("/metrics", body)
    assert answer.status_code == 422, answer.content
    assert "the body must be a JSON object" in answer.content.decode()
    assert "IngestIn" not in answer.content.decode()

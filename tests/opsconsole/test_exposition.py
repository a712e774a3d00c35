"""GET /metrics: Prometheus text format, parsed back with prometheus_client's parser."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone
from django_q.tasks import async_task
from prometheus_client.parser import text_string_to_metric_families

from alerts.service import AlertService
from opsconsole import exposition
from opsconsole.exposition import register_series
from tests.metrics.helpers import store


def scrape(client: Client | None = None, **headers) -> dict[str, list]:
    response = (client or Client()).get("/metrics", headers=headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    families = text_string_to_metric_families(response.content.decode())
    return {family.name: family.samples for family in families}


def value(samples, **labels) -> float:
    (match,) = [s.value for s in samples if all(s.labels.get(k) == v for k, v in labels.items())]
    return match


@pytest.fixture
def sections():
    """Sections registered by a test are gone after it."""
    before = exposition.registered_series()
    yield
    exposition._sections.clear()
    exposition._sections.update(before)


def test_it_serves_each_hosts_latest_vitals(db):
    now = timezone.now()
    store(
        "web-01",
        {"cpu_usage_percent": [(now, 42.5)], 'disk_usage_percent{mount="/"}': [(now, 71.0)]},
    )
    store("db-01", {"cpu_usage_percent": [(now, 7.0)]})
    metrics = scrape()
    assert value(metrics["opsconsole_host_cpu_usage_percent"], host="web-01") == 42.5
    assert value(metrics["opsconsole_host_cpu_usage_percent"], host="db-01") == 7.0
    assert value(metrics["opsconsole_host_disk_usage_percent"], host="web-01", mount="/") == 71.0


def test_a_host_not_seen_for_longer_than_the_setting_leaves_its_series(db, settings):
    from datetime import timedelta

    settings.METRICS_HOST_SERIES_MAX_AGE = 600
    now = timezone.now()
    store("web-01", {"cpu_usage_percent": [(now, 42.5)]})
    store("gone-01", {"cpu_usage_percent": [(now - timedelta(minutes=11), 9.0)]})
    metrics = scrape()
    hosts = {s.labels["host"] for s in metrics["opsconsole_host_cpu_usage_percent"]}
    assert hosts == {"web-01"}
    seen = {s.labels["host"] for s in metrics["opsconsole_host_last_seen_timestamp_seconds"]}
    assert seen == {"web-01"}
    assert value(metrics["opsconsole_hosts"], state="enabled") == 2
    assert value(metrics["opsconsole_hosts_reporting"]) == 1


def test_per_host_series_can_be_turned_off(db, settings):
    settings.METRICS_HOST_SERIES = False
    store("web-01", {"cpu_usage_percent": [(timezone.now(), 42.5)]})
    metrics = scrape()
    assert not [name for name in metrics if name.startswith("opsconsole_host_")]
    assert value(metrics["opsconsole_hosts_reporting"]) == 1


def test_it_counts_alerts_by_status_and_severity(db):
    service = AlertService()
    service.create_system_alert("cpu_usage_percent", 99, 50, "web-01")  # critical
    resolved = service.create_system_alert("memory_usage_percent", 99, 50, "web-01")
    service.resolve_alert(resolved.pk, "alice")
    alerts = scrape()["opsconsole_alerts"]
    assert value(alerts, status="active", severity="critical") == 1
    assert value(alerts, status="resolved", severity="critical") == 1
    assert value(alerts, status="active", severity="info") == 0


def test_it_reports_the_ingest_rate_over_the_last_minute(db):
    now = timezone.now()
    store("web-01", {"cpu_usage_percent": [(now, 1.0)], "load_1m": [(now, 0.5)]})
    assert scrape()["opsconsole_ingest_samples_per_second"][0].value == 2 / 60


def test_it_reports_job_durations_and_failures(db):
    async_task("tests.opsconsole.boom_urls.quiet_task")
    async_task("tests.opsconsole.boom_urls.quiet_task")
    metrics = scrape()
    job = "tests.opsconsole.boom_urls.quiet_task"
    # Labelled task, not job: Prometheus would rename a series' own job label.
    assert value(metrics["opsconsole_job_runs"], task=job) == 2
    assert value(metrics["opsconsole_job_failures"], task=job) == 0
    assert value(metrics["opsconsole_job_last_duration_seconds"], task=job) >= 0


def test_it_reports_the_queue_length(db):
    assert value(scrape()["opsconsole_queue_length"], broker="orm") == 0


def test_another_app_adds_its_series_through_the_registry(db, sections):
    from prometheus_client.core import GaugeMetricFamily

    def endpoint_series():
        family = GaugeMetricFamily("opsconsole_endpoint_up", "Endpoint answering.", labels=["name"])
        family.add_metric(["api"], 1)
        yield family

    register_series("endpoints", endpoint_series)
    assert value(scrape()["opsconsole_endpoint_up"], name="api") == 1


def test_a_failing_section_is_left_out_and_the_rest_served(db, sections):
    def broken():
        raise RuntimeError("boom")
        yield

    register_series("broken", broken)
    metrics = scrape()
    assert value(metrics["opsconsole_scrape_errors"], section="broken") == 1
    assert "opsconsole_alerts" in metrics


def test_it_refuses_a_scrape_without_the_token_when_one_is_set(db, settings):
    settings.METRICS_TOKEN = "scrape-secret"
    response = Client().get("/metrics")
    assert response.status_code == 401
    assert response.content.decode().count("\n") == 1


def test_it_refuses_a_wrong_token(db, settings):
    settings.METRICS_TOKEN = "scrape-secret"
    response = Client().get("/metrics", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401


def test_it_serves_a_scrape_with_the_token(db, settings):
    settings.METRICS_TOKEN = "scrape-secret"
    assert "opsconsole_alerts" in scrape(Authorization="Bearer scrape-secret")


def test_it_exposes_the_web_processes_open_sockets(db):
    # No page is open in a test process: the family is there, with no sample yet.
    assert scrape()["opsconsole_websocket_clients"] == []


def test_every_series_the_readme_says_to_watch_is_served(db):
    """README, "What to watch on /metrics": an operator copies these names into alerts
    and dashboards, so each must be a series this console serves."""
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("#### What to watch on /metrics", 1)[1].split("\n#### ", 1)[0]
    named = set(re.findall(r"\b(opsconsole_[a-z_]+)", section))
    assert len(named) >= 10, named
    now = timezone.now()
    store("web-01", {"cpu_usage_percent": [(now, 12.0)]})
    async_task("alerts.tasks.evaluate", sync=True)
    served = set()
    for name, samples in scrape().items():
        served.add(name)
        served.update(sample.name for sample in samples)
    assert named <= served, sorted(named - served)


def test_the_host_series_text_is_what_prometheus_client_writes_for_the_same_families(db):
    """The host section writes its lines itself (``Rendered``); they must be byte for byte
    what prometheus_client writes for the same families: sorted labels (one before
    ``host``, one after), escaped values, a pushed ``host`` label renamed, a millisecond
    metric in seconds and Go's exponent form for a large number."""
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.core import GaugeMetricFamily, Metric

    from metrics import catalog
    from metrics.catalog import series_key
    from metrics.exposition import host_series, prometheus_name, prometheus_scale
    from metrics.ingest import get_latest
    from metrics.models import Host

    now = timezone.now()
    awkward = 'a "quoted" \\ backslash'
    series = {
        "cpu_usage_percent": [(now, 42.5)],
        'disk_usage_percent{mount="/"}': [(now, 71.0)],
        series_key("net_bytes", {"device": "eth0", "zone": awkward}): [(now, 123456789.0)],
        'pushed_gauge{host="elsewhere"}': [(now, 0.1)],
        "query_time_ms": [(now, 250.0)],
    }
    store("web-01", series)
    store('odd "host" \\ name', {"cpu_usage_percent": [(now, 7.0)]})

    families: dict[str, Metric] = {}
    seen = GaugeMetricFamily(
        "opsconsole_host_last_seen_timestamp_seconds",
        "When the host's newest sample was taken (Unix time).",
        labels=["host"],
    )
    ingest = GaugeMetricFamily(
        "opsconsole_host_ingest_latency_seconds",
        "Time from receiving the host's last batch to committing it.",
        labels=["host"],
    )
    for host in Host.objects.all():  # the default ordering, as the section reads them
        assert host.last_seen is not None
        seen.add_metric([host.hostname], host.last_seen.timestamp())
        latest = get_latest(host)
        ingest.add_metric([host.hostname], latest["ingest_latency_ms"] / 1000)
        for key, number in latest["values"].items():
            if key == "ingest_latency_ms":
                continue
            name, labels = catalog.parse_key(key)
            own = {("exported_" + k if k == "host" else k): v for k, v in labels.items()}
            family_name = prometheus_name(name)
            family = families.setdefault(
                family_name, Metric(family_name, catalog.describe(name) or name, "gauge")
            )
            family.add_sample(
                family_name, {"host": host.hostname, **own}, number * prometheus_scale(name)
            )

    class Built:
        def collect(self):
            return [seen, ingest, *(families[name] for name in sorted(families))]

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Built())
    expected = generate_latest(registry).decode()
    ours = "".join(rendered.text for rendered in host_series())
    assert 'zone="a \\"quoted\\" \\\\ backslash"' in ours
    assert "1.23456789e+08" in ours
    assert "opsconsole_host_query_time_seconds" in ours
    assert ours == expected


def test_a_pushed_series_named_like_the_consoles_own_host_families_is_not_a_second_family(db):
    now = timezone.now()
    store(
        "web-01",
        {
            "ingest_latency_ms": [(now, 5.0)],
            'ingest_latency_ms{stage="parse"}': [(now, 2.0)],
            "last_seen_timestamp_seconds": [(now, 1.0)],
            "cpu_usage_percent": [(now, 42.5)],
        },
    )
    body = Client().get("/metrics").content.decode()
    for family in (
        "opsconsole_host_ingest_latency_seconds",
        "opsconsole_host_last_seen_timestamp_seconds",
    ):
        assert body.count(f"# TYPE {family} gauge") == 1
    metrics = scrape()
    assert len(metrics["opsconsole_host_ingest_latency_seconds"]) == 1
    assert value(metrics["opsconsole_host_cpu_usage_percent"], host="web-01") == 42.5

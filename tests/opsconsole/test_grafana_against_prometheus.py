"""Every panel of the exported Grafana dashboard shows data when a real Prometheus
(Debian's package) scrapes a console with the README's own scrape config, and
``promtool check metrics`` finds nothing to say about ``/metrics``."""

from __future__ import annotations

import subprocess
import time
from datetime import timedelta

import httpx
import pytest
from django.test import Client
from django.utils import timezone
from django_q.tasks import async_task

from alerts.service import AlertService
from metrics.tasks import collect_local
from notifications.models import NotificationChannel
from opsconsole.grafana import dashboard
from opsconsole.promquery import PrometheusError, query
from tests.opsconsole.prometheus import (
    PROMETHEUS,
    PROMTOOL,
    require_binaries,
    running_prometheus,
    scrape_config,
)


@pytest.fixture(autouse=True)
def _binaries():
    # Skipped where they are not installed; a failure under CI, which installs them.
    require_binaries(prometheus=PROMETHEUS, promtool=PROMTOOL)


def _a_console_with_something_in_every_panel():
    collect_local()  # the console's own host, with its database and ingest timings
    AlertService().create_system_alert("cpu_usage_percent", 99, 50, "web-01")
    NotificationChannel.objects.create(name="screen", kind="dashboard")
    NotificationChannel.objects.create(
        name="pager", kind="dashboard", circuit_open_until=timezone.now() + timedelta(hours=1)
    )
    # The jobs the console panels name, run (inline in the tests) so their figures exist.
    async_task("alerts.tasks.evaluate")
    async_task("metrics.tasks.collect_local")


@pytest.fixture
def prometheus_server(tmp_path, live_server):
    # The README's scrape job, as an operator copies it (no METRICS_TOKEN set).
    target = live_server.url.split("://", 1)[1]
    config = tmp_path / "prometheus.yml"
    config.write_text(scrape_config(target))
    with running_prometheus(config, tmp_path / "data") as url:
        yield url


def _panel_queries() -> list[tuple[str, str]]:
    return [
        (panel["title"], target["expr"].replace("$host", ".+"))
        for panel in dashboard()["panels"]
        for target in panel.get("targets", [])
    ]


def test_every_panel_query_returns_data(transactional_db, prometheus_server):
    _a_console_with_something_in_every_panel()
    queries = _panel_queries()
    assert len(queries) > 10
    missing = dict(queries)
    deadline = time.monotonic() + 90
    # increase() over a counter needs two scrapes; Prometheus scrapes every second.
    while missing and time.monotonic() < deadline:
        for title, expr in list(missing.items()):
            try:
                if query(expr, base_url=prometheus_server):
                    del missing[title]
            except (httpx.HTTPError, PrometheusError):
                pass
        time.sleep(1)
    assert not missing, f"panels with no data: {missing}"


def test_promtool_finds_nothing_to_say_about_the_metrics(db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _a_console_with_something_in_every_panel()
    from healthchecks.models import ServiceEndpoint

    ServiceEndpoint.objects.create(
        name="api", target="http://127.0.0.1:9/", last_response_ms=12.0, state="up"
    )
    text = Client().get("/metrics").content
    assert PROMTOOL is not None  # else the fixture above skipped the test
    checked = subprocess.run(
        [PROMTOOL, "check", "metrics"], input=text, capture_output=True, timeout=60
    )
    assert checked.returncode == 0, (checked.stdout + checked.stderr).decode()
    assert b"opsconsole_host_collector_duration_seconds" in text
    assert b"opsconsole_host_processes{" in text and b"opsconsole_endpoint_response_seconds" in text

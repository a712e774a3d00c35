"""A real Prometheus (Debian's package) scrapes GET /metrics of a running console."""

from __future__ import annotations

import time

import httpx
import pytest

from alerts.service import AlertService
from opsconsole.promquery import PrometheusError, query
from tests.opsconsole.prometheus import (
    PROMETHEUS,
    require_binaries,
    running_prometheus,
    scrape_config,
)


@pytest.fixture
def prometheus_server(tmp_path, live_server, settings):
    require_binaries(prometheus=PROMETHEUS)
    settings.METRICS_TOKEN = "scrape-token-123"
    target = live_server.url.split("://", 1)[1]
    config = tmp_path / "prometheus.yml"
    config.write_text(scrape_config(target, token="scrape-token-123"))
    with running_prometheus(config, tmp_path / "data") as url:
        yield url


def wait_for(check, seconds: float = 60):
    """Poll until check() returns something truthy; Prometheus scrapes every second."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            found = check()
        except (httpx.HTTPError, PrometheusError):  # not listening yet
            found = None
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def test_a_real_prometheus_scrapes_the_console(transactional_db, prometheus_server):
    AlertService().create_system_alert("cpu_usage_percent", 99, 50, "web-01")

    def critical_active():
        series = query(
            'opsconsole_alerts{status="active",severity="critical"}', base_url=prometheus_server
        )
        return series[0].points[0][1] if series else None

    assert wait_for(critical_active) == 1.0
    up = query('up{job="opsconsole"}', base_url=prometheus_server)
    assert up[0].points[0][1] == 1.0

"""manage.py export_grafana_dashboard: a Grafana dashboard over the /metrics series."""

from __future__ import annotations

import json
import re

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone
from django_q.tasks import async_task
from prometheus_client.parser import text_string_to_metric_families

from alerts.service import AlertService
from notifications.models import NotificationChannel
from tests.metrics.helpers import store


def export(tmp_path) -> dict:
    out = tmp_path / "dashboard.json"
    call_command("export_grafana_dashboard", "--output", str(out))
    return json.loads(out.read_text())


def test_it_writes_panels_for_cpu_memory_network_alerts_and_latency(tmp_path):
    titles = {panel["title"] for panel in export(tmp_path)["panels"]}
    assert {"CPU", "Memory", "Network", "Open alerts by severity", "Ingest latency"} <= titles


def test_every_series_a_panel_queries_is_served_by_metrics(db, tmp_path):
    now = timezone.now()
    keys = [
        "cpu_usage_percent",
        "memory_usage_percent",
        'disk_usage_percent{mount="/"}',
        "load_1m",
        "network_received_bytes_per_second",
        "network_sent_bytes_per_second",
        "ingest_latency_ms",
        "database_query_ms",
        "database_connect_ms",
    ]
    store("web-01", {key: [(now, 1.0)] for key in keys})
    AlertService().create_system_alert("cpu_usage_percent", 99, 50, "web-01")
    # Per-channel series exist once a channel does.
    NotificationChannel.objects.create(name="screen", kind="dashboard")
    async_task("tests.opsconsole.boom_urls.quiet_task")
    text = Client().get("/metrics").content.decode()
    served = {s.name for f in text_string_to_metric_families(text) for s in f.samples}
    wanted = {
        name
        for panel in export(tmp_path)["panels"]
        for target in panel.get("targets", [])
        for name in re.findall(r"\bopsconsole_[a-z0-9_]+", target["expr"])
    }
    assert wanted and wanted <= served, wanted - served


def test_it_asks_for_the_prometheus_data_source_on_import(tmp_path):
    board = export(tmp_path)
    assert board["__inputs"][0]["pluginId"] == "prometheus"
    panel = next(p for p in board["panels"] if p["type"] != "row")
    assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}"


def test_an_unwritable_output_is_one_readable_error(tmp_path):
    with pytest.raises(CommandError, match="cannot write"):
        call_command("export_grafana_dashboard", "--output", str(tmp_path / "no" / "such.json"))

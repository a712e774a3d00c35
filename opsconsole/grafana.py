"""A Grafana dashboard over the series of ``GET /metrics``.

Panels are registered like the series they show: an app that adds series to
``/metrics`` (notifications per channel, endpoint health) adds its panels with
``register_panel`` from its ``AppConfig.ready``, and the next export has them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DATASOURCE = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}


@dataclass
class Panel:
    title: str
    # (PromQL, legend) pairs; $host is the dashboard's host variable.
    targets: list[tuple[str, str]]
    unit: str = "short"
    kind: str = "timeseries"
    row: str = "System"
    description: str = ""
    width: int = 12
    options: dict = field(default_factory=dict)


_panels: list[Panel] = []


def register_panel(panel: Panel) -> None:
    _panels[:] = [existing for existing in _panels if existing.title != panel.title] + [panel]


def registered_panels() -> list[Panel]:
    return list(_panels)


ROWS = ["System", "Alerts", "Notifications", "Console", "Latency"]

for _panel in [
    Panel("CPU", [('opsconsole_host_cpu_usage_percent{host=~"$host"}', "{{host}}")], "percent"),
    Panel(
        "Memory", [('opsconsole_host_memory_usage_percent{host=~"$host"}', "{{host}}")], "percent"
    ),
    Panel(
        "Disk space",
        [('opsconsole_host_disk_usage_percent{host=~"$host"}', "{{host}} {{mount}}")],
        "percent",
    ),
    Panel("Load (1 min)", [('opsconsole_host_load_1m{host=~"$host"}', "{{host}}")], "short"),
    Panel(
        "Network",
        [
            ('opsconsole_host_network_received_bytes_per_second{host=~"$host"}', "{{host}} in"),
            ('opsconsole_host_network_sent_bytes_per_second{host=~"$host"}', "{{host}} out"),
        ],
        "Bps",
    ),
    Panel(
        "Host last seen",
        [('time() - opsconsole_host_last_seen_timestamp_seconds{host=~"$host"}', "{{host}}")],
        "s",
        description="Seconds since the newest sample: a silent agent shows here first.",
    ),
    Panel(
        "Open alerts by severity",
        [
            (
                'sum by (severity) (opsconsole_alerts{status=~"active|acknowledged"})',
                "{{severity}}",
            )
        ],
        row="Alerts",
    ),
    Panel(
        "Alerts by status",
        [("sum by (status) (opsconsole_alerts)", "{{status}}")],
        row="Alerts",
        kind="bargauge",
    ),
    Panel(
        "Rules and silences",
        [
            ('opsconsole_alert_rules{state="enabled"}', "enabled rules"),
            ("opsconsole_silences_in_force", "silences"),
        ],
        row="Alerts",
        kind="stat",
    ),
    Panel(
        "Evaluation and collection time",
        [
            (
                'opsconsole_job_last_duration_seconds{task=~"alerts.tasks.evaluate|'
                'metrics.tasks.collect_local"}',
                "{{task}}",
            )
        ],
        "s",
        row="Console",
    ),
    Panel(
        "Job failures",
        [("sum by (task) (increase(opsconsole_job_failures_total[15m]))", "{{task}}")],
        row="Console",
    ),
    Panel(
        "Ingest rate",
        [("opsconsole_ingest_samples_per_second", "samples/s")],
        "short",
        row="Console",
    ),
    Panel("Queue length", [("opsconsole_queue_length", "{{broker}}")], row="Console"),
    Panel(
        "Ingest latency",
        [('opsconsole_host_ingest_latency_seconds{host=~"$host"}', "{{host}}")],
        "s",
        row="Latency",
    ),
    Panel(
        "Database latency",
        [
            ('opsconsole_host_database_query_seconds{host=~"$host"}', "query {{host}}"),
            ('opsconsole_host_database_connect_seconds{host=~"$host"}', "connect {{host}}"),
        ],
        "s",
        row="Latency",
    ),
]:
    register_panel(_panel)


def _panel_json(panel: Panel, panel_id: int, x: int, y: int) -> dict:
    return {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": DATASOURCE,
        "gridPos": {"h": 8, "w": panel.width, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
        "options": panel.options,
        "targets": [
            {
                "refId": chr(ord("A") + index),
                "expr": expr,
                "legendFormat": legend,
                "datasource": DATASOURCE,
            }
            for index, (expr, legend) in enumerate(panel.targets)
        ],
    }


def dashboard(title: str = "OpsConsole") -> dict:
    """Grafana's dashboard JSON, ready for Dashboards > Import (asks for the data source)."""
    panels: list[dict] = []
    panel_id, y = 1, 0
    rows = ROWS + sorted({p.row for p in _panels} - set(ROWS))
    for row in rows:
        members = [p for p in _panels if p.row == row]
        if not members:
            continue
        panels.append(
            {
                "id": panel_id,
                "type": "row",
                "title": row,
                "collapsed": False,
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
                "panels": [],
            }
        )
        panel_id, y, x = panel_id + 1, y + 1, 0
        for panel in members:
            if x + panel.width > 24:
                x, y = 0, y + 8
            panels.append(_panel_json(panel, panel_id, x, y))
            panel_id, x = panel_id + 1, x + panel.width
        y += 8
    return {
        "__inputs": [
            {
                "name": "DS_PROMETHEUS",
                "label": "Prometheus",
                "type": "datasource",
                "pluginId": "prometheus",
                "pluginName": "Prometheus",
            }
        ],
        "title": title,
        "uid": "opsconsole",
        "tags": ["opsconsole"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {
            "list": [
                {
                    "name": "host",
                    "label": "Host",
                    "type": "query",
                    "datasource": DATASOURCE,
                    "query": "label_values(opsconsole_host_last_seen_timestamp_seconds, host)",
                    "refresh": 2,
                    "multi": True,
                    "includeAll": True,
                    "current": {"text": "All", "value": "$__all"},
                }
            ]
        },
        "panels": panels,
    }

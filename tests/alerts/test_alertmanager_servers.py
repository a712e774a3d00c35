"""A real Prometheus and a real Alertmanager (Debian's packages) post to a served console:
a rule fires, Alertmanager posts it, the console shows it; the rule clears, it resolves.

Everything listens on loopback: a gauge this test sets, Prometheus scraping it every
second and evaluating its rule every second, Alertmanager with one-second timers.
"""

from __future__ import annotations

import time

import httpx
import pytest

from tests.loopback import QuietHandler, serving
from tests.opsconsole.prometheus import (
    ALERTMANAGER,
    PROMETHEUS,
    require_binaries,
    running_alertmanager,
    running_prometheus,
)

ALERT_TYPE = "alertmanager:BackupsFailing"
RULES = """\
groups:
  - name: opsconsole-test
    interval: 1s
    rules:
      - alert: BackupsFailing
        expr: backup_failed == 1
        labels: {severity: page, team: storage}
        annotations:
          summary: "backups fail on {{ $labels.instance }}"
          description: "The nightly backup job reports a failure."
          runbook_url: "https://runbooks.invalid/backups"
"""


class Gauge:
    """``/metrics`` with one gauge, ``backup_failed``, whose value the test sets."""

    value = 0
    target = ""

    def handler(self) -> type[QuietHandler]:
        gauge = self

        class Handler(QuietHandler):
            def do_GET(self):
                body = f"# TYPE backup_failed gauge\nbackup_failed {gauge.value}\n".encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler


@pytest.fixture
def gauge():
    gauge = Gauge()
    with serving(gauge.handler()) as server:
        gauge.target = f"127.0.0.1:{server.server_address[1]}"
        yield gauge


def wait_for(check, seconds: float = 90):
    """Poll until check() gives something truthy, or None after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.5)
    return None


def test_a_firing_rule_reaches_the_console_and_resolves_there(
    transactional_db, live_server, bob, token_for, gauge, tmp_path, request
):
    require_binaries(prometheus=PROMETHEUS, **{"prometheus-alertmanager": ALERTMANAGER})
    webhook = f"{live_server.url}/api/v1/integrations/alertmanager"
    (tmp_path / "alertmanager.yml").write_text(
        "global: {resolve_timeout: 10s}\n"
        "route:\n"
        "  receiver: opsconsole\n"
        "  group_by: [alertname]\n"
        "  group_wait: 1s\n"
        "  group_interval: 1s\n"
        "  repeat_interval: 1h\n"
        "receivers:\n"
        "  - name: opsconsole\n"
        "    webhook_configs:\n"
        f"      - url: {webhook}\n"
        "        send_resolved: true\n"
        "        http_config:\n"
        f"          authorization: {{credentials: {token_for(bob, 'ingest')}}}\n"
    )
    (tmp_path / "rules.yml").write_text(RULES)
    reader = httpx.Client(
        base_url=f"{live_server.url}/api/v1",
        headers={"Authorization": f"Bearer {token_for(bob, 'read')}"},
        timeout=10,
    )
    request.addfinalizer(reader.close)  # its open connection would hold a database session

    def console_alert(status: str):
        found = reader.get("/alerts", params={"status": status, "q": "BackupsFailing"})
        return next((a for a in found.json()["items"] if a["alert_type"] == ALERT_TYPE), None)

    with running_alertmanager(tmp_path / "alertmanager.yml", tmp_path / "am-data") as am_url:
        (tmp_path / "prometheus.yml").write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            "rule_files: [rules.yml]\n"
            "alerting:\n"
            "  alertmanagers:\n"
            f"    - static_configs: [{{targets: ['{am_url.split('://', 1)[1]}']}}]\n"
            "scrape_configs:\n"
            "  - job_name: backups\n"
            f"    static_configs: [{{targets: ['{gauge.target}']}}]\n"
        )
        with running_prometheus(
            tmp_path / "prometheus.yml",
            tmp_path / "prom-data",
            "--web.external-url=http://127.0.0.1",
        ):
            gauge.value = 1
            fired = wait_for(lambda: console_alert("active"))
            assert fired is not None, "no alert reached the console from Alertmanager"
            assert fired["title"] == f"BackupsFailing: backups fail on {gauge.target}"
            assert fired["severity"] == "critical"  # severity "page"
            assert fired["resource"] == gauge.target
            assert fired["labels"]["team"] == "storage"
            detail = reader.get(f"/alerts/{fired['id']}").json()
            assert detail["message"] == "The nightly backup job reports a failure."
            assert detail["metadata"]["runbook_url"] == "https://runbooks.invalid/backups"
            assert detail["metadata"]["generator_url"].startswith("http://127.0.0.1/graph?g0.expr=")
            assert detail["first_seen"] <= detail["last_seen"]

            gauge.value = 0
            resolved = wait_for(lambda: console_alert("resolved"))
            assert resolved is not None, "the cleared rule did not resolve the console's alert"
            assert resolved["id"] == fired["id"]
            assert resolved["resolved_by"] == "alertmanager"
            assert console_alert("active") is None


def test_missing_binaries_skip_here_and_fail_where_ci_requires_them(monkeypatch):
    monkeypatch.delenv("OPSCONSOLE_REQUIRE_PROMETHEUS", raising=False)
    with pytest.raises(pytest.skip.Exception, match="not installed: prometheus-alertmanager"):
        require_binaries(prometheus="/usr/bin/prometheus", **{"prometheus-alertmanager": None})
    monkeypatch.setenv("OPSCONSOLE_REQUIRE_PROMETHEUS", "1")
    with pytest.raises(pytest.fail.Exception, match="OPSCONSOLE_REQUIRE_PROMETHEUS is set"):
        require_binaries(prometheus=None)
    require_binaries(prometheus="/usr/bin/prometheus")  # all there: neither

"""Command lines reach viewers with their secret arguments masked."""

from __future__ import annotations

import subprocess
import sys

import psutil
import pytest
from django.test import TestCase

from metrics.collector import _process_detail
from opsconsole.scrubbing import Scrubber

TOKEN = "opc_agenttokenvalue1234567890"
PASSWORD = "db-hunter22"


def _agent_line() -> str:
    return (
        f"python manage.py agent --push https://ops.example.com --token {TOKEN} "
        f"--spool /var/lib/agent DATABASE_URL=postgres://app:{PASSWORD}@db/ops"
    )


@pytest.mark.django_db
def test_a_viewer_reads_process_command_lines_without_their_secrets(
    alice, carol, token_for, api_client
):
    ingest = api_client(token_for(alice, "ingest"))
    process = {
        "pid": 7,
        "name": "python",
        "cpu_percent": 1.0,
        "memory_percent": 1.0,
        "rss_bytes": 1000,
        "cmdline": _agent_line(),
    }
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = ingest.post(
            "/metrics",
            {
                "host": "web-01",
                "samples": [{"metric": "cpu_usage_percent", "value": 1}],
                "processes": [process],
            },
        )
    assert response.status_code == 201, response.content
    viewer = api_client(token_for(carol, "read"))
    listed = viewer.get("/metrics/processes", {"host": "web-01"}).json()
    latest = viewer.get("/metrics/latest/web-01").json()
    for shown in (listed[0]["cmdline"], latest["processes"][0]["cmdline"]):
        assert TOKEN not in shown and PASSWORD not in shown
        assert "--token ***" in shown and "postgres://app:***@db/ops" in shown
        assert shown.startswith("python manage.py agent --push https://ops.example.com")


def test_the_collector_masks_a_process_started_with_a_token():
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; print('ready', flush=True); sys.stdin.read()",
            "--token",
            TOKEN,
            f"--password={PASSWORD}",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdin is not None and child.stdout is not None
    try:
        assert child.stdout.readline() == "ready\n"  # running its own command line now
        detail = _process_detail(psutil.Process(child.pid), Scrubber())
    finally:
        child.stdin.close()
        child.wait()
        child.stdout.close()
    assert detail is not None
    assert TOKEN not in detail["cmdline"] and PASSWORD not in detail["cmdline"]
    assert detail["cmdline"].endswith("--token *** --password=***")

"""Log formats: JSON lines (seed 002's shape) and readable text."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

from opsconsole.logs import JsonFormatter, TextFormatter

ROOT = Path(__file__).resolve().parents[2]


def record(message="collected %s samples", *args, **extra) -> logging.LogRecord:
    made = logging.LogRecord(
        "metrics.tasks", logging.INFO, __file__, 1, message, args or (25,), None
    )
    made.__dict__.update(extra)
    return made


def test_json_lines_carry_timestamp_level_event_and_hostname():
    line = JsonFormatter(hostname="monitor-01").format(record())
    entry = json.loads(line)
    assert entry["level"] == "info"
    assert entry["event"] == "collected 25 samples"
    assert entry["hostname"] == "monitor-01"
    assert entry["timestamp"].endswith("Z") and "T" in entry["timestamp"]


def test_json_lines_lift_extra_context_to_top_level_fields():
    entry = json.loads(JsonFormatter().format(record(duration_ms=2.34, system_metrics=25)))
    assert entry["duration_ms"] == 2.34 and entry["system_metrics"] == 25


def test_json_lines_hold_the_exception_in_one_field():
    try:
        raise ValueError("bad")
    except ValueError:
        made = record()
        made.exc_info = sys.exc_info()
    line = JsonFormatter().format(made)
    assert "\n" not in line
    assert "ValueError: bad" in json.loads(line)["exception"]


def test_text_lines_append_context_as_pairs():
    formatter = TextFormatter("%(levelname)s %(name)s %(message)s")
    assert formatter.format(record(duration_ms=2.5)) == (
        "INFO metrics.tasks collected 25 samples [duration_ms=2.5]"
    )


def test_an_unknown_log_format_is_one_readable_line(tmp_path):
    child_env = {k: v for k, v in os.environ.items() if k != "OPSCONSOLE_TESTING"}
    child_env.update(OPSCONSOLE_VAR_DIR=str(tmp_path), LOG_FORMAT="yaml")
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=child_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "opsconsole: configuration error: LOG_FORMAT='yaml' must be json or text"
    )


def test_a_job_log_line_in_json_names_the_job_and_its_duration(tmp_path):
    # The real settings' LOGGING, in a child process, with a job run inline.
    child_env = {k: v for k, v in os.environ.items() if k != "OPSCONSOLE_TESTING"}
    child_env.update(OPSCONSOLE_VAR_DIR=str(tmp_path), LOG_FORMAT="json", Q_SYNC="true")
    script = (
        "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'opsconsole.settings');"
        "django.setup(); from django_q.tasks import async_task;"
        "async_task('tests.opsconsole.boom_urls.quiet_task')"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=child_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    entries = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    (job,) = [e for e in entries if e.get("logger") == "opsconsole.jobs"]
    assert job["job"] == "tests.opsconsole.boom_urls.quiet_task"
    assert job["success"] is True and job["duration_ms"] >= 0 and job["level"] == "info"

"""Seed 002's structured log line for a collection: "Metrics collection completed" with
``hostname``, ``system_metrics``, ``process_metrics`` and ``duration_seconds`` fields."""

from __future__ import annotations

import json
import logging

import pytest

from metrics.tasks import collect_local
from opsconsole.logs import JsonFormatter

pytestmark = pytest.mark.django_db


def test_it_logs_the_seed_fields_as_json(caplog, settings):
    with caplog.at_level(logging.INFO, logger="metrics.tasks"):
        result = collect_local()
    [record] = [r for r in caplog.records if r.getMessage() == "Metrics collection completed"]
    entry = json.loads(JsonFormatter(hostname=settings.LOCAL_HOSTNAME).format(record))
    assert entry["event"] == "Metrics collection completed"
    assert entry["level"] == "info" and entry["hostname"] == settings.LOCAL_HOSTNAME
    assert entry["system_metrics"] == result.samples > 10
    assert entry["process_metrics"] == result.processes > 0
    assert isinstance(entry["duration_seconds"], float) and entry["duration_seconds"] >= 0

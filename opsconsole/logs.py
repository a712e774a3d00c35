"""Log formats: one JSON object per line for machines, or readable lines for people.

``LOG_FORMAT=json`` gives seed 002's shape::

    {"timestamp": "2024-01-15T10:30:45.123Z", "level": "info", "event": "...",
     "logger": "metrics.tasks", "hostname": "monitor-01", "process": "worker",
     "duration_ms": 2.3, ...}

Anything passed in ``extra=`` becomes a top-level field. ``LOG_FORMAT=text`` gives
``2024-01-15 10:30:45,123 INFO metrics.tasks collected ... [duration_ms=2.3]``.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from datetime import UTC, datetime

# Attributes every LogRecord has: anything else came from ``extra=``.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


def extra_fields(record: logging.LogRecord) -> dict:
    return {key: value for key, value in record.__dict__.items() if key not in _STANDARD}


class JsonFormatter(logging.Formatter):
    def __init__(self, *args, hostname: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.hostname = hostname or socket.gethostname()

    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.fromtimestamp(record.created, tz=UTC)
        entry = {
            "timestamp": moment.strftime("%Y-%m-%dT%H:%M:%S.")
            + f"{moment.microsecond // 1000:03d}Z",
            "level": record.levelname.lower(),
            "event": record.getMessage(),
            "logger": record.name,
            "hostname": self.hostname,
            "process": os.environ.get("OPSCONSOLE_PROCESS", "web"),
        }
        for key, value in extra_fields(record).items():
            entry.setdefault(key, value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    """The classic line, with any ``extra=`` context appended as key=value pairs."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = extra_fields(record)
        if not context:
            return line
        pairs = " ".join(f"{key}={value}" for key, value in context.items())
        head, sep, tail = line.partition("\n")
        return f"{head} [{pairs}]{sep}{tail}"

"""The structured log (seed 003's "Log" channel): each message one log entry, for log
shippers (Loki, Elasticsearch, a SIEM) that read the console's JSON log lines.

The entry is written to the logger ``opsconsole.alerts`` at the level of the alert's
severity (info, warning, error, critical; ``config.level`` sets one level for every
entry). Its ``event`` is the headline ("[CRITICAL] Disk almost full - db-01") and the
alert's fields are top-level fields of the JSON line (``LOG_FORMAT=json``), ``key=value``
pairs on a text line::

    {"event": "[CRITICAL] Disk almost full - db-01", "logger": "opsconsole.alerts",
     "level": "critical", "alert_id": 17, "transition": "firing", "severity": "critical",
     "status": "active", "category": "system", "resource": "db-01", "value": 97.0,
     "threshold": 90.0, "occurrences": 1, "fingerprint": "...", "labels": {...},
     "alert_title": "...", "alert_message": "...", "recommendations": [...],
     "url": "https://console/alerts/17/", "idempotency_key": "17:4:firing:1"}

Nothing leaves the process, so there is no rate limit, no SSRF check and no failure but
a misconfiguration.
"""

from __future__ import annotations

import logging

from notifications.notifiers.message import Message

LOGGER = "opsconsole.alerts"
CONFIG = ("level",)
SECRETS = ()
REQUIRED = ()
URL_KEYS = ()
RATE_PER_MINUTE = 0

LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}

logger = logging.getLogger(LOGGER)


def check(config: dict, secrets: dict) -> list[str]:
    level = config.get("level")
    if level not in (None, "") and str(level).lower() not in LEVELS:
        return [f"config.level must be one of: {', '.join(LEVELS)} (or blank: the severity's)"]
    return []


def fields(message: Message) -> dict:
    """The alert as log fields (names a LogRecord does not already use)."""
    return {
        "alert_id": message.alert_id,
        "transition": message.transition,
        "severity": message.severity,
        "status": message.status,
        "category": message.category,
        "resource": message.resource,
        "value": message.value,
        "threshold": message.threshold,
        "occurrences": message.count,
        "fingerprint": message.fingerprint,
        "labels": message.labels,
        "alert_title": message.title,
        "alert_message": message.text,
        "recommendations": message.recommendations,
        "url": message.link,
        "idempotency_key": message.idempotency_key,
    }


def level_for(channel, message: Message) -> int:
    chosen = str((channel.config or {}).get("level") or "").lower()
    if chosen in LEVELS:
        return LEVELS[chosen]
    if message.resolved:
        return logging.INFO  # good news is not an error
    return LEVELS.get(message.severity, logging.WARNING)


def send(channel, message: Message) -> None:
    logger.log(level_for(channel, message), "%s", message.headline, extra=fields(message))
    return None

"""Seed 000's dispatch hub: ``get_alert_manager().send_alert(...)``.

    from alerts.notify import AlertLevel, get_alert_manager

    get_alert_manager().send_alert(
        message="CRITICAL: Primary Postgres Connection Failed [ECONNREFUSED]",
        level=AlertLevel.CRITICAL,
        channels=None,  # the routing matrix picks PagerDuty + SMS + every channel
        context={"node": "worker-01", "retry_count": 5},
    )

A sent alert is an ``Alert`` like any other (timeline, deduplication, acknowledge,
resolve), so its messages go through the outbox, retries and routing. ``channels``
names channels or kinds (``["slack", "ops-email"]``) instead of the matrix. The
context is kept on the alert and enriched with the time, the host, a stack trace (the
exception being handled, or ``context["exception"]``) and recommendations; every
message links back to the alert in the console.
"""

from __future__ import annotations

import enum
import hashlib
import json
import re
import sys
import traceback
from typing import Any

from django.conf import settings
from django.utils import timezone

from alerts import recommendations
from alerts.constants import Category, Severity, parse_category, parse_severity
from alerts.models import Alert
from alerts.spec import AlertSpec


class AlertLevel(enum.StrEnum):
    """Seed 000's levels on the one severity scale."""

    INFO = Severity.INFO.value
    WARNING = Severity.WARNING.value
    ERROR = Severity.ERROR.value
    CRITICAL = Severity.CRITICAL.value


class AlertManager:
    def send_alert(
        self,
        message: str,
        level: AlertLevel | Severity | str = AlertLevel.WARNING,
        channels: list[str] | None = None,
        context: dict[str, Any] | None = None,
    ) -> Alert:
        """Raise an alert and route it; returns the stored alert (a repeat of the same
        message from the same place counts on the open alert instead)."""
        from alerts.service import AlertService

        text = str(message).strip()
        if not text:
            raise ValueError("send_alert needs a message")
        context = dict(context or {})
        exception = context.pop("exception", None)
        stack_trace = str(context.pop("stack_trace", "") or "")
        if isinstance(exception, BaseException):
            stack_trace = "".join(traceback.format_exception(exception))
        elif not stack_trace and sys.exc_info()[0] is not None:
            stack_trace = traceback.format_exc()
        # "CRITICAL: Primary Postgres ..." at level critical: the headline already says
        # [CRITICAL], so the title drops the word rather than repeat it.
        title = _without_level(text.splitlines()[0], level)[:300]
        resource = str(
            context.pop("resource", "") or context.get("node") or context.get("host") or ""
        )
        category = parse_category(context.pop("category", Category.APPLICATION))
        alert_type = str(context.pop("alert_type", "") or "")
        if not alert_type:
            # One alert per distinct message and place: two different problems on one
            # node must not count as repeats of each other.
            alert_type = "message_" + hashlib.sha256(title.encode()).hexdigest()[:16]
        advice = [str(tip) for tip in context.pop("recommendations", None) or []]
        if not advice:
            # From the message itself when there is no exception: an ECONNREFUSED to
            # Postgres deserves "is the server up, port, credentials, pool".
            error_type = type(exception).__name__ if exception else ""
            advice = recommendations.for_error(
                error_type,
                text,
                node=str(context.get("node") or context.get("host") or ""),
                endpoint=str(context.get("endpoint") or ""),
            )
        metadata = {
            **_jsonable(context),
            "timestamp": timezone.now().isoformat(),
            "host": str(context.get("host") or context.get("node") or settings.LOCAL_HOSTNAME),
            "source": "send_alert",
        }
        return AlertService().create_alert(
            AlertSpec(
                alert_type=alert_type[:120],
                title=title,
                message=text,
                priority=level,
                category=category,
                resource=resource[:255],
                metadata=metadata,
                recommendations=advice,
                stack_trace=stack_trace,
                notification_channels=list(channels) if channels is not None else None,
            ),
            actor=str(context.get("actor") or "send_alert"),
        )


_LEVEL_PREFIX = re.compile(
    r"^\s*\[?(info|warning|warn|error|critical|emergency|high|medium|low)\]?\s*[:\-\u2013]?\s+",
    re.IGNORECASE,
)


def _without_level(line: str, level) -> str:
    """The line without a leading severity word ("CRITICAL: ", "[ERROR] ") that says what
    the level says; kept when it names another severity or is all there is."""
    found = _LEVEL_PREFIX.match(line)
    if found is None:
        return line
    try:
        same = parse_severity(found.group(1)) == parse_severity(str(level))
    except ValueError:
        same = found.group(1).lower() == "warn" and str(level).lower() == "warning"
    rest = line[found.end() :]
    return rest if same and rest.strip() else line


def _jsonable(values: dict) -> dict:
    # Context may hold anything (datetimes, exceptions); the alert stores JSON.
    return json.loads(json.dumps(values, default=str))


_manager = AlertManager()


def get_alert_manager() -> AlertManager:
    return _manager

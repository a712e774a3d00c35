"""What a notification says, built once from the alert and shaped by each notifier."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils import timezone

from notifications.models import Transition

STACK_TRACE_LIMIT = 3000


@dataclass
class Message:
    transition: str
    title: str
    text: str
    severity: str
    category: str = ""
    resource: str = ""
    status: str = ""
    link: str = ""
    alert_id: int | None = None
    fingerprint: str = ""
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    count: int = 1
    value: float | None = None
    threshold: float | None = None
    labels: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    recommendations: list[str] = field(default_factory=list)
    stack_trace: str = ""
    host: str = ""
    sent_at: datetime = field(default_factory=timezone.now)
    idempotency_key: str = ""

    @property
    def resolved(self) -> bool:
        return self.transition == Transition.RESOLVED

    @property
    def headline(self) -> str:
        """'[CRITICAL] Disk almost full - db-01', '[RESOLVED] ...'."""
        tag = {
            Transition.RESOLVED: "RESOLVED",
            Transition.REPEAT: f"STILL {self.severity.upper()}",
            Transition.ESCALATED: f"ESCALATED {self.severity.upper()}",
            Transition.TEST: "TEST",
        }.get(self.transition, self.severity.upper())
        return f"[{tag}] {self.title}"

    def facts(self) -> list[tuple[str, str]]:
        """Short labelled facts every rich format shows."""
        rows = [("Severity", self.severity), ("Status", self.status or self.transition)]
        if self.resource:
            rows.append(("Resource", self.resource))
        if self.value is not None:
            rows.append(("Value", f"{self.value:g}"))
        if self.threshold is not None:
            rows.append(("Threshold", f"{self.threshold:g}"))
        if self.count > 1:
            rows.append(("Occurrences", str(self.count)))
        if self.first_seen:
            rows.append(("First seen", self.first_seen.strftime("%Y-%m-%d %H:%M:%S UTC")))
        if self.host:
            rows.append(("Reported by", self.host))
        rows.extend((f"Label {k}", str(v)) for k, v in sorted(self.labels.items()))
        return rows


def alert_link(alert_id: int | None) -> str:
    if alert_id is None:
        return f"{settings.PUBLIC_URL}/"
    return f"{settings.PUBLIC_URL}/alerts/{alert_id}/"


def for_notification(notification) -> Message:
    alert = notification.alert
    if alert is None:
        return test_message(notification.idempotency_key)
    metadata = dict(alert.metadata or {})
    context = dict(notification.context or {})
    return Message(
        transition=notification.transition,
        title=alert.title,
        text=alert.message,
        severity=context.get("severity", alert.severity),
        category=alert.category,
        resource=alert.resource,
        status=alert.status,
        link=alert_link(alert.pk),
        alert_id=alert.pk,
        fingerprint=alert.fingerprint,
        first_seen=alert.first_seen,
        last_seen=alert.last_seen,
        count=alert.notification_count,
        value=alert.value,
        threshold=alert.threshold,
        labels={str(k): str(v) for k, v in (alert.labels or {}).items()},
        metadata=metadata,
        recommendations=[str(r) for r in (alert.recommendations or [])],
        stack_trace=(alert.stack_trace or "")[-STACK_TRACE_LIMIT:],
        host=str(metadata.get("host") or settings.LOCAL_HOSTNAME),
        idempotency_key=notification.idempotency_key,
    )


def test_message(key: str = "") -> Message:
    return Message(
        transition=Transition.TEST,
        title="Test message from OpsConsole",
        text="If you can read this, the channel works.",
        severity="info",
        status="test",
        link=alert_link(None),
        host=socket.gethostname(),
        idempotency_key=key,
    )

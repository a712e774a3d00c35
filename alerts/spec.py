"""What a source hands the pipeline: the spec of an alert to raise, and its fingerprint.

Seed 001's names come from here too (``AlertPriority``, ``AlertCategory``), re-exported
by ``alerts.service`` so the seed's imports keep working.
"""

from __future__ import annotations

import enum
import functools
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from alerts.constants import Category, Severity, parse_severity

if TYPE_CHECKING:
    from alerts.models import AlertRule


class AlertPriority(enum.StrEnum):
    """Seed 001's priority names, mapped onto the one severity scale."""

    LOW = Severity.INFO.value
    MEDIUM = Severity.WARNING.value
    HIGH = Severity.ERROR.value
    CRITICAL = Severity.CRITICAL.value


AlertCategory = Category


@dataclass
class AlertSpec:
    """What to raise. ``pipeline.raise_alert`` stores it, or counts a repeat.

    Seed 001 calls this ``Alert`` (``from alerts.service import Alert``); the stored
    row is ``alerts.models.Alert``.
    """

    alert_type: str
    title: str
    message: str
    priority: AlertPriority | Severity | str = AlertPriority.MEDIUM
    category: Category | str = Category.SYSTEM
    resource: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    recommendations: list[str] = field(default_factory=list)
    stack_trace: str = ""
    related_logs: str = ""
    affected_users: int = 0
    error_count: int = 1
    labels: dict[str, str] = field(default_factory=dict)
    notification_channels: list[str] | None = None
    value: float | None = None
    threshold: float | None = None
    rule: AlertRule | None = None
    expires_in: timedelta | None = None
    # Computed only when the alert is new: a repeat keeps the recommendations it has,
    # and a storm of repeats should not query process tables 10,000 times.
    recommend: Callable[[], list[str]] | None = None
    # A source that names its problems itself (Alertmanager's fingerprint) sets this,
    # from ``source_fingerprint_of``: the alert dedups by it instead of by type,
    # resource and labels.
    fingerprint: str | None = None
    # When the source says the problem began (Alertmanager's startsAt): a new alert's
    # first_seen, never later than now. None: now.
    started_at: datetime | None = None

    @property
    def severity(self) -> Severity:
        return parse_severity(self.priority)


def fingerprint_of(alert_type: str, resource: str, labels: dict | None = None) -> str:
    """Same type, resource and labels: the same problem."""
    items = tuple(sorted((labels or {}).items()))
    try:
        return _fingerprint(alert_type, resource, items)
    except TypeError:  # a label value that cannot be hashed (a list): not cached
        return _fingerprint.__wrapped__(alert_type, resource, items)


def source_fingerprint_of(source: str, name: str) -> str:
    """The fingerprint of a problem that ``source`` names ``name`` itself; never equal
    to a ``fingerprint_of`` (the hashed key has another shape)."""
    key = json.dumps(["source", source, name])
    return hashlib.sha256(key.encode()).hexdigest()


# A storm fires the same few problems thousands of times: hash each once.
@functools.lru_cache(maxsize=4096)
def _fingerprint(alert_type: str, resource: str, labels: tuple) -> str:
    key = json.dumps([alert_type, resource, labels])
    return hashlib.sha256(key.encode()).hexdigest()

"""Alerts from Prometheus Alertmanager: its webhook payload (version 4) into the pipeline.

Alertmanager posts a group of alerts at a time; each becomes one console alert:

- identity: Alertmanager's ``fingerprint`` (a hash of the alert's labels), so the same
  alert posted again, by this Alertmanager or its HA peer, counts a repeat on the open
  alert, and its ``resolved`` post resolves it;
- severity: the ``severity`` label, read with ``SEVERITY_NAMES`` (the names rule
  writers use: crit, page, err, warn, information, none, P1-P5...); missing or unknown
  is warning, and the result says so;
- title ``<alertname>: <summary>``, message the ``description`` annotation (else the
  summary), every label kept, resource the ``instance`` label (else ``job``), category
  the ``category`` label when it names one (else system);
- metadata: the generator URL, ``runbook_url`` and the other annotations, Alertmanager's
  fingerprint, the group key and the Alertmanager's URL;
- time: a new alert's first_seen is ``startsAt``; a resolve is dated ``endsAt``. A
  resolve that ended before the open alert started is an older episode's, delivered
  late, and leaves the open alert alone. A firing alert's ``endsAt`` is only
  Alertmanager's own timeout (it posts ``resolved`` when it lapses), so it is not used.

One alert that cannot be read (no labels, an unknown status, a bad time) is refused and
named in the answer; the others of the payload are still stored (see ``receive``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as SchemaError

from alerts.constants import OPEN_STATUSES, Category, Severity, parse_category, parse_severity
from alerts.models import Alert
from alerts.pipeline import clear_alert, raise_alert
from alerts.spec import AlertSpec, source_fingerprint_of

SOURCE = "alertmanager"
ACTOR = "alertmanager"
DEFAULT_SEVERITY = Severity.WARNING

# What rule writers put in a ``severity`` label, beyond the console's own names and
# aliases (which ``parse_severity`` reads). Compared in lower case.
SEVERITY_NAMES: dict[str, Severity] = {
    **dict.fromkeys(
        ("crit", "page", "pager", "paging", "fatal", "emerg", "alert", "disaster", "p1", "sev1"),
        Severity.CRITICAL,
    ),
    **dict.fromkeys(("err", "major", "p2", "sev2"), Severity.ERROR),
    **dict.fromkeys(("warn", "minor", "average", "p3", "sev3"), Severity.WARNING),
    **dict.fromkeys(
        ("information", "informational", "notice", "none", "debug", "ok", "p4", "p5", "sev4"),
        Severity.INFO,
    ),
}

# Stored columns' widths: a longer label would make PostgreSQL refuse the row.
_TYPE_WIDTH = 120
_RESOURCE_WIDTH = 255


class AlertmanagerAlert(BaseModel):
    """One entry of ``alerts[]``; fields Alertmanager adds later are ignored."""

    model_config = ConfigDict(extra="ignore")

    status: Literal["firing", "resolved"]
    labels: dict[str, str] = Field(min_length=1)
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: datetime | None = None  # Alertmanager's field names
    endsAt: datetime | None = None
    generatorURL: str = Field("", max_length=2000)
    fingerprint: str = Field("", max_length=64)


class AlertmanagerPayload(BaseModel):
    """The webhook's body. ``alerts`` are read one by one, so one bad entry is refused
    alone."""

    model_config = ConfigDict(extra="ignore")

    version: str | None = None
    status: str = ""
    receiver: str = ""
    groupKey: str = ""
    externalURL: str = ""
    truncatedAlerts: int = 0
    alerts: list[Any] = Field(
        description=(
            "Alertmanager's alerts, each with status (firing or resolved), labels, "
            "annotations, startsAt, endsAt, generatorURL and fingerprint; each is read "
            "on its own, so one that cannot be read is refused alone"
        )
    )


@dataclass
class Outcome:
    """What became of one entry of ``alerts[]``."""

    index: int
    result: Literal["opened", "repeated", "resolved", "not_open", "stale", "refused"]
    fingerprint: str = ""
    alert_id: int | None = None
    detail: str = ""


@dataclass
class Received:
    outcomes: list[Outcome] = field(default_factory=list)

    RESULTS = ("opened", "repeated", "resolved", "not_open", "stale", "refused")

    @property
    def refused(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.result == "refused"]

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(
            ("opened", "repeated", "resolved", "not_open", "stale", "refused"), 0
        )
        for outcome in self.outcomes:
            counts[outcome.result] += 1
        return counts


def severity_of(labels: dict[str, str]) -> tuple[Severity, str]:
    """The severity of an alert with these labels, and a note when it was guessed."""
    raw = labels.get("severity", "").strip()
    if not raw:
        return DEFAULT_SEVERITY, f"no severity label: {DEFAULT_SEVERITY}"
    found = SEVERITY_NAMES.get(raw.lower())
    if found is not None:
        return found, ""
    try:
        return parse_severity(raw), ""
    except ValueError:
        return DEFAULT_SEVERITY, f"unknown severity {raw!r}: {DEFAULT_SEVERITY}"


def receive(payload: AlertmanagerPayload, *, now: datetime | None = None) -> Received:
    """Hand every alert of the payload to the pipeline, each in its own transaction.

    A refused entry does not stop the others: Alertmanager sends a group whole, and one
    bad alert (from a rule or a client we do not control) must not hide the rest.
    """
    received = Received()
    for index, raw in enumerate(payload.alerts):
        try:
            entry = AlertmanagerAlert.model_validate(raw)
        except SchemaError as exc:
            received.outcomes.append(Outcome(index, "refused", detail=_problems(exc)))
            continue
        try:
            outcome = _apply(index, entry, payload, now or timezone.now())
        except (ValueError, DjangoValidationError) as exc:
            outcome = Outcome(index, "refused", entry.fingerprint, detail=_message(exc))
        received.outcomes.append(outcome)
    return received


def spec_of(entry: AlertmanagerAlert, payload: AlertmanagerPayload) -> AlertSpec:
    """The console's alert for one firing Alertmanager alert."""
    labels = entry.labels
    annotations = dict(entry.annotations)
    alertname = labels.get("alertname", "").strip()
    summary = annotations.pop("summary", "").strip()
    description = annotations.pop("description", "").strip()
    runbook = annotations.pop("runbook_url", "").strip()
    severity, _ = severity_of(labels)
    fingerprint = _fingerprint(entry)
    metadata: dict[str, Any] = {"source": SOURCE, "alertmanager_fingerprint": fingerprint}
    if entry.generatorURL:
        metadata["generator_url"] = entry.generatorURL
    if runbook:
        metadata["runbook_url"] = runbook
    if annotations:
        metadata["annotations"] = annotations
    if payload.groupKey:
        metadata["group_key"] = payload.groupKey
    if payload.externalURL:
        metadata["alertmanager_url"] = payload.externalURL
    starts = _moment(entry.startsAt)
    if starts is not None:
        metadata["starts_at"] = starts.isoformat()
    return AlertSpec(
        alert_type=f"{SOURCE}:{alertname}"[:_TYPE_WIDTH] if alertname else SOURCE,
        title=_title(alertname, summary, fingerprint),
        message=description or summary,
        priority=severity,
        category=_category(labels.get("category", "")),
        resource=(labels.get("instance") or labels.get("job") or "")[:_RESOURCE_WIDTH],
        labels=labels,
        metadata=metadata,
        fingerprint=source_fingerprint_of(SOURCE, fingerprint),
        started_at=starts,
    )


def _apply(
    index: int, entry: AlertmanagerAlert, payload: AlertmanagerPayload, now: datetime
) -> Outcome:
    fingerprint = _fingerprint(entry)
    if entry.status == "firing":
        spec = spec_of(entry, payload)
        _, note = severity_of(entry.labels)
        alert = raise_alert(spec, actor=ACTOR)
        result: Literal["opened", "repeated"] = (
            "opened" if alert.notification_count == 1 else "repeated"
        )
        return Outcome(index, result, fingerprint, alert.pk, note)
    key = source_fingerprint_of(SOURCE, fingerprint)
    open_alert = (
        Alert.objects.filter(fingerprint=key, status__in=OPEN_STATUSES)
        .values("pk", "alert_type", "resource", "first_seen")
        .first()
    )
    if open_alert is None:
        return Outcome(index, "not_open", fingerprint, detail="no open alert with this fingerprint")
    ended = _moment(entry.endsAt)
    if ended is not None and ended < open_alert["first_seen"]:
        return Outcome(
            index,
            "stale",
            fingerprint,
            open_alert["pk"],
            "it ended before the open alert started: an earlier episode's resolve",
        )
    resolved = clear_alert(
        open_alert["alert_type"],
        open_alert["resource"],
        actor=ACTOR,
        note="resolved in Alertmanager",
        fingerprint=key,
        at=min(ended, now) if ended is not None else None,
    )
    if resolved is None:
        return Outcome(index, "not_open", fingerprint, detail="resolved meanwhile")
    return Outcome(index, "resolved", fingerprint, resolved.pk)


def _fingerprint(entry: AlertmanagerAlert) -> str:
    # Alertmanager has sent one since 0.19; without it, the labels are the identity
    # (which is what Alertmanager hashes too).
    if entry.fingerprint:
        return entry.fingerprint
    labels = json.dumps(sorted(entry.labels.items()))
    return hashlib.sha256(labels.encode()).hexdigest()[:16]


def _moment(value: datetime | None) -> datetime | None:
    """A time Alertmanager sent, or None for its zero time (0001-01-01, "not set")."""
    if value is None or value.year <= 1:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _title(alertname: str, summary: str, fingerprint: str) -> str:
    if alertname and summary:
        return f"{alertname}: {summary}"
    return alertname or summary or f"Alertmanager alert {fingerprint}"


def _category(value: str) -> Category:
    try:
        return parse_category(value) if value else Category.SYSTEM
    except ValueError:
        return Category.SYSTEM


def _problems(exc: SchemaError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}"
        if error.get("loc")
        else error["msg"]
        for error in exc.errors()
    )


def _message(exc: Exception) -> str:
    if isinstance(exc, DjangoValidationError):
        return "; ".join(exc.messages)
    return str(exc)

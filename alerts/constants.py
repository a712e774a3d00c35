"""The alert vocabulary: one ordered severity scale, categories, lifecycle states."""

from __future__ import annotations

from typing import Any

from django.db import models


class Severity(models.TextChoices):
    """PagerDuty's names, ordered: info < warning < error < critical."""

    INFO = "info", "Info"
    WARNING = "warning", "Warning"
    ERROR = "error", "Error"
    CRITICAL = "critical", "Critical"


SEVERITY_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2, Severity.CRITICAL: 3}

# Names other systems use, accepted on input (seed 001's priorities among them).
SEVERITY_ALIASES = {
    "low": Severity.INFO,
    "medium": Severity.WARNING,
    "high": Severity.ERROR,
    "emergency": Severity.CRITICAL,
}


# Names and aliases to severities, read on every firing: a dict, not TextChoices.values
# (which builds its list anew on each call).
_SEVERITY_NAMES = {**{s.value: s for s in Severity}, **SEVERITY_ALIASES}


def parse_severity(value: str) -> Severity:
    """A Severity from its name or an alias, case-insensitively; ValueError otherwise."""
    found = _SEVERITY_NAMES.get(value) if isinstance(value, str) else None
    if found is not None:
        return found
    text = str(getattr(value, "value", value)).strip().lower()
    if text in _SEVERITY_NAMES:
        return _SEVERITY_NAMES[text]
    known = ", ".join(_SEVERITY_NAMES)
    raise ValueError(f"unknown severity {value!r} (one of: {known})")


class Category(models.TextChoices):
    SYSTEM = "system", "System"
    DATABASE = "database", "Database"
    APPLICATION = "application", "Application"
    PERFORMANCE = "performance", "Performance"
    SECURITY = "security", "Security"
    BUSINESS = "business", "Business"
    AVAILABILITY = "availability", "Availability"


_CATEGORY_NAMES = {c.value: c for c in Category}


def parse_category(value: str) -> Category:
    found = _CATEGORY_NAMES.get(value) if isinstance(value, str) else None
    if found is not None:
        return found
    text = str(getattr(value, "value", value)).strip().lower()
    if text in _CATEGORY_NAMES:
        return _CATEGORY_NAMES[text]
    raise ValueError(f"unknown category {value!r} (one of: {', '.join(_CATEGORY_NAMES)})")


class Status(models.TextChoices):
    ACTIVE = "active", "Active"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"
    SUPPRESSED = "suppressed", "Suppressed"
    EXPIRED = "expired", "Expired"


# Who suppressed an alert that a policy holds back (``Alert.suppressed_by``): the
# pipeline lets it go when its policy ends, and leaves an operator's own suppressions
# to run their course.
SILENCE_ACTOR = "silence"
DEPENDENCY_ACTOR = "dependency"
INHIBITION_ACTOR = "inhibition"
POLICY_ACTORS = (SILENCE_ACTOR, DEPENDENCY_ACTOR, INHIBITION_ACTOR)

# What silence and inhibition matchers (and inhibition's ``equal``) read of an alert,
# besides ``label:<name>``: ``rule_kind`` is the kind of the rule that raised it
# (``absence`` for a rule watching for missing data) or ``no_data`` for the alert a
# firing rule raises when its data stops, empty for alerts no rule raised.
MATCHER_FIELDS = ("alert_type", "resource", "severity", "category", "rule_kind")
# The alert type of a firing rule's "no data" alert: ``no_data_rule_<rule id>``.
NO_DATA_PREFIX = "no_data_rule_"


def is_no_data(alert: Any) -> bool:
    """Whether the alert says a firing rule's data stopped (its host went quiet)."""
    return str(alert.alert_type).startswith(NO_DATA_PREFIX)


# An alert in one of these states absorbs new occurrences of its fingerprint.
OPEN_STATUSES = (Status.ACTIVE, Status.ACKNOWLEDGED, Status.SUPPRESSED)


class EventKind(models.TextChoices):
    FIRED = "fired", "Fired"
    PENDING = "pending", "Pending"
    DEDUPLICATED = "deduplicated", "Deduplicated"
    ESCALATED = "escalated", "Escalated"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"
    SUPPRESSED = "suppressed", "Suppressed"
    UNSUPPRESSED = "unsuppressed", "Suppression ended"
    SILENCED = "silenced", "Silenced"
    COOLDOWN = "cooldown", "In cooldown"
    FLAPPING = "flapping", "Flapping"
    EXPIRED = "expired", "Expired"
    NOTE = "note", "Note"

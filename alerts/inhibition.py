"""Inhibition: while an open alert matches a rule's source matchers, alerts matching
its target matchers that share the values of its ``equal`` fields are held back.

Asked through ``alerts.policies.hold_for`` like silences and dependencies. The choices,
Alertmanager's where they fit:

- A source is an open alert (active, acknowledged, or suppressed by a person, a silence
  or a dependency: the problem is still there) that an inhibition rule does not hold
  back itself. So two alerts that match each other's rules never silence each other:
  the one that opened first inhibits, the later one is held. A chain (A holds B, B's
  rule would hold C) stops at B: C is sent.
- An alert never inhibits itself, even when it matches both sides of a rule.
- ``equal``: every named field must be set on both alerts, with the same value. A
  field missing or empty on either side matches nothing (Alertmanager treats two
  missing labels as equal; here a critical alert without a resource would otherwise
  hold back every warning that has none).
- Empty target matchers match every alert; source matchers cannot be empty.

The open sources are read once per ``CONFIG_CACHE_SECONDS`` per process (one query for
the rules, one for the candidate alerts), kept up to date in between by the alerts this
process opens and closes, and read afresh for each ``reapply`` pass; so a storm of new
alerts costs no query per alert here.
"""

from __future__ import annotations

import re
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db.models import Q
from django.db.models.signals import post_delete, post_save

from alerts import silences
from alerts.constants import INHIBITION_ACTOR, OPEN_STATUSES, Status
from alerts.matching import fields_of
from alerts.models import Alert, AlertRule, InhibitionRule

# Seeded on a fresh console and by migration on existing ones; editable and
# disable-able like any other rule.
DEFAULT_RULES = [
    {
        "name": "Critical beats warning and info on the same resource",
        "source_matchers": [{"field": "severity", "op": "eq", "value": "critical"}],
        "target_matchers": [{"field": "severity", "op": "regex", "value": "warning|info"}],
        "equal": ["resource"],
        "description": "While a critical alert is open, warning and info alerts of the "
        "same resource are held back: one page for one problem.",
    },
    {
        "name": "A host not reporting holds back its other alerts",
        "source_matchers": [{"field": "rule_kind", "op": "regex", "value": "absence|no_data"}],
        "target_matchers": [],
        "equal": ["resource"],
        "description": "While a host sends no data (an absence rule, or a firing rule's "
        "data stopped), every other alert about that host is held back.",
    },
]


def load_default_rules() -> list[str]:
    """The default rules, on a console that never had an inhibition rule nor an alert
    (an operator who deletes them on a console with history keeps them deleted)."""
    if InhibitionRule.objects.exists() or Alert.objects.exists():
        return []
    for rule in DEFAULT_RULES:
        InhibitionRule.objects.create(**rule)
    return [f"created inhibition rule {rule['name']!r}" for rule in DEFAULT_RULES]


# -- matcher text, as the admin shows it -------------------------------------------------
_LINE = re.compile(r"\s*(?P<field>[A-Za-z_][\w:.\-]*)\s*(?P<op>=~|=)\s*(?P<value>.*?)\s*")


def matchers_to_text(matchers: list) -> str:
    """One matcher a line, Alertmanager's way: ``severity = critical``,
    ``resource =~ db-.*``."""
    return "\n".join(
        f"{m.get('field')} {'=~' if m.get('op') == 'regex' else '='} {m.get('value')}"
        for m in matchers or []
        if isinstance(m, dict)
    )


def matchers_from_text(text: str) -> list[dict]:
    """The matchers a text holds, or ValueError naming the line that is not one."""
    matchers = []
    for number, line in enumerate((text or "").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        found = _LINE.fullmatch(line)
        if found is None:
            raise ValueError(
                f"line {number}: {line.strip()!r} is not 'field = value' or 'field =~ pattern'"
            )
        value = found["value"]
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        op = "regex" if found["op"] == "=~" else "eq"
        matchers.append({"field": found["field"], "op": op, "value": value})
    return matchers


def check_equal(names) -> list[str]:
    """``equal`` as stored (field names, no repeats), or ValueError saying what is wrong."""
    if names in (None, ""):
        return []
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ValueError("give a list of field names, e.g. [resource]")
    cleaned = []
    for name in (n.strip() for n in names):
        if not silences.known_field(name):
            raise ValueError(f"unknown field {name!r} ({silences.FIELD_HELP})")
        if name not in cleaned:
            cleaned.append(name)
    return cleaned


# -- the open sources ---------------------------------------------------------------------
@dataclass
class Source:
    id: int
    title: str
    fields: dict[str, str]


@dataclass
class Inhibitor:
    rule: InhibitionRule
    source: Source

    @property
    def reason(self) -> str:
        return (
            f"inhibited by alert #{self.source.id} ({self.source.title}) "
            f"via rule '{self.rule.name}'"
        )


@dataclass
class Index:
    """Enabled rules and, per rule, the open sources by their ``equal`` values."""

    rules: list[InhibitionRule] = field(default_factory=list)
    sources: dict[int, dict[tuple, list[Source]]] = field(default_factory=dict)
    # alert id -> the (rule id, key) entries it is in, to drop it in one step
    entries: dict[int, list[tuple[int, tuple]]] = field(default_factory=dict)

    def add(self, alert_id: int, title: str, fields: dict[str, str]) -> None:
        if alert_id in self.entries:
            return
        placed = []
        for rule in self.rules:
            if not rule.source_matchers or not _all_match(rule.source_matchers, fields):
                continue
            key = _key(rule.equal, fields)
            if key is None:
                continue
            self.sources.setdefault(rule.pk, defaultdict(list))[key].append(
                Source(alert_id, title, fields)
            )
            placed.append((rule.pk, key))
        if placed:
            self.entries[alert_id] = placed

    def drop(self, alert_id: int) -> None:
        for rule_id, key in self.entries.pop(alert_id, ()):
            bucket = self.sources[rule_id][key]
            bucket[:] = [s for s in bucket if s.id != alert_id]

    def inhibitor(self, fields: dict[str, str], alert_id: int | None) -> Inhibitor | None:
        """The first rule (by name) whose targets include these fields and that has an
        open source other than the alert itself; its oldest such source.

        Of two alerts that would inhibit each other, the older one (the one already
        sent) stays a source: a stored alert is not held by a newer alert it would
        itself hold. A new alert (no id yet) is the newer one."""
        for rule in self.rules:
            by_key = self.sources.get(rule.pk)
            if not by_key or not _all_match(rule.target_matchers, fields):
                continue
            key = _key(rule.equal, fields)
            if key is None:
                continue
            for source in by_key.get(key, ()):
                if source.id == alert_id:
                    continue
                if alert_id is not None and alert_id < source.id and self._holds(fields, source):
                    continue
                return Inhibitor(rule, source)
        return None

    def _holds(self, fields: dict[str, str], target: Source) -> bool:
        """Whether an alert with these fields would inhibit ``target`` by some rule."""
        for rule in self.rules:
            if (
                rule.source_matchers
                and _all_match(rule.source_matchers, fields)
                and _all_match(rule.target_matchers, target.fields)
            ):
                key = _key(rule.equal, fields)
                if key is not None and key == _key(rule.equal, target.fields):
                    return True
        return False

    def __bool__(self) -> bool:
        return bool(self.entries)


def _all_match(matchers: list, fields: dict[str, str]) -> bool:
    return all(silences.matcher_matches(m, fields) for m in matchers)


def _key(equal: list, fields: dict[str, str]) -> tuple | None:
    values = tuple(fields.get(name) or "" for name in equal or ())
    return None if "" in values else values


# Columns a matcher reads, as the query narrows on them.
_COLUMNS = {"alert_type", "resource", "severity", "category"}


def _narrowing(rules: list[InhibitionRule]) -> Q:
    """The candidates' filter: per rule, its equality matchers on columns (ORed over the
    rules); a rule that has none leaves every open alert a candidate."""
    any_rule = Q(pk__in=[])
    for rule in rules:
        this = Q()
        for matcher in rule.source_matchers:
            name, value = str(matcher.get("field")), str(matcher.get("value", ""))
            if matcher.get("op", "eq") != "eq":
                continue
            if name in _COLUMNS:
                this &= Q(**{name: value})
            elif name == "rule_kind" and value != "no_data":
                this &= Q(rule__kind=value)
        if not this:
            return Q()
        any_rule |= this
    return any_rule


SOURCE_FIELDS = (
    "id", "title", "alert_type", "resource", "severity", "category", "labels", "rule__kind",
)  # fmt: skip


def read_index() -> Index:
    """The enabled rules and their open sources, read now: two queries (one if no rule
    is enabled)."""
    index = Index(rules=list(InhibitionRule.objects.filter(enabled=True).order_by("name")))
    if not index.rules:
        return index
    candidates = (
        Alert.objects.filter(status__in=OPEN_STATUSES)
        .exclude(status=Status.SUPPRESSED, suppressed_by=INHIBITION_ACTOR)
        .filter(_narrowing(index.rules))
        .select_related("rule")
        .only(*SOURCE_FIELDS)
        .order_by("id")
    )
    for alert in candidates:
        index.add(alert.pk, alert.title, fields_of(alert))
    return index


_lock = threading.Lock()
_cached: tuple[float, Index] | None = None


def current_index() -> Index:
    """The process's copy, read at most every ``CONFIG_CACHE_SECONDS``."""
    global _cached
    now = time.monotonic()
    with _lock:
        cached = _cached
        if (
            cached is not None
            and settings.CONFIG_CACHE_SECONDS
            and now - cached[0] < settings.CONFIG_CACHE_SECONDS
        ):
            return cached[1]
    index = read_index()
    with _lock:
        _cached = (now, index)
    return index


def refreshed_index() -> Index:
    """Read afresh and kept as the process's copy (a reapply pass starts with one)."""
    global _cached
    index = read_index()
    with _lock:
        _cached = (time.monotonic(), index)
    return index


def note_opened(alert: Alert, fields: dict[str, str]) -> None:
    """An alert this process just opened (and no rule holds back) may inhibit others
    from now on, before the copy is next read."""
    with _lock:
        if _cached is not None and _cached[1].rules:
            _cached[1].add(alert.pk, alert.title, fields)


def note_closed(alert_id: int) -> None:
    with _lock:
        if _cached is not None:
            _cached[1].drop(alert_id)


def is_source(alert_id: int) -> bool:
    """Whether the process's copy counts this alert as a source of some rule."""
    with _lock:
        return _cached is not None and alert_id in _cached[1].entries


def any_rule() -> bool:
    return bool(current_index().rules)


def hold_at(fields: dict[str, str], at: datetime, alert_id: int | None, index=None):
    """The inhibitor of an alert with these fields (None for a new one), or None."""
    index = index if index is not None else current_index()
    if not index.rules:
        return None
    return index.inhibitor(fields, alert_id)


def forget(**kwargs) -> None:
    global _cached
    with _lock:
        _cached = None


post_save.connect(forget, sender=InhibitionRule, dispatch_uid="inhibition.rule_saved")
post_delete.connect(forget, sender=InhibitionRule, dispatch_uid="inhibition.rule_deleted")
# A rule's kind is read with its alerts; a changed kind changes which alerts are sources.
post_save.connect(forget, sender=AlertRule, dispatch_uid="inhibition.alert_rule_saved")

"""Alert rules and silences in configuration files (see opsconsole/configcode.py).

Rules are keyed by name and validated by the admin's form, so a file accepts exactly
what the admin accepts. A rule's file entry lists the fields that differ from the
defaults; a field left out takes its default on import, so export and import are
each other's inverse. Silences have no name: one is identified by its matchers and
times, and only its comment can change in place.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, cast

from django.db.models import Field
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from alerts.constants import parse_severity
from alerts.forms import AlertRuleForm, InhibitionRuleForm, SilenceForm
from alerts.models import AlertRule, InhibitionRule, Silence
from opsconsole import versions
from opsconsole.apitools import as_form_data
from opsconsole.configcode import (
    Change,
    ConfigError,
    LineDict,
    LineList,
    form_errors,
    plan_named,
)

RULE_FIELDS = list(AlertRuleForm.Meta.fields)


def _default(name: str) -> Any:
    model_field = cast(Field, AlertRule._meta.get_field(name))  # a column, not a relation
    return model_field.get_default()


def _plain(value: Any) -> Any:
    """A cleaned form value as it is written in a file (and compared)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


class RulesSection(versions.VersionedSection):
    name = "rules"
    what = "rule"
    model = AlertRule
    permission = "alerts.change_alertrule"

    # -- history ----------------------------------------------------------------------
    def snapshot(self, rule: AlertRule) -> dict:
        return {name: _plain(getattr(rule, name)) for name in RULE_FIELDS}

    def restore(self, object_key: str, snapshot: dict | None, actor: str) -> None:
        rule = AlertRule.objects.filter(pk=int(object_key)).first()
        if snapshot is None:
            if rule is not None:
                with self.removal(rule, actor=actor, source="rollback"):
                    rule.delete()
            return
        form = AlertRuleForm(data=as_form_data(snapshot), instance=rule)
        if not form.is_valid():
            problems = "; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in form.errors.items())
            raise versions.RollbackError(f"that version is no longer valid: {problems}")
        restored = form.save(commit=False)
        if rule is None:
            restored.pk = int(object_key)  # the same id, so its history continues
        with self.change(restored, actor=actor, source="rollback"):
            restored.save()

    # -- files ------------------------------------------------------------------------
    def export(self) -> list[dict]:
        items = []
        for rule in AlertRule.objects.order_by("name"):
            snapshot = self.snapshot(rule)
            items.append(
                {
                    key: value
                    for key, value in snapshot.items()
                    if key in {"name", "kind"} or value != _plain(_default(key))
                }
            )
        return items

    def plan(self, value: Any, *, prune: bool, errors: list[ConfigError]) -> list[Change]:
        existing = {rule.name: rule for rule in AlertRule.objects.all()}
        return plan_named(self, value, existing, prune=prune, errors=errors)

    def plan_item(
        self, name: str, item: LineDict, rule: AlertRule | None, errors: list[ConfigError]
    ) -> Change | None:
        unknown = [key for key in item if key not in RULE_FIELDS]
        for key in unknown:
            errors.append(ConfigError(item.line_of(key), f"rule {name!r}: unknown field {key!r}"))
        if unknown:
            return None
        desired = {field: _plain(_default(field)) for field in RULE_FIELDS}
        desired.update(item)
        if isinstance(desired.get("severity"), str):
            try:
                desired["severity"] = parse_severity(desired["severity"]).value
            except ValueError as exc:
                errors.append(ConfigError(item.line_of("severity"), f"rule {name!r}: {exc}"))
                return None
        # Taken first: validating a model form writes its values onto the instance.
        before = self.snapshot(rule) if rule is not None else {}
        form = AlertRuleForm(data=as_form_data(desired), instance=rule)
        if not form.is_valid():
            form_errors(form, item, f"rule {name!r}", errors)
            return None
        after = {field: _plain(form.cleaned_data.get(field)) for field in RULE_FIELDS}
        if rule is None:
            return Change(self.name, "create", repr(name), apply=self._saver(form))
        diff = {k: (before[k], after[k]) for k in RULE_FIELDS if before[k] != after[k]}
        if not diff:
            return None
        return Change(self.name, "update", repr(name), diff, apply=self._saver(form))

    def _saver(self, form):
        def apply(actor: str) -> None:
            with self.change(form.instance, actor=actor, source="import"):
                form.save()

        return apply

    def deleter(self, rule: AlertRule):
        def apply(actor: str) -> None:
            with self.removal(rule, actor=actor, source="import"):
                rule.delete()

        return apply


def _moment(value: Any) -> datetime | None:
    moment: datetime | None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        moment = parse_datetime(value.strip())
    else:
        return None
    if moment is not None and timezone.is_naive(moment):
        moment = timezone.make_aware(moment, timezone.get_current_timezone())
    return moment


def _silence_identity(matchers, starts_at, ends_at, recurrence) -> str:
    return json.dumps(
        [matchers, starts_at.isoformat(), ends_at.isoformat(), recurrence or {}],
        sort_keys=True,
        default=str,
    )


class SilencesSection:
    name = "silences"
    FIELDS = ("matchers", "starts_at", "ends_at", "recurrence", "comment")

    def export(self) -> list[dict]:
        items = []
        for silence in Silence.objects.filter(ends_at__gt=timezone.now()).order_by(
            "starts_at", "id"
        ):
            item = {
                "matchers": silence.matchers,
                "starts_at": silence.starts_at.isoformat(),
                "ends_at": silence.ends_at.isoformat(),
            }
            if silence.recurrence:
                item["recurrence"] = silence.recurrence
            if silence.comment:
                item["comment"] = silence.comment
            items.append(item)
        return items

    def plan(self, value: Any, *, prune: bool, errors: list[ConfigError]) -> list[Change]:
        if not isinstance(value, LineList):
            errors.append(ConfigError(getattr(value, "line", 0), "silences must be a list"))
            return []
        # Expired silences are history, not configuration: never matched nor pruned.
        existing = {
            _silence_identity(s.matchers, s.starts_at, s.ends_at, s.recurrence): s
            for s in Silence.objects.filter(ends_at__gt=timezone.now())
        }
        wanted: set[str] = set()
        changes: list[Change] = []
        for index, item in enumerate(value):
            line = value.item_lines[index]
            if not isinstance(item, LineDict):
                errors.append(ConfigError(line, "each silence must be a mapping of fields"))
                continue
            label = f"silence on line {line}"
            unknown = [key for key in item if key not in self.FIELDS]
            for key in unknown:
                errors.append(ConfigError(item.line_of(key), f"{label}: unknown field {key!r}"))
            if unknown:
                continue
            bad_time = False
            for key in ("starts_at", "ends_at"):
                if key in item and _moment(item[key]) is None:
                    errors.append(
                        ConfigError(
                            item.line_of(key),
                            f"{label}: {key} must be a date and time like 2026-05-01T22:00:00Z",
                        )
                    )
                    bad_time = True
            if bad_time:
                continue
            form = SilenceForm(
                data={
                    "matchers": json.dumps(item.get("matchers", [])),
                    "starts_at": _moment(item.get("starts_at")) or timezone.now(),
                    "ends_at": _moment(item.get("ends_at")) or "",
                    "recurrence": json.dumps(item.get("recurrence") or {}),
                    "comment": item.get("comment", ""),
                }
            )
            if not form.is_valid():
                form_errors(form, item, label, errors)
                continue
            data = form.cleaned_data
            identity = _silence_identity(
                data["matchers"], data["starts_at"], data["ends_at"], data["recurrence"]
            )
            wanted.add(identity)
            current = existing.get(identity)
            description = (
                f"silence {_describe(data['matchers'])} until {data['ends_at']:%Y-%m-%d %H:%M}"
            )
            if current is None:
                changes.append(Change(self.name, "create", description, apply=_save(form)))
            elif current.comment != data["comment"]:
                changes.append(
                    Change(
                        self.name,
                        "update",
                        description,
                        {"comment": (current.comment, data["comment"])},
                        apply=_save(SilenceForm(data=form.data, instance=current)),
                    )
                )
        if prune:
            for identity, silence in existing.items():
                if identity not in wanted:
                    description = _title(silence.matchers, silence.ends_at)
                    changes.append(Change(self.name, "delete", description, apply=_delete(silence)))
        return changes


def _title(matchers: list, ends_at: datetime) -> str:
    return f"silence {_describe(matchers)} until {ends_at:%Y-%m-%d %H:%M %Z}"


def _describe(matchers: list) -> str:
    return ", ".join(
        f"{m.get('field')}{'~' if m.get('op') == 'regex' else '='}{m.get('value')}"
        for m in matchers
        if isinstance(m, dict)
    )


def _save(form):
    def apply(actor: str) -> None:
        if not form.is_valid():  # a fresh form (the update path) validates on first use
            raise ValueError(f"silence no longer valid: {form.errors.as_text()}")
        form.save()

    return apply


def _delete(silence: Silence | InhibitionRule):
    def apply(actor: str) -> None:
        silence.delete()

    return apply


class InhibitionsSection:
    """Inhibition rules, keyed by name and validated by the admin's form; an entry lists
    ``source_matchers`` and what differs from the defaults (enabled, no target matchers,
    no equal fields, no description)."""

    name = "inhibitions"
    what = "inhibition rule"
    FIELDS = ("name", "enabled", "source_matchers", "target_matchers", "equal", "description")
    DEFAULTS = {"enabled": True, "target_matchers": [], "equal": [], "description": ""}

    def _values(self, rule: InhibitionRule) -> dict:
        return {name: getattr(rule, name) for name in self.FIELDS}

    def export(self) -> list[dict]:
        return [
            {
                key: value
                for key, value in self._values(rule).items()
                if key in ("name", "source_matchers") or value != self.DEFAULTS.get(key)
            }
            for rule in InhibitionRule.objects.order_by("name")
        ]

    def plan(self, value: Any, *, prune: bool, errors: list[ConfigError]) -> list[Change]:
        existing = {rule.name: rule for rule in InhibitionRule.objects.all()}
        return plan_named(self, value, existing, prune=prune, errors=errors)

    def deleter(self, rule: InhibitionRule):
        return _delete(rule)

    def plan_item(
        self, name: str, item: LineDict, current: InhibitionRule | None, errors: list[ConfigError]
    ) -> Change | None:
        label = f"inhibition rule {name!r}"
        unknown = [key for key in item if key not in self.FIELDS]
        for key in unknown:
            errors.append(ConfigError(item.line_of(key), f"{label}: unknown field {key!r}"))
        if unknown:
            return None
        form = InhibitionRuleForm(data={**self.DEFAULTS, **item}, instance=current)
        if not form.is_valid():
            form_errors(form, item, label, errors)
            return None
        after = {key: form.cleaned_data[key] for key in self.FIELDS}
        if current is None:
            return Change(self.name, "create", repr(name), apply=_saver(form))
        before = self._values(current)
        diff = {k: (before[k], after[k]) for k in self.FIELDS if before[k] != after[k]}
        if not diff:
            return None
        return Change(self.name, "update", repr(name), diff, apply=_saver(form))


def _saver(form):
    def apply(actor: str) -> None:
        form.save()

    return apply

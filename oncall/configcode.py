"""Configuration as code: sections ``schedules`` and ``escalation_policies``.

Both are keyed by name and validated by the same checks as the API
(``oncall.editing``). People are named by username (accounts are not part of the
file); a policy may name schedules, channels and routing rules that the same file
creates (``start_plan``), which are looked up when it is applied. Contact methods are
personal and stay out of files; overrides are day-to-day changes, not configuration.
"""

from __future__ import annotations

from typing import Any

from oncall import editing
from oncall.models import EscalationPolicy, Schedule
from opsconsole.configcode import Change, ConfigError, LineDict, LineList, named_items


def _plain(value: Any) -> Any:
    """A document's values as plain data, dates and times as text (to compare)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "isoformat"):
        text = value.isoformat()
        return text[:5] if len(text) == 8 and text[2] == ":" else text
    return value


class SchedulesSection:
    name = "schedules"

    def export(self) -> list[dict]:
        return [editing.schedule_as_data(s) for s in Schedule.objects.order_by("name")]

    def plan(self, value: Any, *, prune: bool, errors: list[ConfigError]) -> list[Change]:
        if not isinstance(value, LineList):
            errors.append(ConfigError(getattr(value, "line", 0), "schedules must be a list"))
            return []
        existing = {s.name: s for s in Schedule.objects.all()}
        changes: list[Change] = []
        items = named_items(value, "schedule", errors)
        for name, item in items:
            try:
                checked = editing.check_schedule(dict(item))
            except editing.EditError as exc:
                errors.append(ConfigError(item.line, f"schedule {name!r}: {exc}"))
                continue
            current = existing.get(name)
            if current is None:
                changes.append(Change(self.name, "create", repr(name), apply=_save(item, None)))
                continue
            before = _plain(editing.schedule_as_data(current))
            after = _plain(_as_export(checked))
            diff = {
                k: (before.get(k), after.get(k)) for k in after if before.get(k) != after.get(k)
            }
            if diff:
                changes.append(
                    Change(self.name, "update", repr(name), diff, apply=_save(item, current))
                )
        if prune:
            changes.extend(_deletions(self.name, existing, items))
        return changes


def _as_export(checked: dict) -> dict:
    out = {"name": checked["name"], "time_zone": checked["time_zone"]}
    if checked["description"]:
        out["description"] = checked["description"]
    out["rotations"] = [
        {
            "name": r["name"],
            "layer": r["layer"],
            "length": r["length"],
            **({"shift_hours": r["shift_hours"]} if r["length"] == "hours" else {}),
            "handoff_time": r["handoff_time"].strftime("%H:%M"),
            "start_date": r["start_date"].isoformat(),
            "participants": r["participants"],
        }
        for r in checked["rotations"]
    ]
    return out


def _save(item, instance):
    def apply(actor: str) -> None:
        editing.save_schedule(dict(item), instance)

    return apply


def _deletions(section: str, existing: dict, items) -> list[Change]:
    """What a pruning import removes: stored items the file does not name."""
    wanted = {name for name, _ in items}
    return [
        Change(section, "delete", repr(name), apply=_delete(obj))
        for name, obj in existing.items()
        if name not in wanted
    ]


def _delete(obj):
    def apply(actor: str) -> None:
        obj.delete()

    return apply


class PoliciesSection:
    name = "escalation_policies"

    def __init__(self) -> None:
        self._pending: frozenset = frozenset()

    def export(self) -> list[dict]:
        return [
            editing.policy_as_data(p)
            for p in EscalationPolicy.objects.order_by("name").prefetch_related("routing_rules")
        ]

    def start_plan(self, document: LineDict) -> None:
        pending = set()
        for section, kind in (
            ("schedules", "schedule"),
            ("channels", "channel"),
            ("routing", "routing"),
        ):
            items = document.get(section)
            for item in items if isinstance(items, list) else []:
                if isinstance(item, dict) and isinstance(item.get("name"), str):
                    pending.add((kind, item["name"]))
        self._pending = frozenset(pending)

    def plan(self, value: Any, *, prune: bool, errors: list[ConfigError]) -> list[Change]:
        if not isinstance(value, LineList):
            errors.append(
                ConfigError(getattr(value, "line", 0), "escalation_policies must be a list")
            )
            return []
        existing = {p.name: p for p in EscalationPolicy.objects.prefetch_related("routing_rules")}
        changes: list[Change] = []
        items = named_items(value, "escalation policy", errors)
        for name, item in items:
            try:
                editing.check_policy(dict(item), self._pending)
            except editing.EditError as exc:
                errors.append(ConfigError(item.line, f"escalation policy {name!r}: {exc}"))
                continue
            current = existing.get(name)
            if current is None:
                changes.append(
                    Change(self.name, "create", repr(name), apply=_save_policy(item, None))
                )
                continue
            before = _plain(editing.policy_as_data(current))
            after = _plain(
                {"description": "", "repeat": 0, "routing_rules": [], "steps": [], **dict(item)}
            )
            after["routing_rules"] = sorted(after["routing_rules"])
            after["steps"] = [{"wait_minutes": 5, **s} for s in after["steps"]]
            before.setdefault("description", "")
            diff = {k: (before.get(k), after[k]) for k in after if before.get(k) != after[k]}
            if diff:
                changes.append(
                    Change(self.name, "update", repr(name), diff, apply=_save_policy(item, current))
                )
        if prune:
            changes.extend(_deletions(self.name, existing, items))
        return changes


def _save_policy(item, instance):
    def apply(actor: str) -> None:
        editing.save_policy(dict(item), instance)

    return apply

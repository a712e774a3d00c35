"""Creating and changing channels: one validation for the API and the admin.

Secrets are write-only: a change merges the given keys into the stored ones (a key
given as null or "" is removed), so editing a channel never needs its secrets again.
A secret may be a mapping (a webhook's ``headers``): its entries merge the same way,
and its entries' names are shown (``headers.Authorization``), never their values.
"""

from __future__ import annotations

import re
from typing import Any

from django.db import IntegrityError, transaction

from alerts.constants import Category, Severity, parse_severity
from notifications.models import GROUP_FIELDS, MAX_GROUP_SECONDS, NO_GROUPING, NotificationChannel
from notifications.notifiers import available_kinds, notifier, validate


class ChannelError(ValueError):
    """The channel cannot be saved; ``problems`` holds one line per reason."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


def default_min_severity(kind: str) -> str:
    """SMS wakes people up: critical only unless an admin says otherwise."""
    if kind not in available_kinds():
        return "info"
    return getattr(notifier(kind), "DEFAULT_MIN_SEVERITY", "info")


def merged_secrets(stored: dict, given: dict | None) -> dict:
    secrets = dict(stored or {})
    for key, value in (given or {}).items():
        if isinstance(value, dict):
            # One header changed, the others kept: they are write-only too.
            inner = secrets.get(key)
            value = merged_secrets(inner if isinstance(inner, dict) else {}, value)
        if value in (None, "", {}):
            secrets.pop(key, None)
        else:
            secrets[key] = value
    return secrets


def flat_secrets(secrets: dict) -> dict[str, object]:
    """``{"url": ..., "headers": {"Authorization": ...}}`` as ``{"url": ...,
    "headers.Authorization": ...}``: one entry per value a person sets, for listing names
    and for the ``${ENV}`` reference each has in a configuration file."""
    flat: dict[str, object] = {}
    for key, value in (secrets or {}).items():
        if isinstance(value, dict):
            flat.update({f"{key}.{name}": item for name, item in value.items()})
        else:
            flat[key] = value
    return flat


def problems_for(kind: str, config: Any, secrets: Any) -> list[str]:
    if not isinstance(config, dict):
        return ["config must be a JSON object"]
    if not isinstance(secrets, dict):
        return ["secrets must be a JSON object"]
    return validate(kind, config, secrets)


def save_channel(
    channel: NotificationChannel | None = None,
    *,
    secrets: dict | None = None,
    **fields: Any,
) -> NotificationChannel:
    """Create (``channel`` None) or change a channel; ChannelError when it is not usable."""
    creating = channel is None
    channel = channel or NotificationChannel()
    for name, value in fields.items():
        setattr(channel, name, value)
    if creating and not fields.get("min_severity"):
        channel.min_severity = default_min_severity(channel.kind)
    try:
        channel.min_severity = parse_severity(channel.min_severity).value
    except ValueError as exc:
        raise ChannelError([f"min_severity: {exc}"]) from None
    if not (channel.name or "").strip():
        raise ChannelError(["name is required"])
    channel.secrets = merged_secrets(channel.secrets, secrets)
    problems = problems_for(channel.kind, channel.config, channel.secrets)
    if problems:
        raise ChannelError(problems)
    try:
        with transaction.atomic():
            channel.save()
    except IntegrityError:
        raise ChannelError([f"a channel named {channel.name!r} already exists"]) from None
    return channel


def secret_names(channel: NotificationChannel) -> list[str]:
    """Which secrets are set, never their values (``headers.Authorization`` for each of a
    webhook's headers)."""
    return sorted(key for key, value in flat_secrets(channel.secrets).items() if value)


def routing_rule_problems(fields: dict) -> list[str]:
    """What is wrong with a routing rule's matchers and targets, one line each."""
    problems = []
    if unknown := set(fields.get("severities") or []) - set(Severity.values):
        problems.append(f"severities: unknown {sorted(unknown)} (one of: {Severity.values})")
    if unknown := set(fields.get("categories") or []) - set(Category.values):
        problems.append(f"categories: unknown {sorted(unknown)} (one of: {Category.values})")
    if unknown := set(fields.get("channel_kinds") or []) - set(available_kinds()):
        problems.append(f"channel_kinds: unknown {sorted(unknown)}")
    matchers = fields.get("label_matchers") or {}
    if not isinstance(matchers, dict):
        problems.append('label_matchers must be an object: {"team": "db"}')
    problems.extend(grouping_problems(fields))
    ids = {getattr(c, "pk", c) for c in fields.get("channels") or []}
    known = set(NotificationChannel.objects.filter(pk__in=ids).values_list("pk", flat=True))
    if missing := ids - known:
        problems.append(f"channels: no channel {sorted(missing)}")
    return problems


_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:-]{0,99}$")


def grouping_problems(fields: dict) -> list[str]:
    """What is wrong with a routing rule's grouping and its timers."""
    problems = []
    group_by = fields.get("group_by", ["rule"])
    if not isinstance(group_by, list) or not all(isinstance(v, str) for v in group_by):
        return ['group_by must be a list of names: ["rule", "host"]']
    if NO_GROUPING in group_by and len(group_by) > 1:
        problems.append(f'group_by: "{NO_GROUPING}" (no grouping) stands alone')
    if bad := [v for v in group_by if v != NO_GROUPING and not _LABEL_NAME.match(v)]:
        problems.append(
            f"group_by: {', '.join(map(repr, bad))} is not a field or label name "
            f"(fields: {', '.join(GROUP_FIELDS)}; or a label such as team)"
        )
    if len(set(group_by)) != len(group_by):
        problems.append("group_by: a name is listed twice")
    for name, low in (("group_wait", 0), ("group_interval", 0), ("repeat_interval", 60)):
        value = fields.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(f"{name} must be a whole number of seconds")
        elif not low <= value <= MAX_GROUP_SECONDS:
            problems.append(f"{name} must be between {low} and {MAX_GROUP_SECONDS} seconds")
    return problems

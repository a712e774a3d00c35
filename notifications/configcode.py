"""Notification channels and routing rules in configuration files (see
opsconsole/configcode.py), and the version history of routing rules.

Channels are keyed by name. Their secrets are written only as references to
environment variables (``url: ${OPS_HOOK_URL}``), on export and on import: a file never
holds a token, and a channel remembers which variable each secret came from so the next
export writes the same reference. On import a reference to a variable that is not set
keeps the secret the channel already stores (the file can be checked or re-applied on
a machine without the variables), and is an error for a secret the channel lacks.

Routing rules are keyed by name and name their channels by name, so a file moves
between installations; a file may route to channels it creates itself. Every edit of a
routing rule (admin, API, import, rollback) leaves a version in the history.
"""

from __future__ import annotations

import re
from typing import Any

from alerts.constants import parse_severity
from notifications.channels import flat_secrets, problems_for, routing_rule_problems
from notifications.models import NotificationChannel, RoutingRule
from opsconsole import versions
from opsconsole.configcode import (
    Change,
    ConfigError,
    LineDict,
    is_reference,
    plan_named,
    resolve_references,
)
from opsconsole.scrubbing import is_secret_key

CHANNEL_FIELDS: dict[str, Any] = {
    "name": None,
    "kind": None,
    "enabled": True,
    "config": {},
    "min_severity": None,
    "send_resolved": True,
    "rate_limit_per_minute": None,
    "secrets": {},
}
_REFERENCE_NAME = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def default_reference(channel_name: str, key: str) -> str:
    """The variable named in an export for a secret no file has named yet."""
    stem = re.sub(r"[^A-Za-z0-9]+", "_", f"{channel_name}_{key}").strip("_").upper()
    return f"NOTIFY_{stem}"


def _problem_line(problem: str, item: LineDict) -> int:
    """The line of the key a validation message names (``config.to``, ``secrets.url``)."""
    head = problem.split(" ", 1)[0].rstrip(":")
    where, _, key = head.partition(".")
    if where in ("config", "secrets") and isinstance(item.get(where), LineDict):
        nested = item[where]
        return nested.line_of(key) if key in nested else item.line_of(where)
    bare = head.split(".")[-1]
    for name in ("config", "secrets"):
        nested = item.get(name)
        if isinstance(nested, LineDict) and bare in nested:
            return nested.line_of(bare)
    return item.line


class ChannelsSection:
    name = "channels"
    what = "channel"

    def export(self) -> list[dict]:
        items = []
        for channel in NotificationChannel.objects.order_by("name"):
            item: dict[str, Any] = {"name": channel.name, "kind": channel.kind}
            if not channel.enabled:
                item["enabled"] = False
            if channel.config:
                item["config"] = channel.config
            item["min_severity"] = channel.min_severity
            if not channel.send_resolved:
                item["send_resolved"] = False
            if channel.rate_limit_per_minute is not None:
                item["rate_limit_per_minute"] = channel.rate_limit_per_minute
            secrets: dict[str, Any] = {}
            for key, value in sorted(flat_secrets(channel.secrets).items()):
                if not value:
                    continue
                reference = f"${{{self._reference(channel, key)}}}"
                # A webhook's headers stay a mapping: secrets.headers.Authorization.
                head, nested, name = key.partition(".")
                if nested:
                    secrets.setdefault(head, {})[name] = reference
                else:
                    secrets[key] = reference
            if secrets:
                item["secrets"] = secrets
            items.append(item)
        return items

    @staticmethod
    def _reference(channel: NotificationChannel, key: str) -> str:
        return (channel.secret_refs or {}).get(key) or default_reference(channel.name, key)

    def plan(self, value: Any, *, prune: bool, errors: list[ConfigError]) -> list[Change]:
        existing = {channel.name: channel for channel in NotificationChannel.objects.all()}
        return plan_named(self, value, existing, prune=prune, errors=errors)

    def deleter(self, channel: NotificationChannel):
        return _deleter(channel)

    def plan_item(
        self,
        name: str,
        item: LineDict,
        channel: NotificationChannel | None,
        errors: list[ConfigError],
    ) -> Change | None:
        label = f"channel {name!r}"
        found: list[ConfigError] = []
        for key in item:
            if key not in CHANNEL_FIELDS:
                found.append(ConfigError(item.line_of(key), f"{label}: unknown field {key!r}"))
        kind = item.get("kind")
        if not isinstance(kind, str) or not kind:
            found.append(ConfigError(item.line, f"{label}: kind is required"))
        config = item.get("config") or LineDict()
        if not isinstance(config, dict):
            found.append(ConfigError(item.line_of("config"), f"{label}: config must be a mapping"))
        severity = item.get("min_severity")
        if severity is not None:
            try:
                severity = parse_severity(severity).value
            except ValueError as exc:
                found.append(ConfigError(item.line_of("min_severity"), f"{label}: {exc}"))
        for flag in ("enabled", "send_resolved"):
            if flag in item and not isinstance(item[flag], bool):
                found.append(
                    ConfigError(item.line_of(flag), f"{label}: {flag} must be true or false")
                )
        rate = item.get("rate_limit_per_minute")
        if rate is not None and (not isinstance(rate, int) or isinstance(rate, bool) or rate < 0):
            found.append(
                ConfigError(
                    item.line_of("rate_limit_per_minute"),
                    f"{label}: rate_limit_per_minute must be a whole number, 0 or more",
                )
            )
        secrets, refs = self._secrets(item, channel, label, found)
        if found:
            errors.extend(found)
            return None
        assert isinstance(kind, str)  # a kind that is not a string is among the errors found
        for problem in problems_for(kind, dict(config), secrets):
            errors.append(ConfigError(_problem_line(problem, item), f"{label}: {problem}"))
            found.append(errors[-1])
        if found:
            return None
        if severity is None:
            from notifications.channels import default_min_severity

            severity = channel.min_severity if channel is not None else default_min_severity(kind)
        desired = {
            "kind": kind,
            "enabled": item.get("enabled", True),
            "config": _plain(config),
            "min_severity": severity,
            "send_resolved": item.get("send_resolved", True),
            "rate_limit_per_minute": rate,
        }
        if channel is None:
            return Change(
                self.name,
                "create",
                repr(name),
                apply=_channel_saver(None, name, desired, secrets, refs),
            )
        diff = {
            key: (getattr(channel, key), value)
            for key, value in desired.items()
            if getattr(channel, key) != value
        }
        stored = flat_secrets(channel.secrets)
        flat = flat_secrets(secrets)
        for key in sorted(set(stored) | set(flat)):
            before_ref = self._reference(channel, key) if stored.get(key) else None
            after_ref = refs.get(key) if key in flat else None
            # Values are compared but never shown: the diff names the references only.
            if stored.get(key) != flat.get(key) or before_ref != after_ref:
                diff[f"secrets.{key}"] = (
                    f"${{{before_ref}}}" if before_ref else None,
                    f"${{{after_ref}}}" if after_ref else None,
                )
        if not diff:
            return None
        return Change(
            self.name,
            "update",
            repr(name),
            diff,
            apply=_channel_saver(channel, name, desired, secrets, refs),
        )

    def _secrets(
        self,
        item: LineDict,
        channel: NotificationChannel | None,
        label: str,
        found: list[ConfigError],
    ) -> tuple[dict, dict]:
        given = item.get("secrets")
        if given is None:
            return {}, {}
        if not isinstance(given, LineDict):
            found.append(
                ConfigError(
                    item.line_of("secrets"),
                    f"{label}: secrets must be a mapping of names to ${{ENV_NAME}} references",
                )
            )
            return {}, {}
        stored = flat_secrets(channel.secrets if channel is not None else {})
        secrets: dict[str, Any] = {}
        refs: dict[str, str] = {}
        name = item.get("name", "")

        def take(key: str, value: Any, where: int) -> Any:
            """One secret's value from its reference (or the stored one), else None."""
            if not is_reference(value):
                # Keys that name a secret are reported by the document-wide check already.
                leaf = key.rpartition(".")[2]
                if not (is_secret_key(leaf) and value):
                    found.append(
                        ConfigError(
                            where,
                            f"{label}: secrets.{key} must be a reference to an environment "
                            f"variable, like ${{{default_reference(name, key)}}}",
                        )
                    )
                return None
            reference = _REFERENCE_NAME.fullmatch(value.strip())
            assert reference is not None  # is_reference() matched the same pattern
            variable = reference.group(1)
            refs[key] = variable
            try:
                return resolve_references(value.strip())
            except KeyError:
                if stored.get(key):
                    return stored[key]
                found.append(
                    ConfigError(
                        where,
                        f"{label}: secrets.{key}: the environment variable {variable} is not set",
                    )
                )
                return None

        for key, value in given.items():
            if isinstance(value, LineDict):  # a webhook's headers, each a secret
                taken = {
                    header: take(f"{key}.{header}", inner, value.line_of(header))
                    for header, inner in value.items()
                }
                secrets[key] = {k: v for k, v in taken.items() if v is not None}
                continue
            taken = take(key, value, given.line_of(key))
            if taken is not None:
                secrets[key] = taken
        return secrets, refs


def _plain(value: Any) -> Any:
    """LineDict/LineList as plain JSON values, for storing and comparing."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _channel_saver(
    channel: NotificationChannel | None, name: str, desired: dict, secrets: dict, refs: dict
):
    def apply(actor: str) -> None:
        from notifications.channels import save_channel

        target = channel or NotificationChannel()
        # The file holds the whole set: a secret it no longer lists is removed.
        target.secrets = dict(secrets)
        save_channel(target, name=name, secret_refs=dict(refs), **desired)

    return apply


def _deleter(obj):
    def apply(actor: str) -> None:
        obj.delete()

    return apply


# -- routing rules ---------------------------------------------------------------------------
ROUTING_FIELDS: dict[str, Any] = {
    "name": None,
    "position": 100,
    "enabled": True,
    "severities": [],
    "categories": [],
    "label_matchers": {},
    "channel_kinds": [],
    "all_channels": False,
    "channels": [],
    "group_by": ["rule"],
    "group_wait": 30,
    "group_interval": 300,
    "repeat_interval": 4 * 3600,
}


class RoutingSection(versions.VersionedSection):
    name = "routing"
    what = "routing rule"
    model = RoutingRule
    permission = "notifications.change_routingrule"

    def __init__(self) -> None:
        self._file_channels: set[str] = set()
        self._known_channels: set[str] = set()

    # -- history ----------------------------------------------------------------------
    def snapshot(self, rule: RoutingRule) -> dict:
        values = {key: getattr(rule, key) for key in ROUTING_FIELDS if key != "channels"}
        values["channels"] = sorted(channel.name for channel in rule.channels.all())
        return values

    def restore(self, object_key: str, snapshot: dict | None, actor: str) -> None:
        rule = RoutingRule.objects.filter(pk=int(object_key)).first()
        if snapshot is None:
            if rule is not None:
                with self.removal(rule, actor=actor, source="rollback"):
                    rule.delete()
            return
        names = list(snapshot.get("channels") or [])
        channels = list(NotificationChannel.objects.filter(name__in=names))
        if missing := sorted(set(names) - {channel.name for channel in channels}):
            raise versions.RollbackError(
                f"that version routes to channels that no longer exist: {', '.join(missing)}"
            )
        fields = {key: snapshot.get(key, default) for key, default in ROUTING_FIELDS.items()}
        fields["channels"] = channels
        if problems := routing_rule_problems(fields):
            raise versions.RollbackError(f"that version is no longer valid: {'; '.join(problems)}")
        if rule is None:
            rule = RoutingRule(pk=int(object_key))  # the same id, so its history continues
        clash = RoutingRule.objects.filter(name=fields["name"]).exclude(pk=rule.pk).first()
        if clash is not None:
            raise versions.RollbackError(f"another routing rule is now named {clash.name!r}")
        with self.change(rule, actor=actor, source="rollback"):
            for key, value in fields.items():
                if key != "channels":
                    setattr(rule, key, value)
            rule.save()
            rule.channels.set(channels)

    # -- files ------------------------------------------------------------------------
    def export(self) -> list[dict]:
        items = []
        for rule in RoutingRule.objects.prefetch_related("channels").order_by("position", "name"):
            snapshot = self.snapshot(rule)
            items.append(
                {
                    key: value
                    for key, value in snapshot.items()
                    if key == "name" or value != ROUTING_FIELDS[key]
                }
            )
        return items

    def start_plan(self, document: LineDict) -> None:
        channels = document.get("channels")
        self._file_channels = {
            item["name"]
            for item in (channels if isinstance(channels, list) else [])
            if isinstance(item, dict) and isinstance(item.get("name"), str)
        }

    def plan(self, value: Any, *, prune: bool, errors: list[ConfigError]) -> list[Change]:
        existing = {rule.name: rule for rule in RoutingRule.objects.prefetch_related("channels")}
        stored_channels = set(NotificationChannel.objects.values_list("name", flat=True))
        self._known_channels = stored_channels | self._file_channels
        return plan_named(self, value, existing, prune=prune, errors=errors)

    def plan_item(
        self, name: str, item: LineDict, rule: RoutingRule | None, errors: list[ConfigError]
    ) -> Change | None:
        label = f"routing rule {name!r}"
        found = [
            ConfigError(item.line_of(key), f"{label}: unknown field {key!r}")
            for key in item
            if key not in ROUTING_FIELDS
        ]
        desired = {key: _plain(item.get(key, default)) for key, default in ROUTING_FIELDS.items()}
        found.extend(_type_errors(desired, item, label))
        if found:
            errors.extend(found)
            return None
        names = desired["channels"]
        if missing := [n for n in names if n not in self._known_channels]:
            errors.append(
                ConfigError(
                    item.line_of("channels"),
                    f"{label}: no channel named {', '.join(map(repr, missing))}",
                )
            )
            return None
        # Channels are checked by name above; the rest as the API and admin check it.
        problems = routing_rule_problems({**desired, "channels": []})
        for problem in problems:
            key = problem.split(":", 1)[0]
            where = item.line_of(key) if key in item else item.line
            errors.append(ConfigError(where, f"{label}: {problem}"))
        if problems:
            return None
        desired["channels"] = sorted(names)
        if rule is None:
            return Change(self.name, "create", repr(name), apply=self._saver(None, desired))
        before = self.snapshot(rule)
        diff = {k: (before[k], desired[k]) for k in ROUTING_FIELDS if before[k] != desired[k]}
        if not diff:
            return None
        return Change(self.name, "update", repr(name), diff, apply=self._saver(rule, desired))

    def _saver(self, rule: RoutingRule | None, desired: dict):
        def apply(actor: str) -> None:
            target = rule if rule is not None else RoutingRule()
            with self.change(target, actor=actor, source="import"):
                for key, value in desired.items():
                    if key != "channels":
                        setattr(target, key, value)
                target.save()
                # Looked up now: the channels section of the same file has been applied.
                names = desired["channels"]
                target.channels.set(NotificationChannel.objects.filter(name__in=names))

        return apply

    def deleter(self, rule: RoutingRule):
        def apply(actor: str) -> None:
            with self.removal(rule, actor=actor, source="import"):
                rule.delete()

        return apply


def _type_errors(desired: dict, item: LineDict, label: str) -> list[ConfigError]:
    found = []
    expected = {
        "position": (int, "a whole number"),
        "enabled": (bool, "true or false"),
        "all_channels": (bool, "true or false"),
        "severities": (list, "a list"),
        "categories": (list, "a list"),
        "channel_kinds": (list, "a list"),
        "channels": (list, "a list of channel names"),
        "label_matchers": (dict, "a mapping of label to value"),
        "group_by": (list, "a list of field or label names"),
        "group_wait": (int, "a whole number of seconds"),
        "group_interval": (int, "a whole number of seconds"),
        "repeat_interval": (int, "a whole number of seconds"),
    }
    for key, (kind, words) in expected.items():
        value = desired[key]
        wrong = not isinstance(value, kind) or (kind is int and isinstance(value, bool))
        if kind is int and not wrong and value < 0:
            wrong = True
        if wrong:
            where = item.line_of(key) if key in item else item.line
            found.append(ConfigError(where, f"{label}: {key} must be {words}"))
    if isinstance(desired["channels"], list) and not all(
        isinstance(name, str) for name in desired["channels"]
    ):
        found.append(ConfigError(item.line_of("channels"), f"{label}: channels are named by name"))
    return found


def routing_history() -> RoutingSection:
    from opsconsole.configcode import registered_sections

    section = registered_sections().get(RoutingSection.name)
    return section if isinstance(section, RoutingSection) else RoutingSection()

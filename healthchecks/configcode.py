"""Service endpoints in configuration files (see opsconsole/configcode.py).

Endpoints are keyed by name and validated by the admin's form; a parent is named, not
numbered. An entry lists the fields that differ from the defaults, so export and import
are each other's inverse. Runtime state (state, last check, heartbeat pings) is never
written or read.

The recovery webhook URL and any secret-named HTTP header (Authorization, ...) carry
credentials, so a file holds them only as ``${ENV_NAME}`` references. When the variable
is not set where the file is applied, the value the endpoint already stores is kept
(the file can be checked on a machine without the variables); for an endpoint that has
none, that is an error.
"""

from __future__ import annotations

import re
from typing import Any, cast

from django.db.models import Field

from alerts.constants import parse_severity
from healthchecks.forms import ServiceEndpointForm
from healthchecks.models import ServiceEndpoint
from opsconsole.apitools import as_form_data
from opsconsole.configcode import (
    Change,
    ConfigError,
    LineDict,
    LineList,
    form_errors,
    is_reference,
    named_list,
    pruned,
    resolve_references,
)
from opsconsole.scrubbing import is_secret_key

FIELDS = list(ServiceEndpointForm.Meta.fields)
WEBHOOK = "recovery_webhook_url"
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def reference_for(endpoint_name: str, key: str) -> str:
    """The variable an export names for one of an endpoint's secrets."""
    stem = re.sub(r"[^A-Za-z0-9]+", "_", f"{endpoint_name}_{key}").strip("_").upper()
    return f"${{ENDPOINT_{stem}}}"


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _default(name: str) -> Any:
    if name in ("parent", "host"):
        return None
    return _plain(cast(Field, ServiceEndpoint._meta.get_field(name)).get_default())


def snapshot(endpoint: ServiceEndpoint) -> dict:
    """The editable fields as stored, the parent and the host by name."""
    values = {
        name: _plain(getattr(endpoint, name)) for name in FIELDS if name not in ("parent", "host")
    }
    values["parent"] = endpoint.parent.name if endpoint.parent else None
    values["host"] = endpoint.host.hostname if endpoint.host else None
    return {name: values[name] for name in FIELDS}


class EndpointsSection:
    name = "endpoints"
    permission = "healthchecks.change_serviceendpoint"

    def export(self) -> list[dict]:
        items = []
        endpoints = ServiceEndpoint.objects.select_related("parent", "host").order_by("name")
        for endpoint in endpoints:
            values = snapshot(endpoint)
            if values[WEBHOOK]:
                values[WEBHOOK] = reference_for(endpoint.name, WEBHOOK)
            values["http_headers"] = {
                key: reference_for(endpoint.name, key) if is_secret_key(key) and value else value
                for key, value in values["http_headers"].items()
            }
            items.append(
                {
                    key: value
                    for key, value in values.items()
                    if key in {"name", "kind"} or value != _default(key)
                }
            )
        return items

    def plan(self, value: Any, *, prune: bool, errors: list[ConfigError]) -> list[Change]:
        items = named_list(self.name, value, "endpoint", errors)
        if not isinstance(value, LineList):
            return []
        existing = {
            endpoint.name: endpoint
            for endpoint in ServiceEndpoint.objects.select_related("parent", "host")
        }
        named = {
            item.get("name")
            for item in value
            if isinstance(item, LineDict) and isinstance(item.get("name"), str)
        }
        planned: list[tuple[str | None, Change]] = []
        for _, item in items:
            found = self._plan_one(item, existing, named, errors)
            if found is not None:
                planned.append(found)
        _refuse_loops(value, existing, errors)
        changes = _parents_first([change for _, change in planned], planned)
        if prune:
            seen = {name for name, _ in items}
            changes.extend(pruned(self.name, existing, seen, lambda e: _deleter(e.pk)))
        return changes

    def _plan_one(
        self, item: LineDict, existing: dict, named: set, errors: list[ConfigError]
    ) -> tuple[str | None, Change] | None:
        name = item["name"]
        label = f"endpoint {name!r}"
        unknown = [key for key in item if key not in FIELDS]
        for key in unknown:
            errors.append(ConfigError(item.line_of(key), f"{label}: unknown field {key!r}"))
        if unknown:
            return None
        endpoint = existing.get(name)
        before = snapshot(endpoint) if endpoint is not None else {}
        desired = {field: _default(field) for field in FIELDS}
        desired.update(_plain(dict(item)))
        problems_before = len(errors)
        if isinstance(desired.get("severity"), str):
            try:
                desired["severity"] = parse_severity(desired["severity"]).value
            except ValueError as exc:
                errors.append(ConfigError(item.line_of("severity"), f"{label}: {exc}"))
        desired[WEBHOOK] = self._secret(
            desired[WEBHOOK],
            before.get(WEBHOOK),
            item.line_of(WEBHOOK),
            f"{label}: {WEBHOOK}",
            errors,
        )
        headers = desired.get("http_headers")
        if isinstance(headers, dict):
            stored = before.get("http_headers") or {}
            nested: LineDict = item.get("http_headers") or LineDict()
            desired["http_headers"] = {
                key: self._secret(
                    header,
                    stored.get(key),
                    nested.line_of(key),
                    f"{label}: http_headers.{key}",
                    errors,
                )
                for key, header in headers.items()
            }
        # A parent made by the same file is linked once it exists (see _parents_first).
        parent_name = desired.get("parent")
        later_parent = None
        if parent_name is not None:
            parent = existing.get(str(parent_name))
            if parent is not None:
                desired["parent"] = parent.pk
            elif str(parent_name) in named and str(parent_name) != name:
                later_parent = str(parent_name)
                desired["parent"] = None
            else:
                errors.append(
                    ConfigError(
                        item.line_of("parent"),
                        f"{label}: parent: no endpoint named {parent_name!r}",
                    )
                )
        if len(errors) > problems_before:
            return None
        form = ServiceEndpointForm(data=as_form_data(desired), instance=endpoint)
        if not form.is_valid():
            form_errors(form, item, label, errors)
            return None
        if endpoint is None:
            return later_parent, Change(
                self.name, "create", repr(name), apply=_saver(form, later_parent)
            )
        after = snapshot(form.instance)
        if later_parent is not None:
            after["parent"] = later_parent
        diff = {
            key: (_shown(key, before[key]), _shown(key, after[key]))
            for key in FIELDS
            if before[key] != after[key]
        }
        if not diff:
            return None
        return later_parent, Change(
            self.name, "update", repr(name), diff, apply=_saver(form, later_parent)
        )

    def _secret(
        self, value: Any, stored: Any, line: int, label: str, errors: list[ConfigError]
    ) -> Any:
        """A ``${ENV}`` reference resolved; inline values are refused document-wide."""
        if not is_reference(value):
            return value
        try:
            return resolve_references(value.strip())
        except KeyError:
            if stored:
                return stored
            reference = _VARIABLE.fullmatch(value.strip())
            assert reference is not None  # is_reference() matched the same pattern
            variable = reference.group(1)
            errors.append(
                ConfigError(line, f"{label}: the environment variable {variable} is not set")
            )
            return ""


def _refuse_loops(value: LineList, existing: dict, errors: list[ConfigError]) -> None:
    """The form sees one endpoint at a time; a loop through endpoints the file creates
    or re-parents is only visible in the parents the whole file leaves behind."""
    parents = {name: (e.parent.name if e.parent_id else None) for name, e in existing.items()}
    items = {}
    for item in value:
        if isinstance(item, LineDict) and isinstance(item.get("name"), str):
            parent = item.get("parent")
            parents[item["name"]] = str(parent) if parent is not None else None
            items[item["name"]] = item
    for name, item in items.items():
        seen = {name}
        parent = parents.get(name)
        while parent is not None and parent not in seen:
            seen.add(parent)
            parent = parents.get(parent)
        loop = ConfigError(
            item.line_of("parent"), f"endpoint {name!r}: parent: this would make a dependency loop"
        )
        # The form reports a loop through stored parents in the same words: say it once.
        if parent == name and loop not in errors:
            errors.append(loop)


def _shown(key: str, value: Any) -> Any:
    """A diff never prints a secret."""
    if key == WEBHOOK and value:
        return "(secret)"
    if key == "http_headers" and isinstance(value, dict):
        return {k: "(secret)" if is_secret_key(k) and v else v for k, v in value.items()}
    return value


def _parents_first(changes: list[Change], planned: list[tuple[str | None, Change]]) -> list[Change]:
    """Creates and updates ordered so a parent made by the file exists before its children."""
    by_key = {change.key: (parent, change) for parent, change in planned}
    ordered: list[Change] = []
    placed: set[str] = set()

    def place(key: str, trail: tuple = ()) -> None:
        if key in placed or key in trail or key not in by_key:
            return
        parent, change = by_key[key]
        if parent is not None:
            place(repr(parent), (*trail, key))
        placed.add(key)
        ordered.append(change)

    for change in changes:
        place(change.key)
    return ordered


def _saver(form: ServiceEndpointForm, parent_name: str | None):
    def apply(actor: str) -> None:
        endpoint = form.save(commit=False)
        if parent_name is not None:
            endpoint.parent = ServiceEndpoint.objects.get(name=parent_name)
        endpoint.save()

    return apply


def _deleter(pk: int):
    def apply(actor: str) -> None:
        ServiceEndpoint.objects.filter(pk=pk).delete()

    return apply

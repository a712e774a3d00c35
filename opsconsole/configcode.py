"""Configuration as code: the console's rules, silences, thresholds (and whatever other
apps register) as one YAML or JSON document, exported and imported by
``manage.py export_config`` / ``import_config``.

A document maps section names to their items::

    version: 1
    rules:
      - name: High CPU usage
        metric: cpu_usage_percent
        threshold: 80
    thresholds:
      cpu: 80

Each app registers its sections from ``AppConfig.ready`` (``register_section``). An
import is planned in full before anything is written: every problem is reported with
the line of the item (or key) at fault, and one problem changes nothing. Applying the
same document twice changes nothing the second time. Secrets never appear inline:
a key that names a secret must hold a ``${ENV_NAME}`` reference.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import yaml
from django.db import transaction

from opsconsole.scrubbing import is_secret_key

FORMAT_VERSION = 1
_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


# -- documents with line numbers ---------------------------------------------------------------
class LineDict(dict):
    """A mapping that remembers its line and the line of each key (1-based)."""

    line: int = 0
    key_lines: dict

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class LineList(list):
    line: int = 0
    item_lines: list


class _LineLoader(yaml.SafeLoader):
    """SafeLoader whose mappings and sequences carry line numbers. JSON is read by it
    too (a JSON document is YAML), so JSON files get line-accurate errors as well."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineDict:
    data = LineDict()
    data.line = node.start_mark.line + 1
    data.key_lines = {}
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str | int | float | bool) and key is not None:
            raise yaml.constructor.ConstructorError(
                None, None, "a key must be plain text", key_node.start_mark
            )
        if key in data:
            raise yaml.constructor.ConstructorError(
                None, None, f"the key {key!r} appears twice", key_node.start_mark
            )
        data[key] = loader.construct_object(value_node, deep=True)
        data.key_lines[key] = key_node.start_mark.line + 1
    return data


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> LineList:
    data = LineList(loader.construct_object(child, deep=True) for child in node.value)
    data.line = node.start_mark.line + 1
    data.item_lines = [child.start_mark.line + 1 for child in node.value]
    return data


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def line_of(value: Any, default: int = 0) -> int:
    return getattr(value, "line", default) or default


@dataclass
class ConfigError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


class InvalidConfig(ValueError):
    """The document cannot be imported; ``errors`` says where and why."""

    def __init__(self, errors: list[ConfigError]):
        self.errors = sorted(errors, key=lambda error: error.line)
        super().__init__("; ".join(str(error) for error in self.errors))


def parse(text: str) -> LineDict:
    """The document as nested LineDict/LineList; InvalidConfig on a syntax error."""
    try:
        document = yaml.load(text, Loader=_LineLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        raise InvalidConfig([ConfigError(line, f"not valid YAML or JSON: {exc.problem}")]) from None
    except yaml.YAMLError as exc:
        raise InvalidConfig([ConfigError(0, f"not valid YAML or JSON: {exc}")]) from None
    if document is None:
        document = LineDict()
        document.line, document.key_lines = 1, {}
    if not isinstance(document, LineDict):
        raise InvalidConfig([ConfigError(1, "the document must be a mapping of sections")])
    return document


# -- secrets by reference --------------------------------------------------------------------
def is_reference(value: Any) -> bool:
    return isinstance(value, str) and _REFERENCE.fullmatch(value.strip()) is not None


def resolve_references(value: str, environ: Mapping[str, str] | None = None) -> str:
    """``${NAME}`` replaced by the environment variable's value; KeyError names a missing one."""
    env: Mapping[str, str] = os.environ if environ is None else environ

    def replace(match: re.Match) -> str:
        name = match.group(1)
        if name not in env:
            raise KeyError(name)
        return env[name]

    return _REFERENCE.sub(replace, value)


def check_secrets(value: Any, errors: list[ConfigError], line: int = 0) -> None:
    """Every value under a secret-naming key must be a ``${ENV_NAME}`` reference."""
    if isinstance(value, LineDict):
        for key, item in value.items():
            where = value.line_of(key)
            if isinstance(key, str) and is_secret_key(key) and isinstance(item, str) and item:
                if not is_reference(item):
                    errors.append(
                        ConfigError(
                            where,
                            f"{key} holds a secret inline; write a reference to an environment "
                            f"variable instead, like ${{{key.upper()}}}",
                        )
                    )
            else:
                check_secrets(item, errors, where)
    elif isinstance(value, LineList):
        for index, item in enumerate(value):
            check_secrets(item, errors, value.item_lines[index])


# -- sections ----------------------------------------------------------------------------------
def named_items(value: LineList, what: str, errors: list[ConfigError]):
    """The items of a section's list that are mappings with a unique name, as
    ``(name, item)``; the others are reported at their line and left out."""
    article = "an" if what[0] in "aeiou" else "a"
    first_line: dict[str, int] = {}
    items: list[tuple[str, LineDict]] = []
    for index, item in enumerate(value):
        line = value.item_lines[index]
        if not isinstance(item, LineDict):
            errors.append(ConfigError(line, f"each {what} must be a mapping of fields"))
            continue
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            errors.append(ConfigError(line, f"{article} {what} needs a name"))
            continue
        if name in first_line:
            errors.append(
                ConfigError(
                    line, f"{what} {name!r} appears twice (first on line {first_line[name]})"
                )
            )
            continue
        first_line[name] = line
        items.append((name, item))
    return items


class NamedSection(Protocol):
    """A section that is a list of named items (rules, channels, ...), for ``plan_named``:
    ``what`` one item is called in messages, ``plan_item(name, item, stored, errors)``
    its change (None when there is nothing to do or its problems are in ``errors``;
    ``stored``: the item of that name, or None) and ``deleter(stored)`` what deletes one."""

    name: str
    what: str

    def plan_item(
        self, name: str, item: LineDict, stored: Any, errors: list[ConfigError]
    ) -> Change | None: ...

    def deleter(self, stored: Any) -> Callable[[str], None]: ...


def plan_named(
    section: NamedSection,
    value: Any,
    existing: dict[str, Any],
    *,
    prune: bool,
    errors: list[ConfigError],
) -> list[Change]:
    """The section's plan: each item's change, then with ``prune`` a delete of each stored
    item (``existing``, by name) the list no longer names, in name order."""
    items = named_list(section.name, value, section.what, errors)
    planned = (section.plan_item(n, item, existing.get(n), errors) for n, item in items)
    changes = [found for found in planned if found is not None]
    if prune:
        seen = {name for name, _ in items}
        changes.extend(pruned(section.name, existing, seen, section.deleter))
    return changes


def named_list(
    section: str, value: Any, what: str, errors: list[ConfigError]
) -> list[tuple[str, LineDict]]:
    """``named_items`` of a section's value, or none and an error if it is not a list."""
    if not isinstance(value, LineList):
        errors.append(ConfigError(getattr(value, "line", 0), f"{section} must be a list"))
        return []
    return named_items(value, what, errors)


def pruned(
    section: str,
    existing: dict[str, Any],
    seen: set[str],
    deleter: Callable[[Any], Callable[[str], None]],
) -> list[Change]:
    """Deletes of the stored items a file no longer names (an import with --prune)."""
    return [
        Change(section, "delete", repr(name), apply=deleter(obj))
        for name, obj in sorted(existing.items())
        if name not in seen
    ]


def form_errors(form, item: LineDict, label: str, errors: list[ConfigError]) -> None:
    """A model form's errors at the lines of the fields they name (the item's own line
    for the form's general errors)."""
    for name, messages in form.errors.items():
        where = item.line_of(name) if name in item else item.line
        prefix = f"{label}: {name}: " if name != "__all__" else f"{label}: "
        errors.extend(ConfigError(where, prefix + str(message)) for message in messages)


@dataclass
class Change:
    section: str
    action: str  # create, update, delete
    key: str
    fields: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    apply: Callable[[str], None] | None = None

    def describe(self) -> str:
        sign = {"create": "+", "update": "~", "delete": "-"}[self.action]
        head = f"  {sign} {self.action} {self.key}"
        if self.action != "update":
            return head
        parts = [
            f"{name}: {_show(old)} -> {_show(new)}" for name, (old, new) in self.fields.items()
        ]
        return head + "\n" + "\n".join(f"      {part}" for part in parts)


def _show(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)


class Section(Protocol):
    """What an app registers. ``plan`` appends to ``errors`` rather than raising, so one
    import reports every problem at once."""

    name: str

    def export(self) -> Any: ...

    def plan(self, value: Any, *, prune: bool, errors: list[ConfigError]) -> list[Change]: ...


_sections: dict[str, Section] = {}


def register_section(section: Section) -> None:
    _sections[section.name] = section


def registered_sections() -> dict[str, Section]:
    return dict(_sections)


def export_document(names: list[str] | None = None) -> dict:
    chosen = names or list(_sections)
    unknown = [name for name in chosen if name not in _sections]
    if unknown:
        raise ValueError(f"unknown section(s) {', '.join(unknown)}; known: {', '.join(_sections)}")
    return {"version": FORMAT_VERSION, **{name: _sections[name].export() for name in chosen}}


def dump(document: dict, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n"
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, default_flow_style=False)


def plan(document: LineDict, *, prune: bool = False) -> list[Change]:
    """Every change the document asks for; InvalidConfig (with lines) if any item is bad."""
    errors: list[ConfigError] = []
    version = document.get("version", FORMAT_VERSION)
    if version != FORMAT_VERSION:
        errors.append(
            ConfigError(
                document.line_of("version"), f"version {version!r} is not supported (use 1)"
            )
        )
    for key in document:
        if key != "version" and key not in _sections:
            errors.append(
                ConfigError(
                    document.line_of(key),
                    f"unknown section {key!r} (known: {', '.join(_sections)})",
                )
            )
    check_secrets(document, errors)
    for section in _sections.values():
        # A section whose items name another section's items (routing rules name
        # channels) sees the whole document first: names created by the same file count.
        start = getattr(section, "start_plan", None)
        if start is not None:
            start(document)
    changes: list[Change] = []
    for name, section in _sections.items():
        if name in document:
            found: list[ConfigError] = []
            changes.extend(section.plan(document[name], prune=prune, errors=found))
            # A section given a scalar (or nothing) has no line of its own: use its key's.
            errors.extend(
                ConfigError(error.line or document.line_of(name), error.message) for error in found
            )
    if errors:
        raise InvalidConfig(errors)
    return changes


def apply(changes: list[Change], *, actor: str) -> None:
    """All the changes, or (on any error) none; the audit names ``actor`` for each."""
    from opsconsole import audit

    with transaction.atomic(), audit.acting_as(actor):
        for change in changes:
            if change.apply is not None:
                change.apply(actor)


def diff_text(changes: list[Change], names: list[str]) -> str:
    lines = []
    for name in names:
        mine = [change for change in changes if change.section == name]
        if not mine:
            lines.append(f"{name}: no changes")
            continue
        lines.append(f"{name}:")
        lines.extend(change.describe() for change in mine)
    return "\n".join(lines)

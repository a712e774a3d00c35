"""Version history of configuration items, and rolling back to an earlier version.

Every edit path (the admin, the API, ``import_config``, a rule template, a rollback)
saves a versioned item inside its section's ``change(obj)`` (or ``changes(queryset)``
for a bulk update, ``removal(obj)`` for a delete): one version per change, with the
item's snapshot, the same fields a configuration file holds. A section that keeps
history registers with ``opsconsole.configcode.register_section`` and also provides its
``model``, ``snapshot(obj)``, ``restore(object_key, snapshot, actor)`` and a
``permission`` (e.g. ``alerts.change_alertrule``) needed to roll back.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, models, transaction

from opsconsole.configcode import registered_sections
from opsconsole.models import ConfigVersion

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User


class RollbackError(ValueError):
    """The version cannot be restored; the message says why."""


def field_changes(before: dict | None, after: dict | None) -> dict[str, list[Any]]:
    before, after = before or {}, after or {}
    return {
        name: [before.get(name), after.get(name)]
        for name in [*before, *[key for key in after if key not in before]]
        if before.get(name) != after.get(name)
    }


def latest(section: str, object_key: str) -> ConfigVersion | None:
    return (
        ConfigVersion.objects.filter(section=section, object_key=str(object_key))
        .order_by("-number")
        .first()
    )


def record(
    section: str,
    object_key: Any,
    object_name: str,
    snapshot: dict | None,
    *,
    actor: str,
    source: str,
) -> ConfigVersion | None:
    """Store a new version if the item changed since its last one; None if it did not."""
    for _attempt in range(3):
        previous = latest(section, str(object_key))
        before = previous.snapshot if previous is not None else None
        if previous is not None and before == snapshot:
            return None
        try:
            # A savepoint: two saves of one item at once race for the next number, and
            # the loser retries on top of the winner's version.
            with transaction.atomic():
                return ConfigVersion.objects.create(
                    section=section,
                    object_key=str(object_key),
                    object_name=object_name[:255],
                    number=(previous.number + 1) if previous is not None else 1,
                    snapshot=snapshot,
                    changes=field_changes(before, snapshot),
                    actor=actor[:150],
                    source=source,
                )
        except IntegrityError:
            continue
    raise RuntimeError(f"could not number a new version of {section} {object_key}")


class VersionedSection:
    """History for a config section whose objects have a pk and a name: the section
    gives ``name``, ``model`` and ``snapshot(obj)``, this records versions of its objects.

    ``change``, ``changes`` and ``removal`` are the service every edit path uses; the
    lower-level ``baseline``/``record`` are theirs.

    An item is any of the section's model's instances (``Any`` here: each section's
    own methods name its model, and an item is read for ``pk`` and ``name``)."""

    name: str
    model: type[models.Model]

    @contextmanager
    def change(self, obj: Any, *, actor: str, source: str) -> Iterator[Any]:
        """One edit of ``obj`` (an unsaved instance for a new item), saved by the block.

        On entry the item as the database holds it becomes the baseline if it has no
        version yet (so this edit has a diff and a rollback target): read from the
        database, so a form that already wrote its values onto ``obj`` does not spoil
        it. On leaving, one version of the saved item (none if nothing changed); the
        save and its version are one transaction."""
        with transaction.atomic():
            if obj.pk is not None:
                self._baseline_stored([obj.pk])
            yield obj
            self.record(obj, actor=actor, source=source)

    @contextmanager
    def changes(self, queryset: models.QuerySet[Any], *, actor: str, source: str) -> Iterator[None]:
        """A bulk edit of ``queryset`` by the block (an ``update()``, which sends no
        signal): each item's baseline first, then one version of each that changed."""
        with transaction.atomic():
            keys = list(queryset.values_list("pk", flat=True))
            self._baseline_stored(keys)
            yield
            for obj in self.model._default_manager.filter(pk__in=keys):
                self.record(obj, actor=actor, source=source)

    @contextmanager
    def removal(self, objs: Iterable[Any] | Any, *, actor: str, source: str) -> Iterator[None]:
        """The deletion of one item or several by the block: recorded first, while each
        still has its id (a deleted item's version is what brings it back), undone with
        the block if it fails."""
        items = [objs] if isinstance(objs, models.Model) else list(objs)
        with transaction.atomic():
            for obj in items:
                self.record(obj, actor=actor, source=source, deleted=True)
            yield

    def _baseline_stored(self, keys: list[Any]) -> None:
        for stored in self.model._default_manager.filter(pk__in=keys):
            self.baseline_of(stored)

    def snapshot(self, obj: Any) -> dict:
        raise NotImplementedError

    def baseline(self, object_pk: int, object_name: str, snapshot: dict) -> None:
        """Record the state an object had before its first versioned edit (one made by
        the defaults or before history existed), so that edit has a diff and a rollback
        target. Does nothing once the object has a version."""
        if latest(self.name, str(object_pk)) is None:
            record(self.name, object_pk, object_name, snapshot, actor="", source="baseline")

    def baseline_of(self, obj: Any) -> None:
        """``obj`` as stored (not yet changed by a form)."""
        self.baseline(obj.pk, obj.name, self.snapshot(obj))

    def record(
        self, obj: Any, *, actor: str, source: str, deleted: bool = False
    ) -> ConfigVersion | None:
        if deleted:
            self.baseline_of(obj)
        return record(
            self.name,
            obj.pk,
            obj.name,
            None if deleted else self.snapshot(obj),
            actor=actor,
            source=source,
        )


def previous_of(version: ConfigVersion) -> ConfigVersion | None:
    return (
        ConfigVersion.objects.filter(
            section=version.section, object_key=version.object_key, number__lt=version.number
        )
        .order_by("-number")
        .first()
    )


def can_roll_back(user: User | AnonymousUser, version: ConfigVersion) -> bool:
    section = registered_sections().get(version.section)
    permission = getattr(section, "permission", None)
    return isinstance(permission, str) and bool(permission) and user.has_perm(permission)


def roll_back(version: ConfigVersion, *, actor: str) -> ConfigVersion | None:
    """Make the item as it was in ``version`` (recreating it if deleted, deleting it if
    ``version`` records its deletion); the rollback is itself a new version."""
    section = registered_sections().get(version.section)
    if section is None or not hasattr(section, "restore"):
        raise RollbackError(f"{version.section} items cannot be rolled back")
    with transaction.atomic():
        section.restore(version.object_key, version.snapshot, actor)
    return latest(version.section, version.object_key)

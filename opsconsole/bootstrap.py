"""First-run setup shared by ``make run`` and ``manage.py serve``.

The roles' groups are made here; what each app creates on a fresh console (default
rules, routes, endpoints from the environment) it registers from its ``ready()`` with
``register_defaults``, since this library imports no app.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import transaction

from opsconsole.roles import GROUP_NAMES, Role

# Which model permissions each role's group carries in the admin. axes: admins unlock a
# locked-out login by deleting its access attempt.
_ADMIN_APPS = (
    "metrics",
    "alerts",
    "healthchecks",
    "notifications",
    "oncall",
    "opsconsole",
    "django_q",
    "axes",
)


def grant_role_permissions() -> list[str]:
    """Each role's group with the admin permissions it carries (made if missing)."""
    done = []
    for role, name in GROUP_NAMES.items():
        group, created = Group.objects.get_or_create(name=name)
        if created:
            done.append(f"created group {name}")
        if role == Role.ADMIN:
            perms = Permission.objects.filter(content_type__app_label__in=_ADMIN_APPS)
        else:
            perms = Permission.objects.filter(
                content_type__app_label__in=_ADMIN_APPS, codename__startswith="view_"
            )
        group.permissions.set(perms)
    return done


class DefaultsError(ValueError):
    """A default the environment's configuration makes impossible (a bad
    ``SERVICE_ENDPOINTS``): ``setup_console`` reports it in one line."""


# (name, loader) in registration order, which is INSTALLED_APPS' order: the alerts
# app's inhibition defaults come before its rules (they are for a console without
# alerts). A loader returns one line per thing it made.
_defaults: list[tuple[str, Callable[[], list[str]]]] = []


def register_defaults(name: str, loader: Callable[[], list[str]]) -> None:
    """Add what a fresh console needs from an app; a name registered again is replaced."""
    for index, (known, _) in enumerate(_defaults):
        if known == name:
            _defaults[index] = (name, loader)
            return
    _defaults.append((name, loader))


def load_defaults() -> list[str]:
    """Create what a fresh console needs; safe to run on every start (idempotent)."""
    with transaction.atomic():
        done = grant_role_permissions()
        for _name, loader in _defaults:
            done.extend(loader())
    return done


def admin_password_from_env() -> str:
    """OPSCONSOLE_ADMIN_PASSWORD, or the file OPSCONSOLE_ADMIN_PASSWORD_FILE names."""
    from opsconsole.env import envsecret

    return envsecret("OPSCONSOLE_ADMIN_PASSWORD")


def ensure_admin(username: str | None = None, password: str | None = None) -> str | None:
    """Create the first superuser if there is none; return a generated password once."""
    User = get_user_model()
    if User.objects.filter(is_superuser=True).exists():
        return None
    username = username or os.environ.get("OPSCONSOLE_ADMIN_USER", "admin")
    given = password or admin_password_from_env()
    chosen = given or secrets.token_urlsafe(12)
    User.objects.create_superuser(username=username, email="", password=chosen)
    return None if given else chosen

"""First-run setup shared by ``make run`` and ``manage.py serve``."""

from __future__ import annotations

import os
import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import transaction

from opsconsole.roles import GROUP_NAMES, Role

# Which model permissions each role's group carries in the admin.
_ADMIN_APPS = ("metrics", "alerts", "opsconsole", "django_q")


def load_defaults() -> list[str]:
    """Create what a fresh console needs; safe to run on every start (idempotent)."""
    done = []
    with transaction.atomic():
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


def ensure_admin(username: str | None = None, password: str | None = None) -> str | None:
    """Create the first superuser if there is none; return a generated password once."""
    User = get_user_model()
    if User.objects.filter(is_superuser=True).exists():
        return None
    username = username or os.environ.get("OPSCONSOLE_ADMIN_USER", "admin")
    given = password or os.environ.get("OPSCONSOLE_ADMIN_PASSWORD")
    chosen = given or secrets.token_urlsafe(12)
    User.objects.create_superuser(username=username, email="", password=chosen)
    return None if given else chosen

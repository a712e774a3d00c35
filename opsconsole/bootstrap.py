"""First-run setup shared by ``make run`` and ``manage.py serve``."""

from __future__ import annotations

import os
import secrets
from typing import Any

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


def load_defaults() -> list[str]:
    """Create what a fresh console needs; safe to run on every start (idempotent)."""
    with transaction.atomic():
        done = grant_role_permissions()
        # Before the rules: the inhibition defaults are for a console without alerts.
        done.extend(_default_inhibitions())
        done.extend(_default_rules())
        done.extend(_default_routes())
        done.extend(_service_endpoints())
    return done


def _service_endpoints() -> list[str]:
    """SERVICE_ENDPOINTS from the environment, created or updated on every start."""
    from healthchecks.config import import_endpoints

    done = import_endpoints(retire=True)
    return [
        f"{n} service endpoints {verb}"
        for n, verb in (
            (done.created, "created"),
            (done.updated, "updated"),
            (done.restored, "enabled again"),
            (done.disabled, "disabled: SERVICE_ENDPOINTS no longer names them"),
        )
        if n
    ]


def _default_rules() -> list[str]:
    """Seed 002's thresholds as editable rules, on a fresh console only.

    Fresh means no rule, alert or timeline entry yet: an operator who deletes the
    defaults on a console with history does not get them back on the next start.
    """
    from django.conf import settings

    from alerts.models import Alert, AlertEvent, AlertRule

    if AlertRule.objects.exists() or Alert.objects.exists() or AlertEvent.objects.exists():
        return []
    # (name, metric, aggregation, threshold, how far below it clears, extra fields)
    table: list[tuple[str, str, str, float, float | None, dict[str, Any]]] = [
        ("High CPU usage", "cpu_usage_percent", "avg", settings.CPU_ALERT_THRESHOLD, 10, {}),
        (
            "High memory usage",
            "memory_usage_percent",
            "avg",
            settings.MEMORY_ALERT_THRESHOLD,
            5,
            {},
        ),
        (
            "Disk almost full",
            "disk_usage_percent",
            "last",
            settings.DISK_ALERT_THRESHOLD,
            None,
            {"severity": "error", "for_seconds": 0},
        ),
        (
            # The P95 over the window, judged once it holds 5 samples (the latency
            # default), its severity growing with the overage.
            "Slow responses",
            "response_time_ms",
            "p95",
            settings.RESPONSE_TIME_ALERT_THRESHOLD,
            None,
            {"kind": AlertRule.Kind.LATENCY, "category": "performance"},
        ),
    ]
    rules = [
        AlertRule(
            name=name,
            metric=metric,
            aggregation=aggregation,
            threshold=threshold,
            clear_threshold=max(threshold - margin, 0) if margin else None,
            description=f"{aggregation} of {metric} over 5 minutes above {threshold:g} "
            "(from the environment's thresholds)",
            **{"for_seconds": 60, **extra},
        )
        for name, metric, aggregation, threshold, margin, extra in table
    ]
    AlertRule.objects.bulk_create(rules)
    return [f"created alert rule {rule.name!r}" for rule in rules]


def _default_inhibitions() -> list[str]:
    from alerts.inhibition import load_default_rules

    return load_default_rules()


def _default_routes() -> list[str]:
    from notifications.routing import load_default_routes

    return load_default_routes()


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

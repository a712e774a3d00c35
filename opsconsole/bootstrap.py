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
        done.extend(_default_rules())
    return done


def _default_rules() -> list[str]:
    """Seed 002's thresholds as editable rules, on a fresh console only.

    Fresh means no rule, alert or timeline entry yet: an operator who deletes the
    defaults on a console with history does not get them back on the next start.
    """
    from django.conf import settings

    from alerts.models import Alert, AlertEvent, AlertRule

    if AlertRule.objects.exists() or Alert.objects.exists() or AlertEvent.objects.exists():
        return []
    Kind, Op, Agg = AlertRule.Kind, AlertRule.Operator, AlertRule.Aggregation
    rules = [
        AlertRule(
            name="High CPU usage",
            metric="cpu_usage_percent",
            aggregation=Agg.AVG,
            threshold=settings.CPU_ALERT_THRESHOLD,
            clear_threshold=max(settings.CPU_ALERT_THRESHOLD - 10, 0),
            for_seconds=60,
            description="Average CPU over 5 minutes above CPU_ALERT_THRESHOLD.",
        ),
        AlertRule(
            name="High memory usage",
            metric="memory_usage_percent",
            aggregation=Agg.AVG,
            threshold=settings.MEMORY_ALERT_THRESHOLD,
            clear_threshold=max(settings.MEMORY_ALERT_THRESHOLD - 5, 0),
            for_seconds=60,
            description="Average memory use over 5 minutes above MEMORY_ALERT_THRESHOLD.",
        ),
        AlertRule(
            name="Disk almost full",
            metric="disk_usage_percent",
            aggregation=Agg.LAST,
            threshold=settings.DISK_ALERT_THRESHOLD,
            severity="error",
            description="Any mounted filesystem above DISK_ALERT_THRESHOLD.",
        ),
        AlertRule(
            name="Slow responses",
            kind=Kind.LATENCY,
            metric="response_time_ms",
            aggregation=Agg.AVG,
            operator=Op.GT,
            threshold=settings.RESPONSE_TIME_ALERT_THRESHOLD,
            category="performance",
            for_seconds=60,
            description="Average response time over 5 minutes above "
            "RESPONSE_TIME_ALERT_THRESHOLD (ms).",
        ),
    ]
    AlertRule.objects.bulk_create(rules)
    return [f"created alert rule {rule.name!r}" for rule in rules]


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

"""Seed 000's two widgets that read this app: panels on other apps' pages.

- **Data Source Pulse** (System Monitor, slot ``system_monitor``): latency per source
  over the last five minutes (``latency_monitor.get_average_latency()``), against
  ``LATENCY_ALERT_THRESHOLD_MS``; it refreshes itself every ``PULSE_REFRESH_SECONDS``.
- **Security Vault Status** (Sentry Station, slot ``station``): the service endpoints'
  health (``check_service_health()``) and the last 24 hours of security events: failed
  logins and lockouts, API token use, and changes to where secrets live (notification
  channels, service endpoints, API tokens issued).
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from healthchecks.latency import get_average_latency
from healthchecks.monitor import service_health
from opsconsole.models import ApiToken, AuditEntry
from opsconsole.panels import Panel

PULSE_WINDOW_SECONDS = 300
PULSE_REFRESH_SECONDS = 10
SECURITY_WINDOW = timedelta(hours=24)
# Audited objects that hold secrets (channel credentials, webhook URLs and headers).
SECRET_HOLDERS = ("notifications.notificationchannel", "healthchecks.serviceendpoint")


def pulse_context() -> dict:
    threshold = settings.LATENCY_ALERT_THRESHOLD_MS
    rows = [
        {
            "source": source,
            "lagging": figures["p95_ms"] > threshold,
            **figures,
        }
        for source, figures in get_average_latency(window_seconds=PULSE_WINDOW_SECONDS).items()
    ]
    return {
        "rows": rows,
        "threshold": threshold,
        "window_minutes": PULSE_WINDOW_SECONDS // 60,
        "refresh_seconds": PULSE_REFRESH_SECONDS,
        "at": timezone.now(),
    }


def data_source_pulse(request) -> Panel:
    return Panel("Data source pulse", "healthchecks/panels/pulse.html", pulse_context())


def vault_context(now=None) -> dict:
    now = now or timezone.now()
    since = now - SECURITY_WINDOW
    recent = AuditEntry.objects.filter(created__gte=since)
    tokens = ApiToken.objects.filter(revoked=False).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now)
    )
    health = service_health()
    events = {
        "failed_logins": recent.filter(kind=AuditEntry.Kind.LOGIN_FAILED).count(),
        "lockouts": recent.filter(kind=AuditEntry.Kind.LOGIN_LOCKED).count(),
        "secret_changes": recent.filter(
            kind=AuditEntry.Kind.CONFIG_CHANGE, object_type__in=SECRET_HOLDERS
        ).count(),
        "tokens_issued": ApiToken.objects.filter(created__gte=since).count(),
        "tokens_used": tokens.filter(last_used__gte=since).count(),
        "tokens_active": tokens.count(),
        "tokens_expiring": tokens.filter(expires_at__lte=now + timedelta(days=7)).count(),
    }
    if events["lockouts"] or health["status"] == "unhealthy":
        status = "alert"
    elif events["failed_logins"] or events["tokens_expiring"] or health["status"] != "healthy":
        status = "watch"
    else:
        status = "sealed"
    return {"status": status, "health": health, "events": events, "since": since}


def security_vault(request) -> Panel:
    return Panel(
        "Security vault status", "healthchecks/panels/security_vault.html", vault_context()
    )

"""Recovery actions (seed 003's RECONNECT, RESTART, ..., NOTIFY_ADMIN): once per outage,
when the consecutive failures reach ``recovery_after_failures``, the endpoint's actions
run in order until one succeeds (a fallback chain: reconnect, else restart, else wake a
person), each outcome written on the down alert's timeline.

- ``NOTIFY_ADMIN`` emails the console's admins (superusers and the Admins group, active,
  with an address) through Django's mail settings (``EMAIL_*``).
- Any other name is POSTed to ``recovery_webhook_url`` as JSON with ``"action": name``
  (no redirects followed; the same address checks as the probes).

An endpoint with a webhook and no actions runs ``RESTART``, the webhook alone.
"""

from __future__ import annotations

import logging

import httpx
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db.models import Q
from django.utils import timezone

from alerts.constants import EventKind
from alerts.models import AlertEvent
from alerts.pipeline import open_alert
from healthchecks.constants import DEFAULT_RECOVERY_ACTIONS, DOWN_ALERT, NOTIFY_ADMIN
from healthchecks.models import ServiceEndpoint
from healthchecks.probes import UnsafeTarget, validate_url

logger = logging.getLogger(__name__)
RECOVERY_TIMEOUT_SECONDS = 10.0


def actions_of(endpoint: ServiceEndpoint) -> list[str]:
    return list(endpoint.recovery_actions or DEFAULT_RECOVERY_ACTIONS)


def run_recovery(endpoint: ServiceEndpoint) -> list[AlertEvent]:
    """Run the endpoint's actions in order until one succeeds; one timeline entry each."""
    alert = open_alert(DOWN_ALERT, endpoint.name)
    events = []
    for action in actions_of(endpoint):
        try:
            if action == NOTIFY_ADMIN:
                ok, outcome, how = (*_notify_admins(endpoint), "email")
            else:
                ok, outcome, how = (*_call_webhook(endpoint, action), "webhook")
        except Exception as exc:  # one action failing must not stop the next
            logger.exception("recovery action %s for %s failed", action, endpoint.name)
            ok, outcome, how = False, f"{exc.__class__.__name__}: {exc}", "error"
        reason = (
            f"recovery {action} ({how}) for {endpoint.name} after "
            f"{endpoint.consecutive_failures} failures: "
            f"{'succeeded' if ok else 'failed'} ({outcome})"
        )
        logger.info(reason)
        events.append(
            AlertEvent.objects.create(
                alert=alert,
                kind=EventKind.NOTE,
                actor="healthchecks",
                reason=reason,
                data={"endpoint": endpoint.name, "action": action, "ok": ok, "outcome": outcome},
            )
        )
        if ok:
            break
    return events


def _call_webhook(endpoint: ServiceEndpoint, action: str) -> tuple[bool, str]:
    payload = {
        "action": action,
        "endpoint": endpoint.name,
        "target": endpoint.target,
        "state": endpoint.state,
        "consecutive_failures": endpoint.consecutive_failures,
        "last_error": endpoint.last_error,
        "time": timezone.now().isoformat(),
    }
    url = endpoint.recovery_webhook_url
    if not url:
        return False, "no recovery webhook URL"
    try:
        validate_url(url)
        with httpx.Client(timeout=RECOVERY_TIMEOUT_SECONDS, follow_redirects=False) as client:
            response = client.post(url, json=payload)
    except (UnsafeTarget, httpx.HTTPError) as exc:
        return False, f"{exc.__class__.__name__}: {exc}"
    return response.is_success, f"HTTP {response.status_code}"


def admin_addresses() -> list[str]:
    users = get_user_model().objects.filter(is_active=True).exclude(email="")
    admins = users.filter(Q(is_superuser=True) | Q(groups__name="Admins")).distinct()
    return sorted(admins.values_list("email", flat=True))


def _notify_admins(endpoint: ServiceEndpoint) -> tuple[bool, str]:
    recipients = admin_addresses()
    if not recipients:
        return False, "no admin has an email address"
    link = f"{settings.PUBLIC_URL}/services/"
    send_mail(
        subject=f"[OpsConsole] {endpoint.name} is down: recovery needs a person",
        message=(
            f"{endpoint.name} ({endpoint.target}) failed {endpoint.consecutive_failures} "
            f"checks in a row; last error: {endpoint.last_error or 'none'}.\n\n{link}\n"
        ),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=recipients,
    )
    return True, f"emailed {len(recipients)} admin{'s' if len(recipients) != 1 else ''}"

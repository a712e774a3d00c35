"""Recovery actions: after N consecutive failures, call the endpoint's webhook (a restart
hook, say) and write what happened on the alert timeline."""

from __future__ import annotations

import logging

import httpx
from django.utils import timezone

from alerts.constants import EventKind
from alerts.models import AlertEvent
from healthchecks.models import ServiceEndpoint
from healthchecks.probes import UnsafeTarget, validate_url

logger = logging.getLogger(__name__)
RECOVERY_TIMEOUT_SECONDS = 10.0


def run_recovery(endpoint: ServiceEndpoint) -> AlertEvent:
    from healthchecks.state import DOWN_ALERT, open_alert

    payload = {
        "endpoint": endpoint.name,
        "target": endpoint.target,
        "state": endpoint.state,
        "consecutive_failures": endpoint.consecutive_failures,
        "last_error": endpoint.last_error,
        "time": timezone.now().isoformat(),
    }
    url = endpoint.recovery_webhook_url
    try:
        validate_url(url)
        with httpx.Client(timeout=RECOVERY_TIMEOUT_SECONDS, follow_redirects=False) as client:
            response = client.post(url, json=payload)
        ok = response.is_success
        outcome = f"HTTP {response.status_code}"
    except (UnsafeTarget, httpx.HTTPError) as exc:
        ok, outcome = False, f"{exc.__class__.__name__}: {exc}"
    reason = (
        f"recovery webhook for {endpoint.name} after {endpoint.consecutive_failures} "
        f"failures: {'succeeded' if ok else 'failed'} ({outcome})"
    )
    logger.info(reason)
    return AlertEvent.objects.create(
        alert=open_alert(DOWN_ALERT, endpoint.name),
        kind=EventKind.NOTE,
        actor="healthchecks",
        reason=reason,
        data={"endpoint": endpoint.name, "url": url, "ok": ok, "outcome": outcome},
    )

"""Signals of the healthchecks app.

``health_changed``: seed 003's ``on_health_change`` callback. Sent after commit, once
per state change of a service endpoint (UP, DEGRADED, DOWN, UNKNOWN), from whichever
process made it (a check cycle, a heartbeat ping, a monitoring gap, disabling).
Keyword arguments: ``endpoint`` (the ServiceEndpoint), ``old_state`` and ``new_state``
(``healthchecks.constants.State`` values), ``reason`` (what the check found) and ``at``
(when). It sits beside ``alerts.signals.alert_fired`` / ``alert_changed``: a change of
health need not raise an alert (UNKNOWN, a held-back child) and an alert is not always
a change of health. A receiver that raises is logged; it never undoes the change.

    from healthchecks.signals import health_changed

    def on_health_change(sender, endpoint, old_state, new_state, reason, at, **kwargs):
        print(f"{endpoint.name}: {old_state} -> {new_state} ({reason})")

    health_changed.connect(on_health_change)
"""

from __future__ import annotations

import logging

from django.dispatch import Signal

logger = logging.getLogger(__name__)

health_changed = Signal()


def announce(changes: list[tuple], at) -> None:
    """Send ``health_changed`` for each (endpoint, old, new, reason); receivers' errors
    are logged, not raised."""
    from healthchecks.models import ServiceEndpoint

    for endpoint, old, new, reason in changes:
        for receiver, outcome in health_changed.send_robust(
            sender=ServiceEndpoint,
            endpoint=endpoint,
            old_state=old,
            new_state=new,
            reason=reason,
            at=at,
        ):
            if isinstance(outcome, Exception):
                logger.error(
                    "a health_changed receiver (%s) failed for %s: %r",
                    getattr(receiver, "__name__", receiver),
                    endpoint.name,
                    outcome,
                )

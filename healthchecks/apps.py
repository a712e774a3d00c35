from __future__ import annotations

import logging
import time

from django.apps import AppConfig

logger = logging.getLogger(__name__)

UPKEEP_SECONDS = 60
WATCH_SECONDS = 30
_watched = {"at": 0.0}


class HealthchecksConfig(AppConfig):
    name = "healthchecks"
    verbose_name = "Service health"

    def ready(self) -> None:
        from alerts.policies import register_dependency
        from alerts.readings import register_check_source
        from healthchecks import exposition, latency, panels, state
        from healthchecks.configcode import EndpointsSection
        from healthchecks.readings import CheckResults
        from metrics.signals import samples_ingested
        from opsconsole.configcode import register_section
        from opsconsole.exposition import register_series
        from opsconsole.panels import register_panel
        from opsconsole.ticker import register_job

        # Every second the ticker asks which endpoints are due; one task per cycle
        # checks them all, and none is enqueued when nothing is due.
        register_job(
            "healthchecks.check", "healthchecks.tasks.check_endpoints", lambda: 1, args=_due
        )
        # The latency check and the database analytics share one task a minute: every
        # task costs the queue and a worker, at rest too.
        register_job("healthchecks.upkeep", "healthchecks.tasks.upkeep", lambda: UPKEEP_SECONDS)
        samples_ingested.connect(latency.on_ingest, dispatch_uid="healthchecks.ingest_latency")
        # An endpoint's alerts wait while its parent is down, whatever raised them.
        register_dependency(state.dependency_of)
        # Service rules read check results through alerts.readings (alerts does not
        # import this app).
        register_check_source(CheckResults())
        from healthchecks.config import endpoints_from_environment
        from opsconsole.bootstrap import register_defaults

        register_defaults("healthchecks.endpoints", endpoints_from_environment)
        register_section(EndpointsSection())
        register_series("endpoints", exposition.endpoint_series)
        # Seed 000's widgets: Data Source Pulse and Security Vault Status.
        register_panel("system_monitor", panels.data_source_pulse)
        register_panel("station", panels.security_vault)


# Between claims the ticker need not ask the database every second: it sleeps until
# the earliest due endpoint, and asks again within this long in any case, which is how
# soon a new endpoint (due at once) is noticed.
RECHECK_SECONDS = 5.0
_hint = {"until": 0.0}


def _due() -> tuple | None:
    from healthchecks.runner import claim_due, seconds_to_next_due

    _watch_now_and_then()
    now = time.monotonic()
    if now < _hint["until"]:
        return None
    ids = claim_due()
    wait = seconds_to_next_due()
    _hint["until"] = now + min(RECHECK_SECONDS, wait if wait is not None else RECHECK_SECONDS)
    return (ids,) if ids else None


def _watch_now_and_then() -> None:
    """The self-watch runs here, in the scheduler, rather than as a task: it must notice
    when the workers stop, so it cannot depend on them (a few ms every 30 s)."""
    from healthchecks.selfwatch import watch

    now = time.monotonic()
    if now - _watched["at"] < WATCH_SECONDS:
        return
    _watched["at"] = now
    try:
        problems = watch()
    except Exception:
        logger.exception("the monitoring-gap check failed")
        return
    if problems:
        logger.warning("monitoring gap: %s", "; ".join(problems))

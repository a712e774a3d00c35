from __future__ import annotations

from django.apps import AppConfig


class HealthchecksConfig(AppConfig):
    name = "healthchecks"
    verbose_name = "Service health"

    def ready(self) -> None:
        from healthchecks import latency
        from metrics.signals import samples_ingested
        from opsconsole.ticker import register_job

        # Every second the ticker asks which endpoints are due; one task per cycle
        # checks them all, and none is enqueued when nothing is due.
        register_job(
            "healthchecks.check", "healthchecks.tasks.check_endpoints", lambda: 1, args=_due
        )
        # The self-watch and the latency check share one task: fewer enqueues at rest.
        register_job("healthchecks.upkeep", "healthchecks.tasks.upkeep", lambda: 15)
        register_job("healthchecks.dbstats", "healthchecks.tasks.database_stats", lambda: 60)
        register_job("healthchecks.cleanup", "healthchecks.tasks.cleanup", lambda: 3600)
        samples_ingested.connect(latency.on_ingest, dispatch_uid="healthchecks.ingest_latency")


def _due() -> tuple | None:
    from healthchecks.runner import claim_due

    ids = claim_due()
    return (ids,) if ids else None

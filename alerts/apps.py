import time

from django.apps import AppConfig
from django.conf import settings


class AlertsConfig(AppConfig):
    name = "alerts"
    verbose_name = "Alerts"

    def ready(self):
        from alerts import exposition
        from alerts.configcode import InhibitionsSection, RulesSection, SilencesSection
        from metrics.signals import samples_ingested
        from opsconsole.configcode import register_section
        from opsconsole.exposition import register_series
        from opsconsole.ticker import register_job

        register_series("alerts", exposition.alert_series)
        # The Hosts page's open-alerts column and the System Monitor's links from each
        # gauge to its alerts (metrics does not import alerts).
        from alerts.console import gauge_alerts, open_alerts_by_host
        from metrics.fleet import register_gauge_alerts, register_open_alerts

        register_open_alerts(open_alerts_by_host)
        register_gauge_alerts(gauge_alerts)
        # Compaction keeps the narrow samples the longest enabled rule window reads.
        from alerts.evaluator import evaluation_warnings, longest_window_seconds
        from metrics.samples import register_reach
        from opsconsole.panels import register_warnings

        register_reach(longest_window_seconds)
        register_warnings(evaluation_warnings)
        register_section(RulesSection())
        register_section(SilencesSection())
        register_section(InhibitionsSection())
        _register_with_the_console()

        register_job(
            "alerts.evaluate",
            "alerts.tasks.evaluate",
            lambda: settings.ALERT_EVALUATION_INTERVAL,
            args=_evaluate_args,
        )
        register_job("alerts.cleanup", "alerts.tasks.cleanup", lambda: 3600)
        # Which hosts a pass must read: connected before the wake-up, so the pass it
        # queues finds the stamp.
        from alerts.evaluator import mark_changed

        samples_ingested.connect(mark_changed, dispatch_uid="alerts.mark_changed")
        samples_ingested.connect(_evaluate_soon, dispatch_uid="alerts.evaluate_after_ingest")


def _register_with_the_console() -> None:
    """What the project's library does with alerts, which it does not import: an
    unhandled error becomes an alert, a person's action on one is audited, and a fresh
    console gets the default inhibition and threshold rules (inhibitions first: they are
    for a console without alerts)."""
    from alerts import defaults, inhibition, pipeline
    from alerts.service import AlertService
    from alerts.signals import alert_changed
    from opsconsole import audit, errors
    from opsconsole.bootstrap import register_defaults

    errors.register_error_alerts(
        lambda **fields: AlertService().create_application_error_alert(**fields)
    )
    alert_changed.connect(audit.record_alert_action, dispatch_uid="audit.alert_changed")
    register_defaults("alerts.inhibitions", inhibition.load_default_rules)
    register_defaults("alerts.rules", defaults.threshold_rules)
    # The signals go out as AlertService's, as seed 001's receivers expect.
    pipeline.announce_as(AlertService)


def _evaluate_soon(sender, **kwargs):
    """Evaluate right after fresh samples land, at most once a second whatever the
    number of batches: the pass reads every rule's data anyway."""
    from django.core.cache import cache
    from django_q.tasks import async_task

    from opsconsole import broker

    if cache.add("alerts:evaluation-queued", 1, timeout=1):
        async_task(
            "alerts.tasks.evaluate",
            task_name="alerts.evaluate@ingest",
            group="alerts.evaluate",
            broker=broker.shared(),
        )
        cache.set(LAST_QUEUED_KEY, time.time(), timeout=3600)


LAST_QUEUED_KEY = "alerts:evaluation-last-queued"


def _evaluate_args() -> tuple | None:
    """The scheduled pass is for rules no sample wakes (no data, expiry, `for` timers):
    skipped when a pass after ingest was queued within the last half interval, so a
    console collecting every 15 s runs one pass per collection, not two."""
    from django.core.cache import cache

    last = cache.get(LAST_QUEUED_KEY)
    if last is not None and time.time() - last < settings.ALERT_EVALUATION_INTERVAL / 2:
        return None
    return ()

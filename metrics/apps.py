from django.apps import AppConfig


class MetricsConfig(AppConfig):
    name = "metrics"
    verbose_name = "System vitals"

    def ready(self) -> None:
        from django.conf import settings

        from metrics import exposition, history, redis_keys
        from metrics.signals import samples_ingested
        from opsconsole.exposition import register_series
        from opsconsole.ticker import register_job

        history.check_chart_queries()
        _connect_host_copies()
        # Seed 002's Redis keys for outside readers (nothing without REDIS_URL).
        samples_ingested.connect(redis_keys.on_samples_ingested, dispatch_uid="metrics.redis_keys")
        register_series("hosts", exposition.host_series)
        register_series("ingest", exposition.ingest_series)

        if settings.COLLECT_LOCAL_HOST:
            register_job(
                "metrics.collect",
                "metrics.tasks.collect_local",
                lambda: settings.METRICS_COLLECTION_INTERVAL,
            )
        register_job("metrics.rollup", "metrics.tasks.rollup", lambda: 60)
        register_job("metrics.cleanup", "metrics.tasks.cleanup", lambda: 3600)
        register_job(
            "metrics.compact", "metrics.tasks.compact", lambda: settings.METRICS_COMPACT_INTERVAL
        )


def _connect_host_copies() -> None:
    """Every process keeps the hosts it ingests for (metrics.ingest): a host saved or
    deleted anywhere (enabled, disabled, renamed) makes them all read hosts again, and
    a metric deleted anywhere makes them read metric ids again."""
    from django.db.models.signals import post_delete, post_save

    from metrics.ingest import host_changed, metric_deleted
    from metrics.models import Host, Metric

    post_save.connect(host_changed, sender=Host, dispatch_uid="metrics.hosts.save")
    post_delete.connect(host_changed, sender=Host, dispatch_uid="metrics.hosts.delete")
    # So are metric ids: a deleted series' id must not be written again.
    post_delete.connect(metric_deleted, sender=Metric, dispatch_uid="metrics.metrics.delete")

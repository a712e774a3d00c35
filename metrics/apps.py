from django.apps import AppConfig


class MetricsConfig(AppConfig):
    name = "metrics"
    verbose_name = "System vitals"

    def ready(self) -> None:
        from django.conf import settings

        from metrics import exposition, history
        from opsconsole.exposition import register_series
        from opsconsole.ticker import register_job

        history.check_chart_queries()
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

import os

from django.apps import AppConfig


class OpsConsoleConfig(AppConfig):
    name = "opsconsole"
    verbose_name = "Console"

    def ready(self):
        from opsconsole import audit

        audit.connect()
        if os.environ.get("OPSCONSOLE_PROCESS") == "worker":
            # The q2 cluster forks its workers from this process: objects the collector
            # never touches again stay shared instead of being copied by the collector.
            import gc

            gc.freeze()
        # `manage.py serve` runs the ticker as a thread of the web process (it only
        # enqueues, a few queries a minute) instead of a separate Django process.
        if os.environ.get("OPSCONSOLE_TICKER_THREAD") == "1":
            from opsconsole.ticker import start_in_thread

            start_in_thread()

import os

from django.apps import AppConfig


class OpsConsoleConfig(AppConfig):
    name = "opsconsole"
    verbose_name = "Console"

    def ready(self):
        from opsconsole import audit

        audit.connect()
        # `manage.py serve` runs the ticker as a thread of the web process (it only
        # enqueues, a few queries a minute) instead of a separate Django process.
        if os.environ.get("OPSCONSOLE_TICKER_THREAD") == "1":
            from opsconsole.ticker import start_in_thread

            start_in_thread()

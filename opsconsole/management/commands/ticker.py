from django.core.management.base import BaseCommand

from opsconsole.ticker import Ticker, registered_jobs


class Command(BaseCommand):
    help = "Enqueue periodic jobs (collection, roll-ups, retention) at second granularity."

    def handle(self, *args, **options):
        jobs = registered_jobs()
        for job in jobs.values():
            self.stdout.write(f"{job.name}: every {job.interval():g} s -> {job.func}")
        Ticker().run()

from django.core.management.base import BaseCommand, CommandError

from metrics.tasks import collect_local


class Command(BaseCommand):
    help = "Collect this host's vitals and processes (seed 002's 'collect metrics once')."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="collect once and exit")
        parser.add_argument("--no-processes", action="store_true", help="skip the process table")

    def handle(self, *args, once, no_processes, **options):
        if not once:
            raise CommandError(
                "periodic collection runs in the console's workers; use --once for one collection"
            )
        result = collect_local(processes=not no_processes)
        self.stdout.write(
            f"collected {result.samples} samples and {result.processes} processes "
            f"for {result.host.hostname} at {result.newest:%Y-%m-%d %H:%M:%S} UTC"
        )

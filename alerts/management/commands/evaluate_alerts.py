from django.core.management.base import BaseCommand, CommandError

from alerts.evaluator import evaluate


class Command(BaseCommand):
    help = "Evaluate every enabled alert rule now (seed 002's 'check alerts once')."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="one pass, then exit")

    def handle(self, *args, once, **options):
        if not once:
            raise CommandError(
                "rules are evaluated by the console's workers; use --once for one pass now"
            )
        # A person's check reads every host, not only those that sent since the last pass.
        result = evaluate(full=True)
        if result.skipped:
            raise CommandError("another evaluation is running; try again in a moment")
        self.stdout.write(
            f"{result.rules} rules over {result.targets} targets "
            f"in {result.seconds * 1000:.0f} ms: "
            f"{result.fired} fired, {result.repeated} repeated, {result.resolved} resolved, "
            f"{result.pending} pending, {result.withheld} withheld, {result.no_data} without data"
        )

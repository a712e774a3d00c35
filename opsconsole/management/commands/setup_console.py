from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from opsconsole.bootstrap import ensure_admin, load_defaults


class Command(BaseCommand):
    help = "Migrate every database, load the default configuration, create the first admin."

    def handle(self, *args, **options):
        for alias in settings.DATABASES:
            call_command("migrate", database=alias, interactive=False, verbosity=0)
        from healthchecks.config import EndpointConfigError

        try:
            lines = load_defaults()
        except EndpointConfigError as exc:
            raise CommandError(str(exc)) from None
        for line in lines:
            self.stdout.write(line)
        password = ensure_admin()
        if password:
            self.stdout.write(
                self.style.WARNING(
                    f"\n  Admin account: admin / {password}\n"
                    "  (shown only this once; set OPSCONSOLE_ADMIN_PASSWORD to choose it)\n"
                )
            )

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from opsconsole.bootstrap import ensure_admin, load_defaults


class Command(BaseCommand):
    help = "Migrate every database, load the default configuration, create the first admin."

    def handle(self, *args, **options):
        for alias in settings.DATABASES:
            call_command("migrate", database=alias, interactive=False, verbosity=0)
        for line in load_defaults():
            self.stdout.write(line)
        password = ensure_admin()
        if password:
            self.stdout.write(
                self.style.WARNING(
                    f"\n  Admin account: admin / {password}\n"
                    "  (shown only this once; set OPSCONSOLE_ADMIN_PASSWORD to choose it)\n"
                )
            )

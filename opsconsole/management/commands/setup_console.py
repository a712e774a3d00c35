import os

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from opsconsole.bootstrap import (
    DefaultsError,
    admin_password_from_env,
    ensure_admin,
    load_defaults,
)


class Command(BaseCommand):
    help = "Migrate every database, load the default configuration, create the first admin."

    def handle(self, *args, **options):
        for alias, database in settings.DATABASES.items():
            call_command("migrate", database=alias, interactive=False, verbosity=0)
            # Named, so an operator sees which database this machine's settings chose
            # (DATABASE_URL's, or the embedded SQLite file when it is unset).
            self.stdout.write(f"migrated {_describe(database)}")
        try:
            lines = load_defaults()
        except DefaultsError as exc:
            raise CommandError(str(exc)) from None
        for line in lines:
            self.stdout.write(line)
        try:
            given = admin_password_from_env()
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from None
        had_admin = get_user_model().objects.filter(is_superuser=True).exists()
        password = ensure_admin(password=given or None)
        if had_admin and given:
            # The variable only seeds the first admin: changing it later changes nothing,
            # which an operator would otherwise find out at the login page.
            username = os.environ.get("OPSCONSOLE_ADMIN_USER", "admin")
            self.stdout.write(
                self.style.WARNING(
                    "OPSCONSOLE_ADMIN_PASSWORD is ignored: the admin account exists already "
                    "and keeps its password. To change it: "
                    f"python manage.py changepassword {username}"
                )
            )
        if password:
            self.stdout.write(
                self.style.WARNING(
                    f"\n  Admin account: admin / {password}\n"
                    "  (shown only this once; set OPSCONSOLE_ADMIN_PASSWORD to choose it)\n"
                )
            )


def _describe(database: dict) -> str:
    if database["ENGINE"].endswith("sqlite3"):
        return f"SQLite {database['NAME']}"
    where = database.get("HOST") or "localhost"
    if database.get("PORT"):
        where += f":{database['PORT']}"
    return f"PostgreSQL database {database['NAME']!r} on {where}"

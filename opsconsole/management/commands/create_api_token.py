from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from opsconsole.models import ApiToken


class Command(BaseCommand):
    help = "Create an API token for a user and print it once."

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True, help="user name that owns the token")
        parser.add_argument("--scopes", default="read", help="comma list of read, write, ingest")
        parser.add_argument("--name", default="", help="what uses the token, e.g. 'agent db-01'")

    def handle(self, *args, user, scopes, name, **options):
        owner = get_user_model().objects.filter(username=user).first()
        if owner is None:
            raise CommandError(f"no user named {user!r}; create it in the admin first")
        wanted = [s.strip() for s in scopes.split(",") if s.strip()]
        try:
            token, raw = ApiToken.issue(user=owner, name=name or f"token for {user}", scopes=wanted)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(raw)
        self.stderr.write(
            f"token {token.prefix}… for {user} with scopes {', '.join(token.scopes)}; "
            "it is shown only this once"
        )

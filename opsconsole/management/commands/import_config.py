from __future__ import annotations

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from opsconsole.configcode import InvalidConfig, apply, diff_text, parse, plan


class Command(BaseCommand):
    help = (
        "Make the console's configuration match a YAML or JSON file: creates and updates "
        "what differs (and, with --prune, deletes what the file leaves out). Validates "
        "everything first; one error changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="the YAML or JSON file, or - for standard input")
        parser.add_argument(
            "--dry-run", action="store_true", help="show the changes, change nothing"
        )
        parser.add_argument(
            "--prune",
            action="store_true",
            help="delete rules and silences of the file's sections that it does not list",
        )
        parser.add_argument(
            "--actor",
            default="import_config",
            help="who the version history and the audit name",
        )

    def handle(self, *args, file: str, dry_run: bool, prune: bool, actor: str, **options):
        try:
            text = sys.stdin.read() if file == "-" else Path(file).read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"cannot read {file}: {getattr(exc, 'strerror', exc)}") from None
        try:
            document = parse(text)
            changes = plan(document, prune=prune)
        except InvalidConfig as exc:
            for error in exc.errors:
                self.stderr.write(f"{file}:{error.line}: {error.message}")
            count = len(exc.errors)
            raise CommandError(
                f"{count} problem{'s' if count != 1 else ''} in {file}; nothing was changed"
            ) from None
        names = [name for name in document if name != "version"]
        self.stdout.write(diff_text(changes, names))
        if dry_run:
            self.stdout.write(f"dry run: {len(changes)} change(s) not applied")
            return
        try:
            apply(changes, actor=actor)
        except Exception as exc:
            raise CommandError(f"import failed, nothing was changed: {exc}") from None
        self.stdout.write(f"applied {len(changes)} change(s)")

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from opsconsole.configcode import dump, export_document, registered_sections


class Command(BaseCommand):
    help = (
        "Write the console's configuration (rules, silences, thresholds, and any section "
        "another app registers) as YAML or JSON."
    )

    def add_arguments(self, parser):
        parser.add_argument("--output", "-o", default="-", help="file (default: standard output)")
        parser.add_argument(
            "--format", choices=["yaml", "json"], help="default: from the file name, else yaml"
        )
        parser.add_argument(
            "--section",
            action="append",
            dest="sections",
            help=f"only this section (repeatable): {', '.join(registered_sections())}",
        )

    def handle(self, *args, output: str, format: str | None, sections, **options):
        fmt = format or ("json" if output.endswith(".json") else "yaml")
        try:
            text = dump(export_document(sections), fmt)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if output == "-":
            self.stdout.write(text, ending="")
            return
        try:
            Path(output).write_text(text)
        except OSError as exc:
            raise CommandError(f"cannot write {output}: {exc.strerror}") from None
        self.stderr.write(f"configuration written to {output}")

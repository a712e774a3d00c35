from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from opsconsole.grafana import dashboard


class Command(BaseCommand):
    help = "Write a Grafana dashboard (JSON) over the series of GET /metrics."

    def add_arguments(self, parser):
        parser.add_argument(
            "--output", "-o", default="-", help="file to write (default: standard output)"
        )
        parser.add_argument("--title", default="OpsConsole", help="the dashboard's title")

    def handle(self, *args, output: str, title: str, **options):
        text = json.dumps(dashboard(title), indent=2) + "\n"
        if output == "-":
            self.stdout.write(text, ending="")
            return
        try:
            Path(output).write_text(text)
        except OSError as exc:
            raise CommandError(f"cannot write {output}: {exc.strerror}") from None
        self.stderr.write(f"dashboard written to {output} (Dashboards > Import in Grafana)")

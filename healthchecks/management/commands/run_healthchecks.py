"""Check service endpoints from the command line: ``--once`` checks every enabled
endpoint now; without it, a loop checks each one at its own interval (as the ticker
does, for consoles run without one)."""

from __future__ import annotations

import signal
import time

from django.core.management.base import BaseCommand, CommandError

from healthchecks.config import EndpointConfigError, import_endpoints
from healthchecks.models import ServiceEndpoint
from healthchecks.runner import claim_due, run_checks


class Command(BaseCommand):
    help = "Check service endpoints (--once: all enabled endpoints now)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="one cycle, then exit")
        parser.add_argument("--name", action="append", default=[], help="only this endpoint")

    def handle(self, *args, once: bool = False, name: list[str] | None = None, **options):
        try:
            import_endpoints()
        except EndpointConfigError as exc:
            raise CommandError(str(exc)) from None
        ids = None
        if name:
            found = dict(ServiceEndpoint.objects.filter(name__in=name).values_list("name", "pk"))
            missing = sorted(set(name) - set(found))
            if missing:
                raise CommandError(f"no endpoint named {', '.join(missing)}")
            ids = list(found.values())
        if once:
            self._report(run_checks(ids))
            return
        stopping = []
        signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
        signal.signal(signal.SIGINT, lambda *_: stopping.append(1))
        while not stopping:
            due = claim_due()
            if ids is not None:
                due = [pk for pk in due if pk in ids]
            if due:
                self._report(run_checks(due))
            time.sleep(1)

    def _report(self, cycle) -> None:
        for endpoint, result in cycle.results:
            ms = f"{result.response_ms:.0f} ms" if result.response_ms is not None else "-"
            detail = result.error or result.warning
            self.stdout.write(f"{endpoint.name:30} {endpoint.state:9} {ms:>9}  {detail}")
        self.stdout.write(f"checked {cycle.checked}, {len(cycle.transitions)} changed state")

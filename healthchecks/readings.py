"""The check results service rules read (``alerts.readings``), registered in ``ready()``."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from datetime import datetime

from alerts.readings import CheckRow, Endpoint
from healthchecks.constants import Outcome
from healthchecks.models import CheckResult, ServiceEndpoint


class CheckResults:
    def endpoints(self, names: Collection[str] | None) -> list[Endpoint]:
        found = ServiceEndpoint.objects.filter(enabled=True)
        if names is not None:
            found = found.filter(name__in=list(names))
        return [
            Endpoint(pk, name, retries)
            for pk, name, retries in found.values_list("pk", "name", "retries")
        ]

    def checks(
        self, endpoint_ids: list[int], since: datetime, until: datetime | None
    ) -> Iterator[CheckRow]:
        rows = CheckResult.objects.filter(endpoint_id__in=endpoint_ids, time__gte=since)
        if until is not None:
            rows = rows.filter(time__lte=until)
        for endpoint_id, at, outcome, response_ms, error in (
            rows.order_by("time")
            .values_list("endpoint_id", "time", "outcome", "response_ms", "error")
            .iterator(chunk_size=5000)
        ):
            yield endpoint_id, at, outcome == Outcome.FAIL, response_ms, error

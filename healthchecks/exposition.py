"""The service endpoints' series on ``/metrics`` (see opsconsole/exposition.py)."""

from __future__ import annotations

from collections.abc import Iterable

from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, Metric

from healthchecks.constants import State
from healthchecks.models import ServiceEndpoint
from healthchecks.uptime import uptimes


def endpoint_series() -> Iterable[Metric]:
    state = GaugeMetricFamily(
        "opsconsole_endpoint_state",
        "1 for the state each service endpoint is in, 0 for the others.",
        labels=["endpoint", "kind", "state"],
    )
    response = GaugeMetricFamily(
        "opsconsole_endpoint_response_seconds",
        "The last check's response time in seconds (endpoints checked at least once).",
        labels=["endpoint", "kind"],
    )
    uptime = GaugeMetricFamily(
        "opsconsole_endpoint_uptime_24h_percent",
        "Time up or degraded over the time the state was known, last 24 hours.",
        labels=["endpoint", "kind"],
    )
    broken = GaugeMetricFamily(
        "opsconsole_endpoint_broken",
        "1 for an enabled endpoint the scheduler or a check cycle could not handle (its "
        "reason is in the admin; it is not checked until fixed), 0 for the others.",
        labels=["endpoint", "kind"],
    )
    endpoints = list(
        ServiceEndpoint.objects.filter(enabled=True).values_list(
            "pk", "name", "kind", "state", "last_response_ms", "broken_since"
        )
    )
    # One query for every endpoint's flips, as the status page reads them.
    percents = uptimes(
        [pk for pk, *_ in endpoints], timezone.now(), {pk: s for pk, _, _, s, *_ in endpoints}
    )
    for pk, name, kind, current, last_ms, broken_since in endpoints:
        broken.add_metric([name, kind], 0 if broken_since is None else 1)
        for choice in State.values:
            state.add_metric([name, kind, choice], 1 if choice == current else 0)
        if last_ms is not None:
            response.add_metric([name, kind], last_ms / 1000)
        if (day := percents[pk]["24h"]) is not None:
            uptime.add_metric([name, kind], day)
    yield state
    yield response
    yield uptime
    yield broken

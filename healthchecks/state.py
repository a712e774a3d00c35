"""The state machine: probe results in, up / degraded / down transitions out.

A failure counts against the endpoint's retries before it turns DOWN; a success is UP,
or DEGRADED when slower than ``max_response_time_ms`` (or passing with a warning, like a
certificate about to expire). Each transition is stored as a Flip and raises or resolves
an alert through the alert pipeline, so deduplication, silences and the timeline apply.

Dependencies: while an ancestor is DOWN, the pipeline holds a child's alert back
(``dependency_of``, registered as one of its policies, so an alert about the endpoint
from any source is held back the same way); the decision is on the child's timeline
and noted on the ancestor's alert: one outage, one page. If the child is still down
when the ancestor recovers, its alert is sent then.
"""

from __future__ import annotations

import contextvars
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Field
from django.utils import timezone

from alerts import pipeline, policies
from alerts.constants import Category, EventKind, Severity, Status
from alerts.models import AlertEvent
from alerts.pipeline import open_alert
from alerts.spec import AlertSpec
from healthchecks import signals
from healthchecks.constants import DOWN_ALERT, SLOW_ALERT, Outcome, State
from healthchecks.models import CheckResult, Flip, ServiceEndpoint
from healthchecks.probes import ProbeResult
from healthchecks.recovery import run_recovery
from opsconsole.live import publish_now

logger = logging.getLogger(__name__)

SERVICES_GROUP = "services"
ACTOR = "healthchecks"
_ENDPOINT_FIELDS = [
    "state",
    "state_since",
    "consecutive_failures",
    "last_checked",
    "last_response_ms",
    "last_error",
    "alert_withheld",
    "recovery_done",
]


@dataclass
class Transition:
    endpoint: ServiceEndpoint
    old: str
    new: str
    reason: str


def outcome_of(endpoint: ServiceEndpoint, result: ProbeResult) -> Outcome:
    if not result.ok:
        return Outcome.FAIL
    slow = (
        endpoint.max_response_time_ms is not None
        and result.response_ms is not None
        and result.response_ms > endpoint.max_response_time_ms
    )
    return Outcome.SLOW if slow or result.warning else Outcome.OK


def _explain(endpoint: ServiceEndpoint, result: ProbeResult, outcome: Outcome) -> str:
    if outcome == Outcome.FAIL:
        return result.error or "check failed"
    if outcome == Outcome.SLOW:
        if result.warning:
            return result.warning
        return f"responded in {result.response_ms:.0f} ms (max {endpoint.max_response_time_ms} ms)"
    return ""


def apply_results(
    pairs: list[tuple[ServiceEndpoint, ProbeResult]], now: datetime | None = None
) -> list[Transition]:
    """Store the results, step each endpoint's state, and act on the transitions."""
    if not pairs:
        return []
    now = now or timezone.now()
    rows: list[CheckResult] = []
    transitions: list[Transition] = []
    recover: list[ServiceEndpoint] = []
    for endpoint, result in pairs:
        outcome = outcome_of(endpoint, result)
        reason = _explain(endpoint, result, outcome)
        rows.append(
            CheckResult(
                endpoint_id=endpoint.pk,
                time=now,
                outcome=outcome,
                response_ms=result.response_ms,
                status_code=result.status_code,
                error=reason,
            )
        )
        old = endpoint.state
        if outcome == Outcome.FAIL:
            endpoint.consecutive_failures += 1
            new = State.DOWN if endpoint.consecutive_failures > endpoint.retries else old
            # Once per outage, as soon as the failures reach the setting (an endpoint
            # already past it when the setting was lowered recovers at its next failure).
            if (
                has_recovery(endpoint)
                and not endpoint.recovery_done
                and endpoint.consecutive_failures >= endpoint.recovery_after_failures
            ):
                endpoint.recovery_done = True
                recover.append(endpoint)
        else:
            endpoint.consecutive_failures = 0
            endpoint.recovery_done = False
            new = State.DEGRADED if outcome == Outcome.SLOW else State.UP
        endpoint.last_checked = now
        endpoint.last_response_ms = result.response_ms
        endpoint.last_error = reason
        if new != old:
            endpoint.state = new
            endpoint.state_since = now
            transitions.append(Transition(endpoint, old, new, reason))
    with transaction.atomic():
        CheckResult.objects.bulk_create(rows)
        Flip.objects.bulk_create(
            [
                Flip(
                    endpoint_id=t.endpoint.pk,
                    time=now,
                    old_state=t.old,
                    new_state=t.new,
                    reason=t.reason,
                )
                for t in transitions
            ]
        )
        _alert(pairs, transitions, now)
        _save_states([e for e, _ in pairs])
        ids = [e.pk for e, _ in pairs]
        transaction.on_commit(lambda: publish_now(SERVICES_GROUP, _event(ids)))
        if transitions:
            changes = [(t.endpoint, t.old, t.new, t.reason) for t in transitions]
            transaction.on_commit(lambda: signals.announce(changes, now))
    if recover:
        for endpoint in recover:
            run_recovery(endpoint)
    return transitions


def has_recovery(endpoint: ServiceEndpoint) -> bool:
    """Whether the endpoint has recovery to run: a webhook, or actions such as
    NOTIFY_ADMIN that need none; never with a setting of 0 failures."""
    return bool(endpoint.recovery_after_failures) and bool(
        endpoint.recovery_webhook_url or endpoint.recovery_actions
    )


def _column(field: Field) -> str:
    assert field.column is not None  # a concrete field, stored in a column of its own
    return field.column


def _save_states(endpoints: list[ServiceEndpoint]) -> None:
    """One parameterised UPDATE per endpoint, sent with executemany.

    ``bulk_update`` builds a CASE expression per field over every row, and resolving
    those costs about 3 s of Python for 500 endpoints, more than probing them does.
    """
    meta = ServiceEndpoint._meta
    fields = [cast(Field, meta.get_field(name)) for name in _ENDPOINT_FIELDS]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(_column(f))} = %s" for f in fields)
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(_column(meta.pk))} = %s"
    rows = [
        [f.get_db_prep_save(getattr(e, f.attname), connection) for f in fields] + [e.pk]
        for e in endpoints
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def mark_unknown(endpoints: list[ServiceEndpoint], reason: str, now: datetime) -> int:
    """Checks that could not run: UNKNOWN, with their failure counts reset, so results
    after a monitoring gap count afresh instead of paging for the gap itself."""
    changed = []
    flips = []
    changes = []  # (endpoint, old, new, reason) for health_changed
    for endpoint in endpoints:
        if endpoint.state == State.UNKNOWN:
            continue
        flips.append(
            Flip(
                endpoint_id=endpoint.pk,
                time=now,
                old_state=endpoint.state,
                new_state=State.UNKNOWN,
                reason=reason,
            )
        )
        changes.append((endpoint, endpoint.state, State.UNKNOWN, reason))
        endpoint.state = State.UNKNOWN
        endpoint.state_since = now
        endpoint.consecutive_failures = 0
        changed.append(endpoint)
    if changed:
        with transaction.atomic():
            Flip.objects.bulk_create(flips)
            ServiceEndpoint.objects.bulk_update(
                changed, ["state", "state_since", "consecutive_failures"]
            )
            ids = [e.pk for e in changed]
            transaction.on_commit(lambda: publish_now(SERVICES_GROUP, _event(ids)))
            transaction.on_commit(lambda: signals.announce(changes, now))
    return len(changed)


def disable(endpoints: list[ServiceEndpoint], actor: str, now: datetime | None = None) -> int:
    """Stop checking: the endpoints become disabled and UNKNOWN, and their open alerts
    are resolved, since nothing would ever resolve them otherwise."""
    now = now or timezone.now()
    with transaction.atomic():
        for endpoint in endpoints:
            for alert_type in (DOWN_ALERT, SLOW_ALERT):
                pipeline.clear_alert(
                    alert_type, endpoint.name, actor=actor, note="the check was disabled"
                )
        ServiceEndpoint.objects.filter(pk__in=[e.pk for e in endpoints]).update(enabled=False)
        mark_unknown(endpoints, f"disabled by {actor}", now)
    return len(endpoints)


def _event(ids: list[int]) -> dict:
    # "at" names this change: pages open in one process share one render of it.
    return {"type": "services.update", "ids": ids, "at": time.time_ns()}


# -- alerts ------------------------------------------------------------------------------
def _alert(pairs, transitions: list[Transition], now: datetime) -> None:
    graph = _Graph()
    changed = {t.endpoint.pk: t for t in transitions}
    token = _cycle_graph.set(graph)
    try:
        # Parents first, so a parent that went down in this cycle is known before its
        # child, whose alert the pipeline then holds back.
        for endpoint, _result in sorted(pairs, key=lambda p: graph.depth(p[0].pk)):
            graph.state[endpoint.pk] = endpoint.state
            transition = changed.get(endpoint.pk)
            if transition is None and not (
                endpoint.state == State.DOWN and endpoint.alert_withheld
            ):
                continue
            if endpoint.state in (State.DOWN, State.DEGRADED):
                if endpoint.state == State.DOWN:
                    _resolve(SLOW_ALERT, endpoint, "down now; see the down alert")
                    record = pipeline.raise_alert(_down_alert(endpoint), actor=ACTOR, at=now)
                else:
                    _resolve(DOWN_ALERT, endpoint, "answering again, but slowly")
                    record = pipeline.raise_alert(_slow_alert(endpoint), actor=ACTOR, at=now)
                held = (
                    record.status == Status.SUPPRESSED
                    and record.suppressed_by == policies.DEPENDENCY_ACTOR
                )
                if held and transition is not None:
                    _note_on_ancestor(endpoint, graph.down_ancestor(endpoint.pk), transition)
                endpoint.alert_withheld = held
            else:
                endpoint.alert_withheld = False
                note = f"{endpoint.name} is {endpoint.state}"
                _resolve(DOWN_ALERT, endpoint, note)
                _resolve(SLOW_ALERT, endpoint, note)
    finally:
        _cycle_graph.reset(token)


def _down_alert(endpoint: ServiceEndpoint) -> AlertSpec:
    return AlertSpec(
        alert_type=DOWN_ALERT,
        title=f"{endpoint.name} is down",
        message=f"{endpoint.name} is down: {endpoint.last_error or 'check failed'}",
        priority=endpoint.severity,
        category=Category.AVAILABILITY,
        resource=endpoint.name,
        metadata={
            "endpoint_id": endpoint.pk,
            "kind": endpoint.kind,
            "target": endpoint.target,
            "consecutive_failures": endpoint.consecutive_failures,
        },
        recommendations=[
            f"Check {endpoint.target or endpoint.name} from the console's host",
            "Look at the service's own logs around the first failure",
        ],
    )


def _slow_alert(endpoint: ServiceEndpoint) -> AlertSpec:
    return AlertSpec(
        alert_type=SLOW_ALERT,
        title=f"{endpoint.name} is degraded",
        message=f"{endpoint.name} is degraded: {endpoint.last_error}",
        priority=Severity.WARNING,
        category=Category.PERFORMANCE,
        resource=endpoint.name,
        metadata={"endpoint_id": endpoint.pk, "response_ms": endpoint.last_response_ms},
        value=endpoint.last_response_ms,
        threshold=endpoint.max_response_time_ms,
    )


def _resolve(alert_type: str, endpoint: ServiceEndpoint, note: str) -> None:
    pipeline.clear_alert(alert_type, endpoint.name, actor=ACTOR, note=note)


def _note_on_ancestor(endpoint: ServiceEndpoint, ancestor: str | None, t: Transition) -> None:
    """The ancestor's page says which alerts its outage holds back."""
    if ancestor is None:
        return
    AlertEvent.objects.create(
        alert=open_alert(DOWN_ALERT, ancestor),
        kind=EventKind.NOTE,
        actor=ACTOR,
        reason=f"withheld: parent {ancestor} down ({endpoint.name}: {t.reason})",
        data={"endpoint": endpoint.name, "parent": ancestor, "state": endpoint.state},
    )


# -- dependencies, as a policy of the pipeline -----------------------------------------------
# Within a cycle the endpoints' new states are known before they are written: the cycle
# hands its graph to the policy. Elsewhere the graph is read from the database at most
# once per CONFIG_CACHE_SECONDS per process (a storm from the API asks per alert).
_cycle_graph: contextvars.ContextVar[_Graph | None] = contextvars.ContextVar(
    "healthchecks_cycle_graph", default=None
)
_read_graph: tuple[float, _Graph] | None = None


def dependency_of(fields: dict[str, str]) -> str | None:
    """Why an alert about an endpoint is withheld ("parent database down", "host db-01
    not reporting"), or None: any alert whose resource is an endpoint with a DOWN
    ancestor, or that runs on a host (its own, or an ancestor's) that stopped
    reporting, whatever raised it."""
    global _read_graph
    resource = fields.get("resource")
    if not resource:
        return None
    graph = _cycle_graph.get()
    if graph is None:
        now = time.monotonic()
        if _read_graph is None or now - _read_graph[0] >= settings.CONFIG_CACHE_SECONDS:
            _read_graph = (now, _Graph())
        graph = _read_graph[1]
    pk = graph.by_name.get(resource)
    if pk is None:
        return None
    ancestor = graph.down_ancestor(pk)
    if ancestor:
        return f"parent {ancestor} down"
    host = graph.silent_host(pk)
    return f"host {host} not reporting" if host else None


class _Graph:
    """Every endpoint's parent, state and host, read once per cycle (a few hundred
    rows, one query)."""

    def __init__(self):
        rows = ServiceEndpoint.objects.values_list(
            "id", "parent_id", "state", "name", "host__hostname", "host__last_seen"
        )
        self.parent = {row[0]: row[1] for row in rows}
        self.state = {row[0]: row[2] for row in rows}
        self.name = {row[0]: row[3] for row in rows}
        self.by_name = {name: pk for pk, name in self.name.items()}
        self.host = {row[0]: (row[4], row[5]) for row in rows if row[4] is not None}

    def silent_host(self, pk: int) -> str | None:
        """The host of the endpoint or of an ancestor that has sent nothing for three
        collection intervals (``Host.is_stale``'s measure); a host that never reported
        is not known to be down."""
        cutoff = timezone.now() - timedelta(seconds=3 * settings.METRICS_COLLECTION_INTERVAL)
        for current in (pk, *self.ancestors(pk)):
            hostname, last_seen = self.host.get(current, (None, None))
            if last_seen is not None and last_seen < cutoff:
                return hostname
        return None

    def ancestors(self, pk: int):
        seen = {pk}
        current = self.parent.get(pk)
        while current is not None and current not in seen:
            seen.add(current)
            yield current
            current = self.parent.get(current)

    def depth(self, pk: int) -> int:
        return sum(1 for _ in self.ancestors(pk))

    def down_ancestor(self, pk: int) -> str | None:
        for ancestor in self.ancestors(pk):
            if self.state.get(ancestor) == State.DOWN:
                return self.name[ancestor]
        return None

"""Service health over the API: seed 002's ``/system/health``, endpoints with their
history and uptime, "check now", and the end-to-end latency monitor."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from ninja import Body, Query, Router, Status
from ninja.errors import HttpError

from alerts.constants import parse_severity
from healthchecks import schema
from healthchecks.forms import ServiceEndpointForm
from healthchecks.latency import latency_monitor
from healthchecks.models import CheckResult, Flip, ServiceEndpoint
from healthchecks.monitor import service_health
from healthchecks.runner import run_checks
from healthchecks.state import disable
from healthchecks.uptime import uptimes
from metrics.models import Host
from opsconsole.apitools import MAX_ROW_ID, answers, as_form_data
from opsconsole.auth import api_auth
from opsconsole.models import Scope
from opsconsole.roles import Role, has_role

router = Router(tags=["services"])
system_router = Router(tags=["services"])
latency_router = Router(tags=["latency"])


def endpoint_out(
    endpoint: ServiceEndpoint,
    figures: dict[int, dict[str, float | None]],
    parents: dict[int, str],
    *,
    reveal: bool = False,
    hosts: dict[int, str] | None = None,
) -> dict[str, Any]:
    """One endpoint as the API shows it. A target's credentials (a database URL's
    password, a token in its query) are masked unless ``reveal`` (admins, who edit it)."""
    from django.urls import reverse

    return {
        **{name: getattr(endpoint, name) for name in schema.EndpointOut.Meta.fields},
        "tags": endpoint.tags,
        "target": endpoint.target if reveal else endpoint.target_for_display(),
        "parent": parents.get(endpoint.parent_id) if endpoint.parent_id else None,
        "host": (hosts or {}).get(endpoint.host_id) if endpoint.host_id else None,
        "uptime": figures.get(endpoint.pk, {}),
        "badge_url": reverse("service_badge", args=[str(endpoint.ping_uuid)]),
        "ping_url": (
            reverse("heartbeat_ping", args=[endpoint.ping_uuid])
            if endpoint.kind == "heartbeat"
            else None
        ),
    }


def _describe(endpoints: list[ServiceEndpoint], request: HttpRequest) -> list[dict[str, Any]]:
    figures = uptimes([e.pk for e in endpoints], timezone.now(), {e.pk: e.state for e in endpoints})
    parents = dict(ServiceEndpoint.objects.values_list("id", "name"))
    host_ids = {e.host_id for e in endpoints if e.host_id}
    hosts = dict(Host.objects.filter(pk__in=host_ids).values_list("id", "hostname"))
    reveal = has_role(request.user, Role.ADMIN)
    return [endpoint_out(e, figures, parents, reveal=reveal, hosts=hosts) for e in endpoints]


def _get(ref: str) -> ServiceEndpoint:
    """An endpoint by id or by name."""
    # Only ASCII digits are an id: "²" is a digit to str.isdigit but not to int(), and an
    # id past 64 bits names no row (and overflows SQLite's comparison).
    by_id = ref.isascii() and ref.isdigit() and int(ref) <= MAX_ROW_ID
    endpoint = (
        ServiceEndpoint.objects.filter(pk=int(ref)).first()
        if by_id
        else ServiceEndpoint.objects.filter(name=ref).first()
    )
    if endpoint is None:
        raise HttpError(404, f"no service endpoint {ref!r}")
    return endpoint


@system_router.get(
    "/health",
    response=answers({200: schema.SystemHealthOut}),
    auth=api_auth(),
    url_name="system_health",
)
def system_health(request: HttpRequest) -> dict[str, Any]:
    """Every enabled endpoint's state and the overall status: healthy, degraded or
    unhealthy (seed 002)."""
    return service_health(reveal=has_role(request.user, Role.ADMIN))


@router.get(
    "",
    response=answers({200: list[schema.EndpointOut]}, 422),
    auth=api_auth(),
    url_name="list_services",
)
def list_services(
    request: HttpRequest, state: str | None = None, tag: str | None = None
) -> list[dict[str, Any]]:
    """Endpoints with their state and uptime; filter by ``state`` or ``tag``."""
    endpoints = ServiceEndpoint.objects.order_by("name")
    if state:
        endpoints = endpoints.filter(state=state)
    found = list(endpoints)
    if tag:
        found = [e for e in found if tag in (e.tags or [])]
    return _describe(found, request)


def _save(endpoint: ServiceEndpoint | None, body: dict[str, Any]) -> ServiceEndpoint:
    """Create or change an endpoint, validated by the admin's form."""
    fields = ServiceEndpointForm.Meta.fields
    if "severity" in body:
        try:
            body["severity"] = parse_severity(body["severity"]).value
        except ValueError as exc:
            raise HttpError(422, str(exc)) from None
    if body.get("parent") is not None:
        parent = ServiceEndpoint.objects.filter(name=str(body["parent"])).first()
        if parent is None:
            raise HttpError(422, f"parent: no endpoint named {body['parent']!r}")
        body["parent"] = parent.pk
    # A PATCH changes only what it names; a POST starts from the model's defaults.
    base = endpoint if endpoint is not None else ServiceEndpoint()
    data = {f: getattr(base, "parent_id" if f == "parent" else f) for f in fields}
    data["host"] = base.host.hostname if base.host else None  # the form names hosts
    form = ServiceEndpointForm(data=as_form_data({**data, **body}), instance=endpoint)
    if not form.is_valid():
        problems = "; ".join(
            f"{field}: {' '.join(map(str, errors))}" for field, errors in form.errors.items()
        )
        raise HttpError(422, problems)
    return form.save()


@router.post(
    "",
    response=answers({201: schema.EndpointOut}, 413, 422),
    auth=api_auth(Scope.WRITE, Role.ADMIN),
    url_name="create_service",
)
def create_service(
    request: HttpRequest, payload: Body[schema.EndpointIn]
) -> Status[dict[str, Any]]:
    """A new endpoint (admin); fields as in the admin, ``parent`` and ``host`` by name,
    validated like the admin's form (422 with every field's problem)."""
    saved = _save(None, payload.dict(exclude_unset=True))
    return Status(201, _describe([saved], request)[0])


@router.patch(
    "/{ref}",
    response=answers({200: schema.EndpointOut}, 404, 413, 422),
    auth=api_auth(Scope.WRITE, Role.ADMIN),
    url_name="update_service",
)
def update_service(request: HttpRequest, ref: str, payload: schema.EndpointPatch) -> dict[str, Any]:
    """Change the fields named (the others stay); disabling resolves its alerts."""
    endpoint = _get(ref)
    was_enabled = endpoint.enabled
    saved = _save(endpoint, payload.dict(exclude_unset=True))
    if was_enabled and not saved.enabled:
        # Stopping a check resolves its open alerts, as the admin's action does.
        disable([saved], actor=request.user.get_username())
        saved.refresh_from_db()
    return _describe([saved], request)[0]


@router.delete(
    "/{ref}",
    response=answers({204: None}, 404),
    auth=api_auth(Scope.WRITE, Role.ADMIN),
    url_name="delete_service",
)
def delete_service(request: HttpRequest, ref: str) -> Status[None]:
    """Delete an endpoint with its results and flips; its alerts stay."""
    _get(ref).delete()
    return Status(204, None)


@router.get(
    "/{ref}",
    response=answers({200: schema.EndpointOut}, 404),
    auth=api_auth(),
    url_name="get_service",
)
def get_service(request: HttpRequest, ref: str) -> dict[str, Any]:
    """One endpoint by id or name, with its state and uptime."""
    return _describe([_get(ref)], request)[0]


@router.get(
    "/{ref}/history",
    response=answers({200: schema.HistoryOut}, 404, 422),
    auth=api_auth(),
    url_name="service_history",
)
def service_history(
    request: HttpRequest, ref: str, query: Query[schema.HistoryQuery]
) -> dict[str, Any]:
    """Recent results (newest first), the state changes and uptime."""
    endpoint = _get(ref)
    since = timezone.now() - timedelta(hours=query.hours)
    results = CheckResult.objects.filter(endpoint=endpoint, time__gte=since).order_by("-time")
    flips = Flip.objects.filter(endpoint=endpoint, time__gte=since).order_by("-time")
    return {
        "endpoint": _describe([endpoint], request)[0],
        "results": list(results[: query.limit]),
        "flips": list(flips[: query.limit]),
    }


@router.post(
    "/{ref}/check",
    response=answers({200: schema.EndpointOut}, 404, 409),
    auth=api_auth(Scope.WRITE, Role.ADMIN),
    url_name="check_service",
)
def check_service(request: HttpRequest, ref: str) -> dict[str, Any]:
    """Check the endpoint now and return its state afterwards (admin)."""
    endpoint = _get(ref)
    if not endpoint.enabled:
        raise HttpError(409, f"{endpoint.name} is disabled; enable it first")
    run_checks([endpoint.pk])
    endpoint.refresh_from_db()
    return _describe([endpoint], request)[0]


@latency_router.post(
    "",
    response=answers({201: schema.StoredOut}, 413, 422),
    auth=api_auth(Scope.INGEST, Role.ADMIN),
    url_name="report_latency",
)
def report_latency(
    request: HttpRequest, body: schema.LatencyIn | schema.LatencyBatchIn
) -> Status[dict[str, int]]:
    """One sample (``source`` with ``duration_ms``, or ``event_time`` and
    ``commit_time``), or ``{"samples": [...]}``."""
    samples = body.samples if isinstance(body, schema.LatencyBatchIn) else [body]
    now = timezone.now()
    # The validator fills duration_ms in from the two times when it is not sent.
    rows = [(s.source, cast(float, s.duration_ms), s.commit_time or now) for s in samples]
    with transaction.atomic():
        stored = latency_monitor.record_many(rows)
    return Status(201, {"stored": stored})


@latency_router.get(
    "",
    response=answers({200: schema.LatencySummaryOut}, 422),
    auth=api_auth(),
    url_name="latency_summary",
)
def latency_summary(
    request: HttpRequest,
    source: str | None = None,
    window_seconds: int = Query(300, ge=1, le=30 * 86400),
) -> dict[str, Any]:
    """Per source over the window: count, average, p50, p95, p99 and max, in ms."""
    return {
        "window_seconds": window_seconds,
        "sources": latency_monitor.get_average_latency(window_seconds=window_seconds)
        if source is None
        else {source: latency_monitor.get_average_latency(source, window_seconds)},
    }

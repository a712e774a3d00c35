"""The one NinjaAPI: mounts each app's router under /api/v1/ and serves OpenAPI docs.

Wiring, like ``opsconsole.urls``: the one module of the API that imports the apps; no
module but ``opsconsole.urls`` imports it (see the import contracts in pyproject.toml).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connection
from django.utils import timezone
from ninja import Field, NinjaAPI, Schema, Status
from ninja.errors import AuthenticationError, HttpError, ValidationError

from alerts.api import inhibitions_router, silences_router
from alerts.api import router as alerts_router
from alerts.api import rules_router as alert_rules_router
from alerts.integrations.api import router as integrations_router
from dashboard.api import audit_router, dashboard_router, widgets_router
from dashboard.status import host_freshness, public_status
from healthchecks.api import latency_router
from healthchecks.api import router as services_router
from healthchecks.api import system_router as health_system_router
from metrics.api import hosts_router, system_router
from metrics.api import router as metrics_router
from notifications.api import channels_router, notifications_router, routing_router
from oncall.api import people_router, policies_router, schedules_router
from opsconsole.apitools import answers
from opsconsole.auth import api_auth
from opsconsole.panels import configuration_warnings

api = NinjaAPI(
    title="OpsConsole API",
    version="1",
    description=(
        "System vitals, alerts and health for dashboards, agents and scripts. "
        "Authenticate with the browser session (CSRF token on writes) or "
        "`Authorization: Bearer <token>` (create one with `manage.py create_api_token`)."
    ),
    auth=api_auth(),
    urls_namespace="api",
    docs_url="/docs",
)


@api.exception_handler(ValidationError)
def validation_error(request, exc: ValidationError):
    # One readable line per problem: "samples.3.value: Input should be a valid number".
    problems = []
    for error in exc.errors:
        location = ".".join(
            str(part) for part in error.get("loc", ()) if part not in ("body", "payload")
        )
        message = _readable(error)
        problems.append(f"{location}: {message}" if location else message)
    return api.create_response(
        request, {"detail": "; ".join(problems), "errors": exc.errors}, status=422
    )


def _readable(error) -> str:
    """Pydantic's message, but a discriminated union's (a channel's or an endpoint's
    ``kind``) said as the field's allowed values."""
    context = error.get("ctx") or {}
    field = str(context.get("discriminator", "")).strip("'")
    if error.get("type") == "union_tag_invalid":
        return f"{field} must be one of: {context['expected_tags']}"
    if error.get("type") == "union_tag_not_found":
        return f"{field} is required"
    return str(error.get("msg", ""))


@api.exception_handler(DjangoValidationError)
def unstorable(request, exc: DjangoValidationError):
    # A value the database cannot store (opsconsole.inputguard.check_storable).
    if not getattr(exc, "storable", False):
        raise exc
    return api.create_response(request, {"detail": "; ".join(exc.messages)}, status=422)


@api.exception_handler(AuthenticationError)
def authentication_error(request, exc):
    return api.create_response(
        request,
        {"detail": "authentication required: log in or send 'Authorization: Bearer <token>'"},
        status=401,
    )


@api.exception_handler(RequestDataTooBig)
def too_big(request, exc):
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return api.create_response(
        request,
        {"detail": f"request body is over {limit} bytes; send smaller batches"},
        status=413,
    )


@api.exception_handler(HttpError)
def http_error(request, exc: HttpError):
    return api.create_response(request, {"detail": exc.message}, status=exc.status_code)


api.add_router("/metrics", metrics_router)
api.add_router("/hosts", hosts_router)
api.add_router("/alerts", alerts_router)
api.add_router("/alert-rules", alert_rules_router)
api.add_router("/silences", silences_router)
api.add_router("/inhibitions", inhibitions_router)
api.add_router("/system", system_router)
api.add_router("/dashboard", dashboard_router)
api.add_router("/widgets", widgets_router)
api.add_router("/audit", audit_router)
api.add_router("/channels", channels_router)
api.add_router("/routing-rules", routing_router)
api.add_router("/notifications", notifications_router)
api.add_router("/system", health_system_router)
api.add_router("/services", services_router)
api.add_router("/latency", latency_router)
api.add_router("/integrations", integrations_router)
api.add_router("/people", people_router)
api.add_router("/schedules", schedules_router)
api.add_router("/escalation-policies", policies_router)


class ServiceInfo(Schema):
    name: str
    version: str
    description: str
    features: list[str]
    docs: str


class HealthOut(Schema):
    status: str = Field(..., description="ok or unhealthy")
    time: str
    database: str = Field(..., description="ok, or error: <what failed>")


class HostFreshness(Schema):
    hostname: str
    last_seen: str | None
    stale: bool


class StatusOut(Schema):
    status: str
    time: str
    python: str
    database: str = Field(..., description="sqlite or postgresql")
    channel_layer: str
    task_broker: str
    collection_interval_seconds: int
    host_count: int = Field(..., description="enabled hosts")
    stale_host_count: int = Field(..., description="enabled hosts not reporting lately")
    system: dict[str, Any] = Field(
        ...,
        description="the console's own host: status, time, cpu_percent, memory_percent, "
        "disk_percent, load, cpu_count",
    )
    hosts: list[HostFreshness]
    warnings: list[str] = Field(
        default_factory=list, description="what is wrong with the configuration, one line each"
    )


@api.get("/", auth=None, response=answers({200: ServiceInfo}, public=True), tags=["service"])
def service_info(request):
    """What this service is (seed 002's ``GET /``)."""
    return {
        "name": "OpsConsole",
        "version": "1",
        "description": "Ops console: system vitals, alerts, routing and live pages.",
        "features": [
            "system metrics collection",
            "process monitoring",
            "agents pushing from other hosts",
            "roll-ups and retention",
            "live System Monitor over websockets",
        ],
        "docs": "/api/v1/docs",
    }


def _database_ok() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except Exception as exc:
        return f"error: {exc.__class__.__name__}"


@api.get(
    "/health",
    auth=None,
    response=answers({200: HealthOut, 503: HealthOut}, public=True),
    tags=["service"],
)
def health(request):
    """Basic liveness: the process answers and its database too (503 when it does not)."""
    database = _database_ok()
    body = {
        "status": "ok" if database == "ok" else "unhealthy",
        "time": timezone.now().isoformat(),
        "database": database,
    }
    return Status(200 if database == "ok" else 503, body)


@api.get("/status", response=answers({200: StatusOut}), tags=["service"])
def status(request):
    """Extended status: versions, modes, the console's own vitals (the public part, also
    served without auth at ``GET /status``), the collector's freshness per host, and
    warnings about the configuration (a severity whose alerts reach no enabled channel)."""
    return {
        **public_status(),
        "hosts": host_freshness(),
        "warnings": configuration_warnings(),
    }

"""``SERVICE_ENDPOINTS`` from the environment, imported as ServiceEndpoint rows.

Seed 002's shape, as JSON: ``{"chat-service": "http://localhost:8000/api/v1/health"}``;
a value may also be an object with options (``{"url": ..., "interval": 30,
"max_response_time_ms": 500, "severity": "critical", "parent": "db"}``). A plain
``name=url,name=url`` list is accepted too. Endpoints made in the admin are never
touched; imported ones are updated when the variable changes, disabled at the console's
start when it stops naming them (history kept), and enabled again when it names them
again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from alerts.constants import parse_severity
from healthchecks.constants import Kind
from healthchecks.models import ServiceEndpoint
from healthchecks.probes import UnsafeTarget, validate_url
from healthchecks.state import disable
from opsconsole.bootstrap import DefaultsError
from opsconsole.bounds import stored_problems

_OPTION_FIELDS = {
    "interval": "interval_seconds",
    "interval_seconds": "interval_seconds",
    "timeout": "timeout_seconds",
    "timeout_seconds": "timeout_seconds",
    "retries": "retries",
    "max_response_time_ms": "max_response_time_ms",
    "method": "http_method",
    "accepted_status_codes": "accepted_status_codes",
    "keyword": "expect_keyword",
}


class EndpointConfigError(DefaultsError):
    pass


@dataclass
class EndpointSpec:
    name: str
    target: str
    options: dict = field(default_factory=dict)
    parent: str = ""


def parse(text: str) -> list[EndpointSpec]:
    text = (text or "").strip()
    if not text:
        return []
    # What starts like JSON is read as JSON, so a broken object or list is called bad
    # JSON rather than a malformed name=url pair.
    if text[0] in '{["':
        try:
            raw = json.loads(text)
        except ValueError as exc:
            raise EndpointConfigError(f"SERVICE_ENDPOINTS is not valid JSON: {exc}") from None
        if not isinstance(raw, dict):
            raise EndpointConfigError(
                "SERVICE_ENDPOINTS must be a JSON object of name to URL or settings "
                f'({{"web": "https://example.com/health"}}), not a JSON {type(raw).__name__}'
            )
    else:
        raw = {}
        for item in filter(None, (part.strip() for part in text.split(","))):
            name, sep, url = item.partition("=")
            if not sep or not name.strip() or not url.strip():
                raise EndpointConfigError(f"SERVICE_ENDPOINTS: {item!r} is not name=url")
            raw[name.strip()] = url.strip()
    specs = []
    for name, value in raw.items():
        specs.append(_spec(str(name), value))
    return specs


def _spec(name: str, value) -> EndpointSpec:
    if isinstance(value, str):
        value = {"url": value}
    if not isinstance(value, dict) or not isinstance(value.get("url"), str):
        raise EndpointConfigError(f"SERVICE_ENDPOINTS: {name!r} needs a URL")
    if not 0 < len(name) <= 120:
        raise EndpointConfigError(f"SERVICE_ENDPOINTS: name {name!r} must be 1-120 characters")
    try:
        validate_url(value["url"])
    except UnsafeTarget as exc:
        raise EndpointConfigError(f"SERVICE_ENDPOINTS: {name!r}: {exc}") from None
    options = {}
    for key, attr in _OPTION_FIELDS.items():
        if key in value:
            options[attr] = value[key]
    if "severity" in value:
        try:
            options["severity"] = parse_severity(value["severity"]).value
        except ValueError as exc:
            raise EndpointConfigError(f"SERVICE_ENDPOINTS: {name!r}: {exc}") from None
    for attr in ("interval_seconds", "retries", "max_response_time_ms"):
        if attr in options and (not isinstance(options[attr], int) or options[attr] < 0):
            raise EndpointConfigError(
                f"SERVICE_ENDPOINTS: {name!r}: {attr} must be a whole number >= 0"
            )
    if options.get("interval_seconds", 5) < 5:
        raise EndpointConfigError(f"SERVICE_ENDPOINTS: {name!r}: interval must be >= 5 s")
    # The bounds the admin and the API enforce: this path creates rows without a form.
    bounded = [key for key in options if key in ServiceEndpoint.BOUNDED_FIELDS]
    problems = stored_problems(ServiceEndpoint(**options), bounded)
    if problems:
        raise EndpointConfigError(f"SERVICE_ENDPOINTS: {name!r}: {problems[0]}")
    return EndpointSpec(
        name=name, target=value["url"], options=options, parent=str(value.get("parent") or "")
    )


@dataclass(frozen=True)
class Imported:
    created: int = 0
    updated: int = 0
    # Endpoints the variable no longer names: disabled, not deleted, so their flips,
    # uptime and alerts stay.
    disabled: int = 0
    # Endpoints it names again after they were disabled that way.
    restored: int = 0


def import_endpoints(text: str | None = None, *, retire: bool = False) -> Imported:
    """Make the environment's endpoints match SERVICE_ENDPOINTS (or ``text``).

    With ``retire`` (the console's start), imported endpoints the variable no longer
    names are disabled. Never when it names none: a console or a command started
    without the variable (another shell, a cron job) must not switch monitoring off.
    """
    specs = parse(settings.SERVICE_ENDPOINTS if text is None else text)
    created = updated = restored = 0
    now = timezone.now()
    with transaction.atomic():
        for spec in specs:
            defaults = {
                "kind": Kind.HTTP,
                "target": spec.target,
                "interval_seconds": settings.HEALTH_CHECK_INTERVAL,
                "max_response_time_ms": int(settings.RESPONSE_TIME_ALERT_THRESHOLD),
                **spec.options,
            }
            endpoint = ServiceEndpoint.objects.filter(name=spec.name).first()
            if endpoint is None:
                ServiceEndpoint.objects.create(name=spec.name, from_environment=True, **defaults)
                created += 1
            elif endpoint.from_environment:
                changed = [k for k, v in defaults.items() if getattr(endpoint, k) != v]
                for key in changed:
                    setattr(endpoint, key, defaults[key])
                if endpoint.removed_from_environment is not None:
                    endpoint.enabled, endpoint.removed_from_environment = True, None
                    endpoint.next_check_at = now
                    changed += ["enabled", "removed_from_environment", "next_check_at"]
                    restored += 1
                elif changed:
                    updated += 1
                if changed and endpoint.broken:
                    # As an edit in the admin: claimed again, marked anew if still broken.
                    endpoint.broken_reason, endpoint.broken_since = "", None
                    changed += ["broken_reason", "broken_since"]
                if changed:
                    endpoint.save(update_fields=changed)
        for spec in specs:
            if spec.parent:
                parent = ServiceEndpoint.objects.filter(name=spec.parent).first()
                if parent is None:
                    raise EndpointConfigError(
                        f"SERVICE_ENDPOINTS: {spec.name!r}: no endpoint named {spec.parent!r}"
                    )
                ServiceEndpoint.objects.filter(name=spec.name, from_environment=True).update(
                    parent=parent
                )
        removed = []
        if retire and specs:
            removed = list(
                ServiceEndpoint.objects.filter(
                    from_environment=True, removed_from_environment__isnull=True
                ).exclude(name__in=[spec.name for spec in specs])
            )
        if removed:
            # As the admin's "disable" does: stop checking, mark UNKNOWN, and resolve
            # their open alerts, which nothing would resolve otherwise.
            disable(removed, actor="SERVICE_ENDPOINTS", now=now)
            ServiceEndpoint.objects.filter(pk__in=[e.pk for e in removed]).update(
                removed_from_environment=now
            )
    return Imported(created, updated, len(removed), restored)


def endpoints_from_environment() -> list[str]:
    """SERVICE_ENDPOINTS from the environment, created or updated on every start (a
    first-run default the app registers with ``opsconsole.bootstrap``)."""
    done = import_endpoints(retire=True)
    return [
        f"{n} service endpoints {verb}"
        for n, verb in (
            (done.created, "created"),
            (done.updated, "updated"),
            (done.restored, "enabled again"),
            (done.disabled, "disabled: SERVICE_ENDPOINTS no longer names them"),
        )
        if n
    ]

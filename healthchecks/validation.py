"""What makes an endpoint checkable, shared by the admin's form and the API."""

from __future__ import annotations

from healthchecks import heartbeats
from healthchecks.constants import ACTION_NAME, NOTIFY_ADMIN, Kind
from healthchecks.probes import UnsafeTarget, parse_status_codes, split_host_port, validate_url

HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def endpoint_errors(data: dict) -> dict[str, str]:
    """{field: one-line message} for an endpoint's settings; empty when they hold."""
    errors: dict[str, str] = {}
    kind = data.get("kind")
    target = (data.get("target") or "").strip()
    try:
        if kind == Kind.HTTP:
            validate_url(target)
        elif kind == Kind.TCP:
            split_host_port(target)
        elif kind == Kind.REDIS and target and not target.startswith(("redis://", "rediss://")):
            errors["target"] = "a Redis target is a redis:// or rediss:// URL"
    except UnsafeTarget as exc:
        errors["target"] = str(exc)
    if kind == Kind.HTTP:
        try:
            parse_status_codes(data.get("accepted_status_codes") or "")
        except ValueError as exc:
            errors["accepted_status_codes"] = str(exc)
        method = (data.get("http_method") or "GET").upper()
        if method not in HTTP_METHODS:
            errors["http_method"] = f"one of {', '.join(HTTP_METHODS)}"
        headers = data.get("http_headers") or {}
        if not isinstance(headers, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
        ):
            errors["http_headers"] = 'headers are an object of strings: {"Accept": "text/html"}'
    if kind == Kind.HEARTBEAT:
        try:
            heartbeats.validate_schedule(data.get("cron") or "", data.get("time_zone") or "UTC")
        except ValueError as exc:
            errors["cron" if "cron" in str(exc) else "time_zone"] = str(exc)
    actions = data.get("recovery_actions") or []
    if not isinstance(actions, list) or not all(
        isinstance(a, str) and ACTION_NAME.fullmatch(a) for a in actions
    ):
        errors["recovery_actions"] = (
            'a list of action names in capitals, tried in order: ["RECONNECT", "RESTART", '
            '"NOTIFY_ADMIN"]'
        )
    elif len(actions) > 10:
        errors["recovery_actions"] = "at most 10 actions"
    elif any(a != NOTIFY_ADMIN for a in actions) and not data.get("recovery_webhook_url"):
        errors["recovery_webhook_url"] = (
            "actions other than NOTIFY_ADMIN are POSTed to the recovery webhook: set its URL"
        )
    if data.get("recovery_webhook_url"):
        try:
            validate_url(data["recovery_webhook_url"])
        except UnsafeTarget as exc:
            errors["recovery_webhook_url"] = str(exc)
    if (data.get("recovery_webhook_url") or actions) and (
        data.get("recovery_after_failures") or 0
    ) < 1:
        errors["recovery_after_failures"] = "at least 1 failure before recovery runs"
    # The numbers' bounds (interval 5 s to 1 day, timeout up to 120 s, ...) are the
    # model fields' validators, which the form runs before this.
    return errors

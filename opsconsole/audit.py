"""The audit stream: who logged in, who acted on alerts, who edited rules, silences and
channels, and which requests failed. Entries are written by signal receivers, so every
path (pages, admin, API) is covered, and published live to the ``audit`` group.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import sys

from django.apps import apps
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.core.signals import got_request_exception
from django.db import transaction
from django.db.models.signals import post_delete, post_save

from opsconsole.live import publish_now
from opsconsole.models import AuditEntry
from opsconsole.scrubbing import Scrubber, scrub_text, secret_values

logger = logging.getLogger(__name__)

AUDIT_GROUP = "audit"
# Models whose edits are audited, when their app provides them.
AUDITED_MODELS = (
    "alerts.AlertRule",
    "alerts.Silence",
    "alerts.InhibitionRule",
    "notifications.NotificationChannel",
    "healthchecks.ServiceEndpoint",
)
# Timeline events that are a person's decision about an alert.
_ALERT_ACTIONS = {"acknowledged", "resolved", "suppressed"}
# The request being served, for receivers that only see a model instance. Its user is
# read when the edit happens, so a user set later by API token auth counts too.
_request: contextvars.ContextVar = contextvars.ContextVar("audit_request", default=None)


# Who acts outside a request (a management command): see acting_as.
_acting: contextvars.ContextVar = contextvars.ContextVar("audit_actor", default="")


def _actor() -> str:
    user = getattr(_request.get(), "user", None)
    if user is not None and user.is_authenticated:
        return user.get_username()
    return _acting.get()


@contextlib.contextmanager
def acting_as(name: str):
    """Edits made inside are recorded as ``name``'s (e.g. import_config --actor)."""
    token = _acting.set(name)
    try:
        yield
    finally:
        _acting.reset(token)


def record(kind: str, summary: str, *, actor: str = "", obj=None, data=None) -> AuditEntry:
    # Every viewer reads the stream (Sentry Station, /api/v1/audit), so what goes in is
    # scrubbed as alerts and Sentry events are: an exception's text can hold a card
    # number, a task's traceback a password.
    scrubber = Scrubber(secret_values())
    entry = AuditEntry.objects.create(
        kind=kind,
        summary=scrubber.text(summary)[:300],
        actor=actor[:150],
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None and obj.pk is not None else "",
        data=scrubber.data(data or {}),
    )
    transaction.on_commit(
        lambda: publish_now(
            AUDIT_GROUP, {"type": "audit.entry", "entry_id": entry.pk, "kind": entry.kind}
        )
    )
    return entry


def _safely(receiver):
    """An audit write that fails must never fail the login or the edit it records."""

    def wrapped(*args, **kwargs):
        try:
            receiver(*args, **kwargs)
        except Exception:
            logger.exception("audit receiver %s failed", receiver.__name__)

    wrapped.__name__ = receiver.__name__
    return wrapped


def _ip(request) -> str:
    return (request.META.get("REMOTE_ADDR") or "") if request is not None else ""


@_safely
def _logged_in(sender, request, user, **kwargs):
    record(
        AuditEntry.Kind.LOGIN,
        f"{user.get_username()} logged in",
        actor=user.get_username(),
        data={"ip": _ip(request)},
    )


@_safely
def _login_failed(sender, credentials, request=None, **kwargs):
    username = str(credentials.get("username", ""))[:150]
    record(
        AuditEntry.Kind.LOGIN_FAILED,
        f"failed login for {username or '(no username)'}",
        actor=username,
        data={"ip": _ip(request)},
    )


@_safely
def _locked_out(sender, request=None, username="", ip_address="", **kwargs):
    who = str(username or "")[:150]
    record(
        AuditEntry.Kind.LOGIN_LOCKED,
        f"logins locked for {who or '(no username)'} from {ip_address or 'an unknown address'} "
        "after too many failures",
        actor=who,
        data={"ip": ip_address or ""},
    )


@_safely
def _unlocked(sender, instance, **kwargs):
    # Deleting a lockout's access attempt lifts it: the admin's delete, axes_reset*, or
    # the cool-off's own clean-up, which runs with nobody acting. Rows of a few
    # mistakes that locked nothing are deleted the same way and are not worth a line.
    from django.conf import settings

    if instance.failures_since_start < settings.AXES_FAILURE_LIMIT:
        return
    who = _actor()
    record(
        AuditEntry.Kind.LOGIN_UNLOCKED,
        f"logins unlocked for {instance.username or '(no username)'} "
        f"from {instance.ip_address or 'any address'}" + (f" by {who}" if who else ""),
        actor=who,
        data={"username": instance.username or "", "ip": instance.ip_address or ""},
    )


@_safely
def _logged_out(sender, request, user, **kwargs):
    if user is not None:
        record(
            AuditEntry.Kind.LOGOUT, f"{user.get_username()} logged out", actor=user.get_username()
        )


@_safely
def record_alert_action(sender, alert, event=None, **kwargs):
    """``alerts.signals.alert_changed`` receiver (connected by the alerts app): a
    person's acknowledge, resolve or suppress."""
    if event is None or event.kind not in _ALERT_ACTIONS:
        return
    if event.actor in ("", "system", "evaluator"):
        return  # the engine's own resolutions are in the alert's timeline
    record(
        AuditEntry.Kind.ALERT_ACTION,
        f"{event.actor} {event.kind} alert #{alert.pk}: {alert.title}",
        actor=event.actor,
        obj=alert,
        data={"action": event.kind, "notes": event.reason, "event_id": event.pk},
    )


@_safely
def _saved(sender, instance, created, raw=False, **kwargs):
    if raw:
        return  # fixtures loading
    verb = "created" if created else "changed"
    name = sender._meta.verbose_name
    record(
        AuditEntry.Kind.CONFIG_CHANGE,
        f"{name} {verb}: {instance}",
        actor=_actor(),
        obj=instance,
        data={"action": verb},
    )


@_safely
def _deleted(sender, instance, **kwargs):
    record(
        AuditEntry.Kind.CONFIG_CHANGE,
        f"{sender._meta.verbose_name} deleted: {instance}",
        actor=_actor(),
        obj=instance,
        data={"action": "deleted"},
    )


@_safely
def _request_failed(sender, request=None, **kwargs):
    exc = sys.exc_info()[1]
    where = f"{request.method} {request.path}" if request is not None else "a request"
    user = getattr(request, "user", None)
    record(
        AuditEntry.Kind.APP_ERROR,
        f"{exc.__class__.__name__ if exc else 'Error'} on {where}",
        actor=user.get_username() if user is not None and user.is_authenticated else "",
        # Scrubbed before it is cut, so a secret is never half kept.
        data={
            "error": scrub_text(str(exc))[:500] if exc else "",
            "path": getattr(request, "path", ""),
        },
    )


@_safely
def _task_finished(sender, task, **kwargs):
    if task.get("success"):
        return
    func = task.get("func")
    name = func if isinstance(func, str) else getattr(func, "__qualname__", repr(func))
    record(
        AuditEntry.Kind.APP_ERROR,
        f"background task {name} failed",
        data={"error": scrub_text(str(task.get("result", "")))[:500], "task": task.get("name", "")},
    )


def connect() -> None:
    from django_q.signals import post_execute

    post_execute.connect(_task_finished, dispatch_uid="audit.task_failed")
    user_logged_in.connect(_logged_in, dispatch_uid="audit.login")
    user_login_failed.connect(_login_failed, dispatch_uid="audit.login_failed")
    user_logged_out.connect(_logged_out, dispatch_uid="audit.logout")
    got_request_exception.connect(_request_failed, dispatch_uid="audit.request_failed")
    if apps.is_installed("axes"):
        from axes.models import AccessAttempt
        from axes.signals import user_locked_out

        user_locked_out.connect(_locked_out, dispatch_uid="audit.locked_out")
        post_delete.connect(_unlocked, sender=AccessAttempt, dispatch_uid="audit.unlocked")
    for label in AUDITED_MODELS:
        try:
            model = apps.get_model(label)
        except LookupError:
            continue  # that app is not installed (yet)
        post_save.connect(_saved, sender=model, dispatch_uid=f"audit.saved.{label}")
        post_delete.connect(_deleted, sender=model, dispatch_uid=f"audit.deleted.{label}")


class AuditActorMiddleware:
    """Remembers who is making the request, for the edit receivers above."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _request.set(request)
        try:
            return self.get_response(request)
        finally:
            _request.reset(token)


# -- reading -------------------------------------------------------------------------------
PAGE_SIZE = 50


def parse_kind(value: str | None) -> str:
    """'' for any kind; ValueError naming the kinds for anything unknown."""
    kind = (value or "").strip().lower()
    if kind and kind not in AuditEntry.Kind.values:
        raise ValueError(f"unknown kind {kind!r} (one of: {', '.join(AuditEntry.Kind.values)})")
    return kind


def entries(*, kind: str = "", actor: str = "", q: str = "", before: int | None = None):
    """Newest first; ``before`` is the cursor: the id of the last entry already shown."""
    found = AuditEntry.objects.all()
    if kind:
        found = found.filter(kind=kind)
    if actor:
        found = found.filter(actor=actor)
    if q:
        found = found.filter(summary__icontains=q)
    if before is not None:
        found = found.filter(id__lt=before)
    return found.order_by("-id")


def matches(entry: AuditEntry, *, kind: str = "", actor: str = "", q: str = "") -> bool:
    """The filters of ``entries`` on one entry in memory, for live pages."""
    return (
        (not kind or entry.kind == kind)
        and (not actor or entry.actor == actor)
        and (not q or q.lower() in entry.summary.lower())
    )

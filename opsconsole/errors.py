"""Unhandled exceptions: to Sentry (when configured) and to an application error alert.

Sentry is optional; the alert is not. An exception that escapes a view (Django's
``got_request_exception``) or a q2 task (the worker's error reporter hook) becomes an
alert through the raiser the alerts app registers (``register_error_alerts``:
``AlertService.create_application_error_alert``), one per error type and code location,
whose count grows with each occurrence. Both paths scrub what they send: see
``opsconsole.scrubbing``.
"""

from __future__ import annotations

import copy
import logging
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from opsconsole.scrubbing import SECRET_KEYS, Scrubber, secret_values

logger = logging.getLogger(__name__)

BASE_DIR = Path(__file__).resolve().parent.parent
MAX_TRACE_CHARS = 20_000


# -- Sentry ------------------------------------------------------------------------------
class ScrubbedException(Exception):
    """Stands in for an exception in the hint a ``before_send`` hook is given: its text
    is the original's, scrubbed; ``original_type`` is the original's class."""

    def __init__(self, original: BaseException, scrubber: Scrubber):
        super().__init__(scrubber.text(str(original)))
        self.original_type = type(original)

    def __repr__(self) -> str:
        return f"{self.original_type.__name__}({str(self)!r})"


class ScrubbedExcInfo(tuple):
    """``(type, ScrubbedException, None)``: unpacks like ``sys.exc_info()``, and its
    ``str()`` is the scrubbed traceback, which is what seed 001's recipe stores as the
    alert's stack trace (``str(hint["exc_info"])``). The traceback object itself is left
    out: its frames hold the variables the event scrubber filtered."""

    text: str

    def __new__(cls, exc_info: tuple, scrubber: Scrubber):
        kind, value, tb = exc_info
        made = super().__new__(cls, (kind, ScrubbedException(value, scrubber), None))
        formatted = "".join(traceback.format_exception(kind, value, tb))
        made.text = scrubber.text(formatted)[-MAX_TRACE_CHARS:]
        return made

    def __str__(self) -> str:
        return self.text


def scrubbed_hint(hint: dict, scrubber: Scrubber) -> dict:
    """The hint Sentry passes ``before_send``, with nothing in it the event lost."""
    clean: dict = {}
    for key, value in (hint or {}).items():
        if key == "exc_info" and isinstance(value, tuple) and len(value) == 3 and value[1]:
            clean[key] = ScrubbedExcInfo(value, scrubber)
        elif key == "log_record" and isinstance(value, logging.LogRecord):
            record = copy.copy(value)
            record.msg, record.args = scrubber.text(value.getMessage()), None
            record.exc_info, record.exc_text = None, None
            clean[key] = record
        elif isinstance(value, str | dict | list | tuple):
            clean[key] = scrubber.data(value)
        else:
            # Anything else (attachments, a framework's request object) may hold what the
            # event scrubbing removed: the hook does without it.
            continue
    return clean


def make_before_send(
    user_hook: Callable[[dict, dict], dict | None] | None = None,
) -> Callable[[dict, dict], dict | None]:
    """Sentry's ``before_send``: financial data and secret values out of every string of
    the event (messages, exception values, frame variables, breadcrumbs, request), then
    ``user_hook`` (seed 001's recipe) sees the scrubbed event and a scrubbed hint.

    A hook that raises (seed 001's reads ``event["request"]``, which a task's event has
    not) is logged, and the scrubbed event is sent as it is: Sentry drops an event whose
    ``before_send`` raised, so a task's error would otherwise never reach it.
    """

    def before_send(event: dict, hint: dict) -> dict | None:
        scrubber = Scrubber(secret_values())
        scrubbed = scrubber.data(event)
        if user_hook is None:
            return scrubbed
        try:
            returned = user_hook(copy.deepcopy(scrubbed), scrubbed_hint(hint, scrubber))
        except Exception:
            logger.warning(
                "the before_send hook failed; the event is sent as scrubbed", exc_info=True
            )
            return scrubbed
        # What the hook added came from a scrubbed event and hint; scrubbed once more all
        # the same, since it may add from anywhere.
        return None if returned is None else scrubber.data(returned)

    return before_send


def sentry_options(
    dsn: str,
    *,
    traces_sample_rate: float = 0.0,
    environment: str = "production",
    before_send: Callable[[dict, dict], dict | None] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The keyword arguments of ``sentry_sdk.init`` for this console."""
    from sentry_sdk.scrubber import EventScrubber

    scrub = make_before_send()
    return {
        "dsn": dsn,
        "send_default_pii": False,
        "traces_sample_rate": traces_sample_rate,
        "environment": environment,
        # Key-based scrubbing, recursive so a token nested in a channel's config dict
        # inside a frame variable is caught too.
        "event_scrubber": EventScrubber(denylist=list(SECRET_KEYS), recursive=True),
        "before_send": make_before_send(before_send),
        "before_send_transaction": scrub,
        "max_breadcrumbs": 50,
        **extra,
    }


def init_sentry(dsn: str, **options: Any) -> None:
    import sentry_sdk

    sentry_sdk.init(**sentry_options(dsn, **options))


def _sentry_capture(exc: BaseException) -> None:
    try:
        import sentry_sdk
    except ImportError:  # pragma: no cover - sentry-sdk is a dependency
        return
    if sentry_sdk.get_client().is_active():
        sentry_sdk.capture_exception(exc)


# -- application error alerts -------------------------------------------------------------
def _location(tb: TracebackType | None) -> str:
    """Where the error was raised: the innermost frame in the console's own code
    (``alerts/evaluator.py:120 in evaluate``), else the innermost frame at all."""
    frames = traceback.extract_tb(tb) if tb is not None else []
    ours = [
        frame
        for frame in frames
        if frame.filename.startswith(str(BASE_DIR)) and "/.venv/" not in frame.filename
    ]
    found = ours or frames
    if not found:
        return ""
    frame = found[-1]
    path = Path(frame.filename)
    try:
        path = path.relative_to(BASE_DIR)
    except ValueError:
        path = Path(path.name)
    return f"{path}:{frame.lineno} in {frame.name}"


# Raises (or counts) the application error alert: registered by the alerts app from its
# ready(), since this library imports no app. Keyword arguments: error_type,
# error_message, stack_trace, source, affected_endpoint, affected_users, metadata.
_error_alerts: Callable[..., Any] | None = None


def register_error_alerts(raiser: Callable[..., Any]) -> None:
    global _error_alerts
    _error_alerts = raiser


def report_exception(
    exc: BaseException,
    *,
    endpoint: str,
    affected_users: int = 0,
    metadata: dict | None = None,
):
    """Raise (or count) the application error alert for ``exc``; never raises itself.

    Returns the alert, or None when it could not be stored (the database being the
    thing that failed, typically): the error is then only logged.
    """
    scrubber = Scrubber(secret_values())
    error_type = type(exc).__name__
    location = _location(exc.__traceback__)
    trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    if _error_alerts is None:
        logger.error("%s at %s (no app raises error alerts)", error_type, location)
        return None
    try:
        return _error_alerts(
            error_type=error_type,
            error_message=scrubber.text(str(exc))[:2000] or error_type,
            stack_trace=scrubber.text(trace)[-MAX_TRACE_CHARS:],
            source=location,
            affected_endpoint=endpoint,
            affected_users=affected_users,
            metadata=scrubber.data(metadata or {}),
        )
    except Exception:
        logger.exception("could not record %s at %s as an alert", error_type, location)
        return None


def on_request_exception(sender, request=None, **kwargs) -> None:
    """``got_request_exception`` receiver: the exception being handled becomes an alert."""
    exc = sys.exc_info()[1]
    if exc is None or request is None:
        return
    # Django sends this signal while building the 500 response: a receiver that raised
    # would replace that response with a bare crash, so nothing here may raise.
    try:
        match = getattr(request, "resolver_match", None)
        # The route, not the path: /system/7/ and /system/8/ are one place in the code.
        route = f"/{match.route}" if match is not None and match.route else request.path
        user = getattr(request, "user", None)
        signed_in = user is not None and user.is_authenticated
    except Exception:  # the session or user lookup is what failed
        route, signed_in = request.path, False
    report_exception(
        exc, endpoint=f"{request.method} {route}", affected_users=1 if signed_in else 0
    )


class TaskErrorReporter:
    """django-q2's error reporter interface: ``report()`` is called inside the worker's
    ``except`` block, so ``sys.exc_info()`` is the task's exception."""

    def __init__(self, previous: Any = None):
        self.previous = previous

    def report(self) -> None:
        exc = sys.exc_info()[1]
        if exc is not None:
            try:
                _sentry_capture(exc)
            except Exception:  # Sentry failing must not mask the task's own error
                logger.warning("could not send a task error to Sentry", exc_info=True)
            report_exception(exc, endpoint=f"task {_current_task_func()}")
        if self.previous is not None:
            self.previous.report()


def scrub_task_result(sender, task: dict, **kwargs) -> None:
    """q2's ``post_execute_in_worker``: a failed task's result is its exception's text and
    traceback, which q2 stores (the admin's failed tasks), logs and hands to the audit
    stream; scrubbed in place, in the worker, before any of that."""
    if task.get("success") is False and isinstance(task.get("result"), str):
        task["result"] = Scrubber(secret_values()).text(task["result"])


def _current_task_func() -> str:
    from opsconsole import joblog

    return joblog.current_func() or "unknown"


def install_task_reporter() -> None:
    """Hook the q2 worker's error reporter (called once, from AppConfig.ready).

    q2 only loads reporters from installed packages' entry points; the console is not
    installed as a package, so it sets the worker module's reporter, keeping any other.
    """
    from django_q import worker

    if not isinstance(worker.error_reporter, TaskErrorReporter):
        worker.error_reporter = TaskErrorReporter(worker.error_reporter)

"""What viewers read of failures (the audit stream, q2's stored task results) and what
a before_send hook is handed are scrubbed as alerts and Sentry events are."""

from __future__ import annotations

import logging
import uuid
from multiprocessing import Queue, Value, queues
from typing import Any

import pytest
import sentry_sdk
from django.test import Client, override_settings
from django.utils import timezone
from django_q.models import Task
from django_q.monitor import monitor
from django_q.worker import worker

from alerts.models import Alert
from opsconsole.errors import sentry_options
from opsconsole.models import AuditEntry
from tests.opsconsole.test_errors import CapturingTransport

CARD = "4111-1111-1111-1111"

pytestmark = pytest.mark.django_db


@override_settings(ROOT_URLCONF="tests.opsconsole.boom_urls")
def test_a_failing_request_reaches_the_audit_stream_without_its_card_number():
    Client(raise_request_exception=False).get("/orders/7/pay")
    entry = AuditEntry.objects.get(kind="app_error")
    assert CARD not in entry.data["error"] and "payment for order 7" in entry.data["error"]


def test_a_viewer_reads_the_audit_stream_scrubbed(carol, client):
    from opsconsole.audit import record

    record("app_error", f"ValueError: card {CARD}", data={"error": f"card {CARD} refused"})
    client.force_login(carol)
    (item,) = client.get("/api/v1/audit", {"kind": "app_error"}).json()["items"]
    assert CARD not in item["summary"] and CARD not in item["data"]["error"]
    assert item["data"]["error"] == "card [Filtered] refused"


def _run_in_a_worker(func: str, *args) -> dict:
    """A task through q2's own worker and monitor, as a cluster runs it (the tests' sync
    mode raises instead, and stores nothing)."""
    tasks: queues.Queue[Any] = Queue()
    results: queues.Queue[Any] = Queue()
    task = {
        "id": uuid.uuid4().hex,
        "name": "alpha-card",
        "func": func,
        "args": args,
        "kwargs": {},
        "started": timezone.now(),
    }
    tasks.put(task)
    tasks.put("STOP")
    worker(tasks, results, Value("f", -1))
    results.put("STOP")
    monitor(results)
    for queue in (tasks, results):
        queue.close()
        queue.join_thread()
    return task


def test_a_failed_task_is_stored_and_audited_without_its_card_number(caplog):
    with caplog.at_level(logging.ERROR, logger="django-q"):
        task = _run_in_a_worker("tests.opsconsole.boom_urls.declined_task", 7)
    stored = Task.objects.get(id=task["id"])
    assert stored.success is False
    assert "order 7" in stored.result and "Traceback" in stored.result
    assert CARD not in stored.result
    entry = AuditEntry.objects.get(kind="app_error")
    assert CARD not in entry.data["error"] and "order 7" in entry.data["error"]
    assert "order 7" in caplog.text and CARD not in caplog.text


def _init_sentry_with(hook) -> CapturingTransport:
    capture = CapturingTransport()
    sentry_sdk.init(
        **sentry_options("https://public@sentry.invalid/1", transport=capture, before_send=hook)
    )
    return capture


@pytest.fixture
def sentry_with():
    yield _init_sentry_with
    sentry_sdk.get_client().close()
    sentry_sdk.init()  # no DSN: an inactive client, as in a console without Sentry


def _seed_recipe(event, hint):
    # Seed 001's before_send, as written there (with this console's AlertService).
    from alerts.service import AlertService

    AlertService().create_application_error_alert(
        error_type=event["exception"]["values"][0]["type"],
        error_message=event["exception"]["values"][0]["value"],
        stack_trace=str(hint["exc_info"]),
        source=event["request"]["url"],
    )
    return event


def test_the_seed_recipe_gets_a_scrubbed_traceback_in_its_hint(sentry_with):
    seen = {}

    def hook(event, hint):
        seen["hint"] = hint
        return _seed_recipe({**event, "request": {"url": "http://console/checkout"}}, hint)

    sentry_with(hook)
    try:
        raise ValueError(f"card {CARD} declined")
    except ValueError as exc:
        sentry_sdk.capture_exception(exc)
    sentry_sdk.flush()
    alert = Alert.objects.get(resource="http://console/checkout")
    assert "Traceback" in alert.stack_trace and "declined" in alert.stack_trace
    assert CARD not in alert.stack_trace
    kind, value, tb = seen["hint"]["exc_info"]
    assert kind is ValueError and CARD not in str(value) and tb is None


def test_a_task_event_without_a_request_still_reaches_sentry(sentry_with, caplog):
    capture = sentry_with(_seed_recipe)
    with caplog.at_level(logging.WARNING, logger="opsconsole.errors"):
        with pytest.raises(RuntimeError):
            from django_q.tasks import async_task

            async_task("tests.opsconsole.boom_urls.declined_task", 3)
        sentry_sdk.flush()
    sent = b"".join(capture.sent)
    assert b"order 3" in sent and CARD.encode() not in sent
    assert "before_send hook failed" in caplog.text

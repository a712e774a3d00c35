"""Unhandled errors: scrubbed Sentry events, and application error alerts."""

from __future__ import annotations

import logging

import pytest
import sentry_sdk
from django.test import Client, override_settings
from django_q.tasks import async_task
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport

from alerts.models import Alert
from opsconsole.errors import sentry_options

CARD = "4111 1111 1111 1111"
WEBHOOK = "https://hooks.slack.com/services/T000/B000/supersecretpath"
PASSWORD = "hunter2-password"
ROUTING_KEY = "R0UT1NG-KEY-99"
IBAN = "GB82 WEST 1234 5698 7654 32"
# What must never leave, in every spelling the code below uses. (Sentry also sends the
# source lines around each frame, so the planted values live up here, out of reach.)
PLANTED = [CARD, CARD.replace(" ", "-"), CARD.replace(" ", ""), IBAN, IBAN.replace(" ", "")]
PLANTED += [PASSWORD, ROUTING_KEY, WEBHOOK, "supersecretpath"]


class CapturingTransport(Transport):
    """A real transport that keeps each envelope's bytes instead of sending them."""

    def __init__(self, options=None):
        super().__init__(options)
        self.sent: list[bytes] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        self.sent.append(envelope.serialize())


@pytest.fixture
def transport(monkeypatch):
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "tw1l10-auth-secret-value")
    capture = CapturingTransport()
    options = sentry_options("https://public@sentry.invalid/1", transport=capture)
    sentry_sdk.init(**options)
    yield capture
    sentry_sdk.get_client().close()
    sentry_sdk.init()  # no DSN: an inactive client, as in a console without Sentry


def leaving(transport: CapturingTransport) -> bytes:
    sentry_sdk.flush()
    assert transport.sent, "nothing was captured"
    return b"".join(transport.sent)


def pay(amount_cents: int, password: str, channel: dict):
    card_number = CARD  # noqa: F841 (a frame variable Sentry would send)
    iban = IBAN  # noqa: F841
    raise ValueError(f"card {CARD.replace(' ', '-')} declined for IBAN {IBAN.replace(' ', '')}")


def test_it_sends_no_planted_secret_or_card_number_to_sentry(transport):
    channel = {"name": "ops", "config": {"routing_key": ROUTING_KEY, "url": WEBHOOK}}
    try:
        pay(4200, PASSWORD, channel)
    except ValueError as exc:
        sentry_sdk.capture_exception(exc)
    sent = leaving(transport).decode()
    assert [secret for secret in PLANTED if secret in sent] == []
    assert "declined for IBAN" in sent and "[Filtered]" in sent


def test_it_cuts_secret_environment_values_from_messages(transport):
    sentry_sdk.capture_message("Twilio refused tw1l10-auth-secret-value")
    sent = leaving(transport)
    assert b"tw1l10-auth-secret-value" not in sent and b"Twilio refused" in sent


def test_it_turns_on_send_default_pii_never(transport):
    assert sentry_sdk.get_client().options["send_default_pii"] is False


@override_settings(ROOT_URLCONF="tests.opsconsole.boom_urls")
def test_a_failing_view_reaches_sentry_scrubbed(transport, db):
    response = Client(raise_request_exception=False).get("/orders/7/pay")
    assert response.status_code == 500
    sent = leaving(transport)
    assert b"payment for order 7" in sent and b"4111-1111-1111-1111" not in sent


@override_settings(ROOT_URLCONF="tests.opsconsole.boom_urls")
def test_a_failing_view_raises_an_application_error_alert(db):
    Client(raise_request_exception=False).get("/orders/7/pay")
    alert = Alert.objects.get(alert_type="application_error_ValueError")
    assert alert.metadata["affected_endpoint"] == "GET /orders/<int:order_id>/pay"
    assert alert.resource.startswith("tests/opsconsole/boom_urls.py:")
    assert "in failing_view" in alert.resource
    assert "refused" in alert.message and "4111-1111" not in alert.message
    assert "Traceback" in alert.stack_trace and "4111-1111" not in alert.stack_trace


@override_settings(ROOT_URLCONF="tests.opsconsole.boom_urls")
def test_repeats_of_a_view_error_count_on_one_alert(db):
    client = Client(raise_request_exception=False)
    client.get("/orders/7/pay")
    client.get("/orders/8/pay")
    alert = Alert.objects.get(alert_type="application_error_ValueError")
    assert alert.error_count == 2


@override_settings(ROOT_URLCONF="tests.opsconsole.boom_urls")
def test_a_failing_api_endpoint_raises_an_alert_too(db):
    response = Client(raise_request_exception=False).get("/boom-api/hosts/3/report")
    assert response.status_code == 500
    alert = Alert.objects.get(alert_type="application_error_ZeroDivisionError")
    assert alert.metadata["affected_endpoint"] == "GET /boom-api/hosts/<host_id>/report"
    assert "in failing_endpoint" in alert.resource


def test_a_failing_task_raises_an_alert_naming_the_task(db):
    with pytest.raises(RuntimeError):
        async_task("tests.opsconsole.boom_urls.failing_task", 7)
    alert = Alert.objects.get(alert_type="application_error_RuntimeError")
    assert alert.metadata["affected_endpoint"] == "task tests.opsconsole.boom_urls.failing_task"
    assert "supersecretpath" not in alert.message + alert.stack_trace
    assert "could not post order 7" in alert.message


def test_a_failing_task_reaches_sentry_scrubbed(transport, db):
    with pytest.raises(RuntimeError):
        async_task("tests.opsconsole.boom_urls.failing_task", 7)
    sent = leaving(transport)
    assert b"could not post order 7" in sent and b"supersecretpath" not in sent


def test_every_job_logs_its_duration(db, caplog):
    with caplog.at_level(logging.INFO, logger="opsconsole.jobs"):
        async_task("tests.opsconsole.boom_urls.quiet_task")
    (record,) = [r for r in caplog.records if r.name == "opsconsole.jobs"]
    assert record.job == "tests.opsconsole.boom_urls.quiet_task"
    assert record.success is True and record.duration_ms >= 0


def test_a_failed_job_logs_its_failure(db, caplog):
    with caplog.at_level(logging.INFO, logger="opsconsole.jobs"), pytest.raises(RuntimeError):
        async_task("tests.opsconsole.boom_urls.failing_task", 1)
    (record,) = [r for r in caplog.records if r.name == "opsconsole.jobs"]
    assert record.success is False and record.levelno == logging.WARNING


def test_the_seed_before_send_recipe_sees_a_scrubbed_event(transport, db):
    # Re-initialised with the recipe; the transport fixture restores the inactive client.
    from alerts.service import AlertService

    def sentry_before_send(event, hint):
        AlertService().create_application_error_alert(
            error_type=event["exception"]["values"][0]["type"],
            error_message=event["exception"]["values"][0]["value"],
            stack_trace=str(hint["exc_info"]),
            source="checkout",
        )
        return event

    capture = CapturingTransport()
    options = sentry_options(
        "https://public@sentry.invalid/1", transport=capture, before_send=sentry_before_send
    )
    sentry_sdk.init(**options)
    try:
        pay(1, PASSWORD, {})
    except ValueError as exc:
        sentry_sdk.capture_exception(exc)
    sentry_sdk.flush()
    alert = Alert.objects.get(alert_type="application_error_ValueError", resource="checkout")
    assert "declined" in alert.message and CARD.replace(" ", "-") not in alert.message

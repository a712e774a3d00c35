"""Seed 003's recovery actions: once per outage when the failures reach the setting,
named actions in order (RECONNECT, RESTART, ... to the webhook; NOTIFY_ADMIN by email)
until one succeeds, each outcome on the down alert's timeline."""

from __future__ import annotations

import json

import pytest

from alerts.models import AlertEvent
from healthchecks.probes import ProbeResult
from healthchecks.state import apply_results

pytestmark = pytest.mark.django_db

FAIL = ProbeResult(ok=False, error="refused")
OK = ProbeResult(ok=True, response_ms=5.0)


def _fail(endpoint, times=1):
    for _ in range(times):
        apply_results([(endpoint, FAIL)])


def _recovery_notes():
    return list(
        AlertEvent.objects.filter(reason__startswith="recovery ")
        .order_by("id")
        .values_list("reason", flat=True)
    )


def _calls(server):
    return [json.loads(r["body"])["action"] for r in server.received if r["method"] == "POST"]


def test_an_endpoint_already_past_the_setting_still_recovers_once(make_endpoint, http_server):
    endpoint = make_endpoint("worker", recovery_after_failures=10)
    _fail(endpoint, 4)
    # An admin lowers the setting during the outage: the next failure recovers.
    endpoint.recovery_webhook_url = http_server.url("/restart")
    endpoint.recovery_after_failures = 2
    endpoint.save()
    _fail(endpoint, 3)
    assert _calls(http_server) == ["RESTART"], "once per outage, not at every failure"


def test_each_outage_recovers_again(make_endpoint, http_server):
    endpoint = make_endpoint(
        "worker", recovery_webhook_url=http_server.url("/restart"), recovery_after_failures=1
    )
    _fail(endpoint, 2)
    apply_results([(endpoint, OK)])
    _fail(endpoint, 1)
    assert _calls(http_server) == ["RESTART", "RESTART"]


def test_actions_run_in_order_until_one_succeeds(make_endpoint, http_server):
    endpoint = make_endpoint(
        "exchange",
        recovery_webhook_url=http_server.url("/restart"),
        recovery_after_failures=1,
        recovery_actions=["RECONNECT", "RESTART"],
    )
    _fail(endpoint)
    assert _calls(http_server) == ["RECONNECT"], "it worked: no restart"
    assert _recovery_notes() == [
        "recovery RECONNECT (webhook) for exchange after 1 failures: succeeded (HTTP 200)"
    ]


def test_when_the_hooks_fail_the_admins_are_emailed(
    make_endpoint, http_server, mailoutbox, alice, django_user_model
):
    alice.email = "alice@example.org"
    alice.save()
    django_user_model.objects.create_user("dave", email="dave@example.org")  # not an admin
    endpoint = make_endpoint(
        "neo4j",
        recovery_webhook_url=http_server.url("/wrong"),
        recovery_after_failures=1,
        recovery_actions=["RECONNECT", "RESTART", "NOTIFY_ADMIN"],
    )
    _fail(endpoint)
    assert _calls(http_server) == ["RECONNECT", "RESTART"]
    notes = _recovery_notes()
    assert [n.split(" (")[0] for n in notes] == [
        "recovery RECONNECT",
        "recovery RESTART",
        "recovery NOTIFY_ADMIN",
    ]
    assert notes[0].endswith("failed (HTTP 500)")
    assert notes[2].endswith("succeeded (emailed 1 admin)")
    [mail] = mailoutbox
    assert mail.to == ["alice@example.org"] and "neo4j is down" in mail.subject
    on_the_alert = AlertEvent.objects.filter(reason__startswith="recovery ", alert__isnull=False)
    assert on_the_alert.count() == 3


def test_notify_admin_needs_no_webhook_but_other_actions_do(make_endpoint):
    from healthchecks.forms import ServiceEndpointForm

    base = {
        "name": "db",
        "kind": "tcp",
        "target": "127.0.0.1:5432",
        "enabled": True,
        "severity": "critical",
        "interval_seconds": 60,
        "timeout_seconds": 5,
        "retries": 0,
        "http_method": "GET",
        "http_headers": "{}",
        "tags": "[]",
        "accepted_status_codes": "200-399",
        "tls_expiry_warning_days": 14,
        "grace_seconds": 300,
        "period_seconds": 3600,
        "time_zone": "UTC",
        "recovery_after_failures": 3,
    }
    ok = ServiceEndpointForm(data={**base, "recovery_actions": '["NOTIFY_ADMIN"]'})
    assert ok.is_valid(), ok.errors
    hook = ServiceEndpointForm(data={**base, "recovery_actions": '["RESTART"]'})
    assert not hook.is_valid() and "recovery_webhook_url" in hook.errors
    bad = ServiceEndpointForm(data={**base, "recovery_actions": '["restart now"]'})
    assert not bad.is_valid() and "recovery_actions" in bad.errors

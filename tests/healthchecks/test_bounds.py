"""Endpoint numbers have bounds at save, and an endpoint that cannot be scheduled or
checked is marked broken with its reason while every other endpoint is checked."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from healthchecks import runner
from healthchecks.config import EndpointConfigError, parse
from healthchecks.models import ServiceEndpoint
from healthchecks.runner import claim_due, run_checks
from healthchecks.selfwatch import find_gaps
from opsconsole.bootstrap import load_defaults

pytestmark = pytest.mark.django_db


def _store_out_of_bounds(endpoint: ServiceEndpoint, field: str = "interval_seconds") -> None:
    """What an older console let through: SQLite keeps 10^12, PostgreSQL's integer
    column at most 2^31 - 1, both far past the bound."""
    value = 10**12 if connection.vendor == "sqlite" else 2**31 - 1
    ServiceEndpoint.objects.filter(pk=endpoint.pk).update(**{field: value})


def _broken_gauge() -> dict[str, float]:
    response = Client().get("/metrics")
    families = {f.name: f for f in text_string_to_metric_families(response.content.decode())}
    return {s.labels["endpoint"]: s.value for s in families["opsconsole_endpoint_broken"].samples}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"interval_seconds": 10**12}, "interval_seconds: at most 1 day"),
        ({"interval_seconds": 2**63}, "interval_seconds: at most 1 day"),
        ({"timeout_seconds": 1e400}, "timeout_seconds:"),
        ({"retries": 10**6}, "retries: at most 100"),
        ({"max_response_time_ms": 10**12}, "max_response_time_ms: at most 120000 ms"),
        # A heartbeat's schedule (an HTTP endpoint refuses these fields outright).
        ({"kind": "heartbeat", "period_seconds": 10**12}, "period_seconds: at most 366 days"),
        ({"kind": "heartbeat", "grace_seconds": 10**12}, "grace_seconds: at most 30 days"),
        ({"tls_expiry_warning_days": 40000}, "tls_expiry_warning_days: at most 365 days"),
    ],
)
def test_the_api_refuses_numbers_out_of_bounds(alice, token_for, api_client, body, message):
    endpoint = {"name": "api", "kind": "http", "target": "https://api.example.org/", **body}
    response = api_client(token_for(alice, "read,write")).post("/services", endpoint)
    assert response.status_code == 422, response.content
    assert message in response.json()["detail"]
    assert not ServiceEndpoint.objects.exists()


def test_the_admin_refuses_them_too(client, alice):
    load_defaults()
    client.force_login(alice)
    from tests.healthchecks.test_admin import _endpoint

    response = client.post(
        "/admin/healthchecks/serviceendpoint/add/", _endpoint(interval_seconds=10**12)
    )
    assert response.status_code == 200
    assert "at most 1 day" in " ".join(
        response.context["adminform"].form.errors["interval_seconds"]
    )


def test_service_endpoints_from_the_environment_are_bounded_alike():
    with pytest.raises(EndpointConfigError, match="interval_seconds: at most 1 day"):
        parse('{"api": {"url": "https://api.example.org/", "interval": 1000000000000}}')


def test_a_broken_interval_does_not_stop_the_scheduler_claiming_the_others(make_endpoint):
    good = make_endpoint("good", interval_seconds=10)
    bad = make_endpoint("bad", interval_seconds=10)
    _store_out_of_bounds(bad)
    now = timezone.now()
    assert claim_due(now) == [good.pk]
    bad.refresh_from_db()
    assert bad.broken and "interval_seconds" in bad.broken_reason
    assert _broken_gauge() == {"good": 0, "bad": 1}
    # Set aside until it is fixed: not claimed again, not counted as a monitoring gap.
    assert claim_due(now + timedelta(seconds=10)) == [good.pk]
    due_in = runner.seconds_to_next_due(now)
    assert due_in is not None and due_in > 0
    assert bad not in find_gaps(now + timedelta(days=1))[1]


def test_a_cycle_checks_the_others_and_clears_the_mark_once_fixed(
    http_server, make_endpoint, alice, token_for, api_client
):
    good = make_endpoint("good", target=http_server.url("/ok"))
    bad = make_endpoint("bad", target=http_server.url("/ok"))
    ServiceEndpoint.objects.update(last_checked=timezone.now() - timedelta(minutes=1))
    _store_out_of_bounds(bad)
    cycle = run_checks()
    assert cycle.checked == 1 and cycle.broken == 1
    assert ServiceEndpoint.objects.get(pk=good.pk).state == "up"
    bad.refresh_from_db()
    assert bad.broken and bad.state == "unknown"
    # The status API still reads it (it overflowed computing its staleness).
    assert api_client(token_for(alice)).get("/system/health").status_code == 200
    # Fixed through the API: checked again, and the mark is gone.
    response = api_client(token_for(alice, "read,write")).client_patch(
        "/services/bad", {"interval_seconds": 30}
    )
    assert response.status_code == 200, response.content
    run_checks()
    bad.refresh_from_db()
    assert not bad.broken and bad.state == "up"


def test_a_failure_storing_one_endpoint_keeps_the_others_results(
    http_server, make_endpoint, monkeypatch
):
    make_endpoint("good", target=http_server.url("/ok"))
    make_endpoint("bad", target=http_server.url("/ok"))
    real = runner.apply_results

    def failing_for_bad(pairs, now):
        if any(endpoint.name == "bad" for endpoint, _ in pairs):
            raise OverflowError("date value out of range")
        return real(pairs, now)

    monkeypatch.setattr(runner, "apply_results", failing_for_bad)
    cycle = run_checks()
    assert cycle.checked == 1 and cycle.broken == 1
    good, bad = ServiceEndpoint.objects.order_by("name").reverse()
    assert good.name == "good" and good.state == "up" and good.consecutive_failures == 0
    assert bad.broken_reason == "OverflowError: date value out of range"


def test_the_admin_shows_which_endpoints_are_broken(client, alice, make_endpoint):
    load_defaults()
    bad = make_endpoint("bad")
    _store_out_of_bounds(bad, "grace_seconds")
    run_checks()
    client.force_login(alice)
    listing = client.get("/admin/healthchecks/serviceendpoint/?broken=yes").content.decode()
    assert "bad" in listing and "broken since" in listing
    detail = client.get(f"/admin/healthchecks/serviceendpoint/{bad.pk}/change/")
    assert "grace_seconds: at most 30 days" in detail.content.decode()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"kind": "tcp", "target": "db:5432", "http_method": "POST"}, "tcp.http_method"),
        ({"target": "https://api.example.org/", "cron": "* * * * *"}, "http.cron"),
        ({"kind": "carrier-pigeon", "target": "x"}, "kind must be one of: http, tcp"),
    ],
)
def test_the_api_refuses_fields_of_another_kind(alice, token_for, api_client, body, message):
    response = api_client(token_for(alice, "read,write")).post("/services", {"name": "x", **body})
    assert response.status_code == 422, response.content
    assert message in response.json()["detail"]
    assert not ServiceEndpoint.objects.exists()

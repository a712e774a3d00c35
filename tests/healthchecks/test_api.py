"""The health API: seed 002's system/health, endpoints, history, check now, latency."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from healthchecks.models import CheckResult
from healthchecks.probes import ProbeResult
from healthchecks.state import apply_results

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer(api_client, carol, token_for):
    return api_client(token_for(carol, "read"))


def test_system_health_lists_each_service_and_the_overall_status(viewer, make_endpoint):
    up = make_endpoint("chat-service")
    down = make_endpoint("presence-service")
    apply_results(
        [
            (up, ProbeResult(ok=True, response_ms=12.0)),
            (down, ProbeResult(ok=False, error="refused")),
        ]
    )
    body = viewer.get("/system/health").json()
    assert body["status"] == "unhealthy"
    assert {s["name"]: s["status"] for s in body["services"]} == {
        "chat-service": "up",
        "presence-service": "down",
    }
    assert body["summary"]["down"] == 1


def test_system_health_needs_authentication(api_client):
    assert api_client().get("/system/health").status_code == 401


def test_an_endpoint_is_found_by_id_or_name(viewer, make_endpoint):
    endpoint = make_endpoint("chat-service")
    assert viewer.get(f"/services/{endpoint.pk}").json()["name"] == "chat-service"
    body = viewer.get("/services/chat-service").json()
    assert body["id"] == endpoint.pk and body["badge_url"].endswith(".svg")


def test_an_endpoint_answers_the_same_fields_as_before(viewer, make_endpoint):
    endpoint = make_endpoint("chat-service")
    body = viewer.get(f"/services/{endpoint.pk}").json()
    assert set(body) == {
        "id", "name", "kind", "target", "enabled", "state", "state_since",
        "interval_seconds", "max_response_time_ms", "severity", "parent", "host", "tags",
        "last_checked", "last_response_ms", "last_error", "consecutive_failures", "uptime",
        "badge_url", "ping_url",
    }  # fmt: skip
    assert body["parent"] is None and body["host"] is None and body["ping_url"] is None
    assert body["last_error"] == "" and body["tags"] == endpoint.tags


def test_an_unknown_endpoint_is_a_404_with_a_message(viewer):
    response = viewer.get("/services/nope")
    assert response.status_code == 404
    assert response.json()["detail"] == "no service endpoint 'nope'"


def test_history_has_results_newest_first_and_flips(viewer, make_endpoint):
    endpoint = make_endpoint()
    apply_results([(endpoint, ProbeResult(ok=True, response_ms=10.0))])
    apply_results([(endpoint, ProbeResult(ok=False, error="boom"))])
    body = viewer.get(f"/services/{endpoint.pk}/history").json()
    assert [r["outcome"] for r in body["results"]] == ["fail", "ok"]
    assert [f["new_state"] for f in body["flips"]] == ["down", "up"]
    assert body["endpoint"]["uptime"]["24h"] is not None


def test_history_refuses_a_range_over_30_days(viewer, make_endpoint):
    endpoint = make_endpoint()
    assert viewer.get(f"/services/{endpoint.pk}/history", {"hours": 10000}).status_code == 422


def test_an_admin_can_check_now(api_client, alice, token_for, http_server, make_endpoint):
    endpoint = make_endpoint(target=http_server.url("/health"))
    response = api_client(token_for(alice, "read,write")).post(f"/services/{endpoint.pk}/check")
    assert response.status_code == 200 and response.json()["state"] == "up"
    assert CheckResult.objects.filter(endpoint=endpoint).count() == 1


def test_a_viewer_cannot_check_now(api_client, carol, token_for, make_endpoint):
    endpoint = make_endpoint()
    response = api_client(token_for(carol, "read,write")).post(f"/services/{endpoint.pk}/check")
    assert response.status_code == 403
    assert not CheckResult.objects.exists()


@pytest.fixture
def ingester(api_client, alice, token_for):
    return api_client(token_for(alice, "read,ingest"))


def test_latency_from_event_and_commit_times(ingester):
    event = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    response = ingester.post(
        "/latency",
        {
            "source": "market-feed",
            "event_time": event.isoformat(),
            "commit_time": (event + timedelta(milliseconds=150)).isoformat(),
        },
    )
    assert response.status_code == 201 and response.json() == {"stored": 1}


def test_latency_batches_give_percentiles_per_source(ingester):
    samples = [{"source": "orders", "duration_ms": float(ms)} for ms in range(1, 101)]
    assert ingester.post("/latency", {"samples": samples}).status_code == 201
    figures = ingester.get("/latency", {"source": "orders"}).json()["sources"]["orders"]
    assert (figures["count"], figures["p50_ms"], figures["p95_ms"], figures["p99_ms"]) == (
        100,
        50.0,
        95.0,
        99.0,
    )


def test_latency_without_a_measure_is_refused_with_one_line(ingester):
    response = ingester.post("/latency", {"source": "orders"})
    assert response.status_code == 422
    assert "send duration_ms, or both event_time and commit_time" in response.json()["detail"]


def test_a_negative_latency_is_refused(ingester):
    response = ingester.post("/latency", {"source": "orders", "duration_ms": -5})
    assert response.status_code == 422


def test_the_badge_is_an_svg_with_the_state(client, make_endpoint):
    endpoint = make_endpoint("chat-service")
    apply_results([(endpoint, ProbeResult(ok=False, error="down"))])
    for ref in (str(endpoint.ping_uuid), "chat-service"):
        response = client.get(f"/badge/{ref}.svg")
        assert response.status_code == 200
        assert response["Content-Type"] == "image/svg+xml"
        assert b"chat-service: down" in response.content


def test_a_badge_for_an_unknown_endpoint_is_404(client, db):
    assert client.get("/badge/nothing.svg").status_code == 404


@pytest.fixture
def admin_api(api_client, alice, token_for):
    return api_client(token_for(alice, "read,write"))


def test_an_admin_creates_an_endpoint_with_a_parent_by_name(admin_api, make_endpoint):
    make_endpoint("database", kind="database", target="default")
    response = admin_api.post(
        "/services",
        {
            "name": "chat-service",
            "target": "https://chat.example/health",
            "parent": "database",
            "severity": "high",
            "interval_seconds": 15,
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["parent"], body["severity"], body["interval_seconds"]) == ("database", "error", 15)


def test_creating_an_unsafe_endpoint_is_refused_with_one_line(admin_api):
    response = admin_api.post(
        "/services", {"name": "meta", "target": "http://169.254.169.254/latest/"}
    )
    assert response.status_code == 422
    assert response.json()["detail"].startswith("target: 169.254.169.254 is a cloud metadata")
    from healthchecks.models import ServiceEndpoint

    assert not ServiceEndpoint.objects.exists()


def test_a_patch_changes_only_what_it_names(admin_api, make_endpoint):
    endpoint = make_endpoint("web", target="http://web.example/health", retries=2)
    response = admin_api.client_patch(f"/services/{endpoint.pk}", {"max_response_time_ms": 800})
    assert response.status_code == 200
    endpoint.refresh_from_db()
    assert (endpoint.max_response_time_ms, endpoint.retries, endpoint.target) == (
        800,
        2,
        "http://web.example/health",
    )


def test_an_unknown_field_is_refused(admin_api, make_endpoint):
    endpoint = make_endpoint("web")
    response = admin_api.client_patch(f"/services/{endpoint.pk}", {"colour": "red"})
    assert response.status_code == 422
    assert response.json()["detail"] == "colour: Extra inputs are not permitted"


def test_a_viewer_cannot_create_endpoints(api_client, carol, token_for):
    response = api_client(token_for(carol, "read,write")).post(
        "/services", {"name": "x", "target": "http://x.example/"}
    )
    assert response.status_code == 403


def test_an_admin_deletes_an_endpoint(admin_api, make_endpoint):
    endpoint = make_endpoint("old")
    assert admin_api.client_delete(f"/services/{endpoint.pk}").status_code == 204
    assert admin_api.get("/services/old").status_code == 404


def test_disabling_an_endpoint_resolves_its_open_alert(admin_api, make_endpoint):
    from alerts.models import Alert

    endpoint = make_endpoint("web")
    apply_results([(endpoint, ProbeResult(ok=False, error="refused"))])
    response = admin_api.client_patch(f"/services/{endpoint.pk}", {"enabled": False})
    assert response.status_code == 200 and response.json()["state"] == "unknown"
    alert = Alert.objects.get()
    assert alert.status == "resolved" and alert.resolution_notes == "the check was disabled"


def test_a_targets_credentials_are_masked_for_all_but_admins(
    viewer, api_client, alice, token_for, make_endpoint, client, carol
):
    make_endpoint(
        "orders-db", kind="postgres", target="postgres://orders:S3cretPass@db.internal:5432/orders"
    )
    shown = viewer.get("/services/orders-db").json()["target"]
    assert "S3cretPass" not in shown
    assert shown.startswith("postgres://orders:") and shown.endswith("@db.internal:5432/orders")
    admin = api_client(token_for(alice, "read"))
    assert "S3cretPass" in admin.get("/services/orders-db").json()["target"]
    # The services page, which viewers read too.
    client.force_login(carol)
    page = client.get("/services/").content.decode()
    assert "orders-db" in page and "S3cretPass" not in page

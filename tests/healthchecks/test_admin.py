"""Endpoints in the admin: form errors for what cannot be checked, and "check now"."""

from __future__ import annotations

import pytest

from healthchecks.models import CheckResult, ServiceEndpoint
from opsconsole.bootstrap import load_defaults

pytestmark = pytest.mark.django_db


def _endpoint(**overrides):
    data = {
        "name": "chat-service",
        "kind": "http",
        "target": "http://127.0.0.1:8000/health",
        "enabled": "on",
        "tags": "[]",
        "severity": "error",
        "interval_seconds": 30,
        "timeout_seconds": 5,
        "retries": 1,
        "http_method": "GET",
        "http_headers": "{}",
        "accepted_status_codes": "200-399",
        "follow_redirects": "on",
        "tls_expiry_warning_days": 14,
        "period_seconds": 3600,
        "grace_seconds": 300,
        "time_zone": "UTC",
        "recovery_after_failures": 3,
    }
    data.update(overrides)
    return data


def test_a_valid_endpoint_is_saved(admin_client):
    response = admin_client.post("/admin/healthchecks/serviceendpoint/add/", _endpoint())
    assert response.status_code == 302
    assert ServiceEndpoint.objects.get().target == "http://127.0.0.1:8000/health"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"target": "http://169.254.169.254/"}, "cloud metadata address"),
        ({"target": "gopher://example.com/"}, "only http and https URLs are checked"),
        ({"accepted_status_codes": "2xx"}, "is not a status code or a range"),
        ({"kind": "tcp", "target": "db.example"}, "a TCP target is host:port"),
        ({"kind": "heartbeat", "target": "", "cron": "61 * * * *"}, "bad cron expression"),
        ({"kind": "heartbeat", "target": "", "time_zone": "Mars/Olympus"}, "unknown time zone"),
        ({"interval_seconds": 1}, "at least 5 s"),
    ],
)
def test_what_cannot_be_checked_is_a_form_error(admin_client, overrides, message):
    response = admin_client.post("/admin/healthchecks/serviceendpoint/add/", _endpoint(**overrides))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not ServiceEndpoint.objects.exists()


def test_a_dependency_loop_is_refused(admin_client, make_endpoint):
    first = make_endpoint("first")
    second = make_endpoint("second", parent=first)
    response = admin_client.post(
        f"/admin/healthchecks/serviceendpoint/{first.pk}/change/",
        _endpoint(name="first", parent=second.pk),
    )
    assert "this would make a dependency loop" in response.content.decode()


def test_check_now_checks_the_chosen_endpoints(admin_client, http_server, make_endpoint):
    endpoint = make_endpoint(target=http_server.url("/health"))
    response = admin_client.post(
        "/admin/healthchecks/serviceendpoint/",
        {"action": "check_now", "_selected_action": [endpoint.pk]},
        follow=True,
    )
    assert "Checked 1 endpoint(s). api: up" in response.content.decode()
    assert CheckResult.objects.filter(endpoint=endpoint).count() == 1


def test_a_webhook_needs_at_least_one_failure(admin_client):
    response = admin_client.post(
        "/admin/healthchecks/serviceendpoint/add/",
        _endpoint(recovery_webhook_url="https://hooks.example/restart", recovery_after_failures=0),
    )
    assert "at least 1 failure before recovery runs" in response.content.decode()


def test_the_disable_action_resolves_open_alerts(admin_client, make_endpoint):
    from alerts.models import Alert
    from healthchecks.probes import ProbeResult
    from healthchecks.state import apply_results

    endpoint = make_endpoint()
    apply_results([(endpoint, ProbeResult(ok=False, error="refused"))])
    admin_client.post(
        "/admin/healthchecks/serviceendpoint/",
        {"action": "disable", "_selected_action": [endpoint.pk]},
    )
    endpoint.refresh_from_db()
    assert not endpoint.enabled and endpoint.state == "unknown"
    assert Alert.objects.get().resolved_by == "alice"


def test_the_endpoint_page_says_where_it_came_from_and_times_have_units(admin_client):
    from healthchecks.config import import_endpoints

    import_endpoints('{"api": "http://api/health", "db": "http://db/health"}')
    import_endpoints('{"api": "http://api/health"}', retire=True)
    ServiceEndpoint.objects.filter(name="db").update(last_response_ms=4.220093999947494)
    db = ServiceEndpoint.objects.get(name="db")
    page = admin_client.get(f"/admin/healthchecks/serviceendpoint/{db.pk}/change/")
    html = page.content.decode()
    assert "SERVICE_ENDPOINTS, which stopped naming it on" in html
    assert "4.2 ms" in html and "4.22009" not in html
    listing = admin_client.get("/admin/healthchecks/serviceendpoint/").content.decode()
    assert ">Disable (resolves their alerts)</option>" in listing
    assert "4.2 ms" in listing


def test_endpoints_filter_by_origin(admin_client, make_endpoint):
    from healthchecks.config import import_endpoints

    import_endpoints('{"api": "http://api/health", "db": "http://db/health"}')
    import_endpoints('{"api": "http://api/health"}', retire=True)
    make_endpoint("billing", target="http://billing/")

    def names(origin):
        page = admin_client.get("/admin/healthchecks/serviceendpoint/", {"origin": origin})
        return [e.name for e in page.context["cl"].result_list]

    assert names("admin") == ["billing"]
    assert names("environment") == ["api"]
    assert names("removed") == ["db"]


SECRET_HEADER = "Bearer hc-s3cret-header-77"
RECOVERY = "https://restart.example.com/hooks/RESTART-TOKEN-88"


def _guarded(make_endpoint):
    return make_endpoint(
        "payments",
        target="http://app:db-pw-99@127.0.0.1:9/health",
        http_headers={"Authorization": SECRET_HEADER, "X-Team": "team-pay-11"},
        recovery_webhook_url=RECOVERY,
    )


def test_view_only_staff_see_no_header_value_recovery_url_or_password(client, make_endpoint):
    from tests.conftest import _user

    load_defaults()
    endpoint = _guarded(make_endpoint)
    client.force_login(_user("vera", "Viewers", is_staff=True))
    response = client.get(f"/admin/healthchecks/serviceendpoint/{endpoint.pk}/change/")
    assert response.status_code == 200
    page = response.content.decode()
    for secret in ("hc-s3cret-header-77", "RESTART-TOKEN-88", "db-pw-99", "team-pay-11"):
        assert secret not in page
    assert "Authorization: ••••••" in page and "X-Team: ••••••" in page
    assert "https://restart.example.com/••••••" in page
    assert "http://app:***@127.0.0.1:9/health" in page


def test_an_admin_still_edits_the_headers_and_recovery_url(admin_client, make_endpoint):
    endpoint = _guarded(make_endpoint)
    page = admin_client.get(f"/admin/healthchecks/serviceendpoint/{endpoint.pk}/change/")
    assert "RESTART-TOKEN-88" in page.content.decode()
    response = admin_client.post(
        f"/admin/healthchecks/serviceendpoint/{endpoint.pk}/change/",
        _endpoint(
            name="payments",
            http_headers='{"Authorization": "Bearer rotated"}',
            recovery_webhook_url="https://restart.example.com/hooks/NEW",
        ),
    )
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.http_headers == {"Authorization": "Bearer rotated"}
    assert endpoint.recovery_webhook_url == "https://restart.example.com/hooks/NEW"

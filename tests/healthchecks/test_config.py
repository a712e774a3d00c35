"""SERVICE_ENDPOINTS from the environment, and the run_healthchecks command."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from healthchecks.config import EndpointConfigError, Imported, import_endpoints, parse
from healthchecks.models import ServiceEndpoint

SEED = (
    '{"websocket-gateway": "http://localhost:8081/health",'
    ' "chat-service": "http://localhost:8000/api/v1/health"}'
)


def test_seed_002s_json_object_is_read():
    assert [(s.name, s.target) for s in parse(SEED)] == [
        ("websocket-gateway", "http://localhost:8081/health"),
        ("chat-service", "http://localhost:8000/api/v1/health"),
    ]


def test_a_name_equals_url_list_is_read():
    assert [s.name for s in parse("api=http://a/health, admin-ui=http://b")] == ["api", "admin-ui"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "SERVICE_ENDPOINTS is not valid JSON"),
        ('{"meta": "http://169.254.169.254/"}', "cloud metadata address"),
        ('{"files": "file:///etc/passwd"}', "only http and https"),
        ("api", "'api' is not name=url"),
        ('{"api": {"url": "http://a", "interval": 1}}', "interval must be >= 5 s"),
    ],
)
def test_bad_values_are_refused_with_one_line(text, message):
    with pytest.raises(EndpointConfigError, match=message):
        parse(text)


@pytest.mark.django_db
def test_importing_creates_then_updates_only_its_own_endpoints(make_endpoint):
    make_endpoint("chat-service", target="http://admin-made/")
    assert import_endpoints(SEED) == Imported(created=1)
    assert ServiceEndpoint.objects.get(name="chat-service").target == "http://admin-made/"
    changed = SEED.replace("8081", "9091")
    assert import_endpoints(changed) == Imported(updated=1)
    assert ServiceEndpoint.objects.get(name="websocket-gateway").target.endswith(":9091/health")


@pytest.mark.django_db
def test_options_and_parents_are_imported():
    import_endpoints(
        '{"db": {"url": "http://db/health"},'
        ' "api": {"url": "http://api/health", "interval": 10, "parent": "db",'
        ' "severity": "high", "max_response_time_ms": 500}}'
    )
    api = ServiceEndpoint.objects.get(name="api")
    assert api.parent is not None
    assert (api.interval_seconds, api.parent.name, api.severity, api.max_response_time_ms) == (
        10,
        "db",
        "error",
        500,
    )


@pytest.mark.django_db
def test_the_command_checks_every_endpoint_once(http_server, make_endpoint):
    make_endpoint("web", target=http_server.url("/"))
    out = io.StringIO()
    call_command("run_healthchecks", "--once", stdout=out)
    assert "web" in out.getvalue() and "up" in out.getvalue()
    assert out.getvalue().rstrip().endswith("checked 1, 1 changed state")


@pytest.mark.django_db
def test_the_command_names_an_unknown_endpoint():
    with pytest.raises(CommandError, match="no endpoint named nope"):
        call_command("run_healthchecks", "--once", "--name", "nope")


@pytest.mark.django_db
@override_settings(SERVICE_ENDPOINTS="{broken")
def test_the_command_stops_on_a_bad_setting_with_one_line():
    with pytest.raises(CommandError, match="SERVICE_ENDPOINTS is not valid JSON"):
        call_command("run_healthchecks", "--once")


@pytest.mark.django_db
def test_an_endpoint_the_variable_stops_naming_is_disabled_with_its_history(make_endpoint):
    from alerts.models import Alert
    from alerts.service import Alert as NewAlert
    from alerts.service import AlertService
    from healthchecks.constants import State
    from healthchecks.state import DOWN_ALERT

    both = '{"api": "http://api/health", "db": "http://db/health"}'
    assert import_endpoints(both) == Imported(created=2)
    admin_made = make_endpoint("billing", target="http://billing/")
    db = ServiceEndpoint.objects.get(name="db")
    AlertService().create_alert(
        NewAlert(alert_type=DOWN_ALERT, title="db is down", message="no answer", resource="db")
    )

    # Only the console's start retires endpoints, and never on an empty variable.
    assert import_endpoints('{"api": "http://api/health"}') == Imported()
    assert import_endpoints("", retire=True) == Imported()
    assert ServiceEndpoint.objects.get(name="db").enabled
    assert import_endpoints('{"api": "http://api/health"}', retire=True) == Imported(disabled=1)
    db.refresh_from_db()
    assert not db.enabled and db.state == State.UNKNOWN and db.removed_from_environment
    # Its open alert is resolved (nothing would check it again), and it is kept.
    alert = Alert.objects.get(alert_type=DOWN_ALERT, resource="db")
    assert alert.status == "resolved" and alert.resolved_by == "SERVICE_ENDPOINTS"
    admin_made.refresh_from_db()
    assert admin_made.enabled
    # Once is enough: the next start changes nothing.
    assert import_endpoints('{"api": "http://api/health"}', retire=True) == Imported()

    assert import_endpoints(both) == Imported(restored=1)
    db.refresh_from_db()
    assert db.enabled and db.removed_from_environment is None and db.next_check_at

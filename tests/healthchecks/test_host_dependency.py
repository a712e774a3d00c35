"""An endpoint that names its host: while the host stops reporting, the endpoint's alerts
are held back ("host X not reporting") and sent if still open once it reports again."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts import pipeline
from alerts.constants import EventKind, Status
from alerts.models import Alert
from healthchecks.probes import ProbeResult
from healthchecks.state import apply_results
from metrics.models import Host

pytestmark = pytest.mark.django_db

FAIL = ProbeResult(ok=False, error="ConnectError: connection refused")


def host(name: str = "db-01", silent_for: float = 0) -> Host:
    return Host.objects.create(
        hostname=name, last_seen=timezone.now() - timedelta(seconds=silent_for)
    )


def test_an_endpoint_on_a_host_that_stopped_reporting_is_held_and_says_why(make_endpoint, settings):
    settings.METRICS_COLLECTION_INTERVAL = 15
    endpoint = make_endpoint("postgres", host=host(silent_for=60))
    apply_results([(endpoint, FAIL)])
    alert = Alert.objects.get(resource="postgres")
    assert (alert.status, alert.suppressed_by) == (Status.SUPPRESSED, "dependency")
    reason = "withheld: host db-01 not reporting"
    assert alert.events.get(kind=EventKind.SILENCED).reason == reason


def test_an_endpoint_on_a_host_that_reports_pages(make_endpoint):
    endpoint = make_endpoint("postgres", host=host())
    apply_results([(endpoint, FAIL)])
    assert Alert.objects.get(resource="postgres").status == Status.ACTIVE


def test_an_endpoint_on_a_host_that_never_reported_pages(make_endpoint):
    silent = Host.objects.create(hostname="new-01", last_seen=None)
    apply_results([(make_endpoint("postgres", host=silent), FAIL)])
    assert Alert.objects.get(resource="postgres").status == Status.ACTIVE


def test_once_the_host_reports_again_the_alert_still_open_is_sent(make_endpoint):
    silent = host(silent_for=3600)
    apply_results([(make_endpoint("postgres", host=silent), FAIL)])
    Host.objects.filter(pk=silent.pk).update(last_seen=timezone.now())
    assert pipeline.reapply_policies()["released"] == 1
    assert Alert.objects.get(resource="postgres").status == Status.ACTIVE


def test_a_child_of_an_endpoint_on_a_silent_host_is_held_too(make_endpoint):
    database = make_endpoint("postgres", host=host(silent_for=3600))
    api = make_endpoint("api", parent=database)
    apply_results([(api, FAIL)])
    reason = Alert.objects.get(resource="api").suppressed_reason
    assert reason == "withheld: host db-01 not reporting"


def test_a_down_parent_is_named_before_the_host(make_endpoint):
    database = make_endpoint("postgres", host=host(silent_for=3600))
    api = make_endpoint("api", parent=database, host=host("web-01", silent_for=3600))
    apply_results([(database, FAIL), (api, FAIL)])
    assert Alert.objects.get(resource="api").suppressed_reason == "withheld: parent postgres down"


def test_an_alert_about_the_endpoint_from_the_api_is_held_the_same_way(make_endpoint):
    from alerts.service import Alert as AlertSpec
    from alerts.service import AlertService

    make_endpoint("postgres", host=host(silent_for=3600))
    alert = AlertService().create_alert(
        AlertSpec(alert_type="replication_lag", title="Lag", message="m", resource="postgres")
    )
    assert alert.suppressed_reason == "withheld: host db-01 not reporting"


# -- naming the host: the API, configuration files, the admin ---------------------------------
def test_the_api_takes_and_shows_the_host_by_hostname(api_client, token_for, alice):
    host()
    admin = api_client(token_for(alice, "read,write"))
    body = {"name": "postgres", "kind": "tcp", "target": "db-01:5432", "host": "db-01"}
    created = admin.post("/services", body)
    assert created.status_code == 201, created.content
    assert created.json()["host"] == "db-01"
    changed = admin.client_patch("/services/postgres", {"interval_seconds": 30})
    assert changed.json()["host"] == "db-01"  # a PATCH keeps what it does not name
    cleared = admin.client_patch("/services/postgres", {"host": None})
    assert cleared.json()["host"] is None


def test_the_api_refuses_a_host_the_console_does_not_know(api_client, token_for, alice):
    admin = api_client(token_for(alice, "read,write"))
    body = {"name": "postgres", "kind": "tcp", "target": "db-01:5432", "host": "nowhere"}
    response = admin.post("/services", body)
    assert response.status_code == 422
    assert "host: no host named nowhere" in response.json()["detail"]


def test_a_file_names_the_host_and_an_unknown_one_is_refused_at_its_line(tmp_path):
    import io

    from django.core.management import CommandError, call_command

    from healthchecks.models import ServiceEndpoint

    host()
    path = tmp_path / "ops.yaml"
    text = "version: 1\nendpoints:\n  - name: postgres\n    kind: tcp\n"
    path.write_text(text + "    target: db-01:5432\n    host: db-01\n")
    call_command("import_config", str(path), stdout=io.StringIO())
    endpoint = ServiceEndpoint.objects.get(name="postgres")
    assert endpoint.host is not None and endpoint.host.hostname == "db-01"
    out = io.StringIO()
    call_command("export_config", stdout=out)
    assert "host: db-01" in out.getvalue()
    path.write_text(text + "    target: db-01:5432\n    host: nowhere\n")
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_config", str(path), stdout=io.StringIO(), stderr=err)
    assert ":6: endpoint 'postgres': host: no host named nowhere" in err.getvalue()


def test_the_admin_offers_the_known_hosts(admin_client, make_endpoint):
    host()
    endpoint = make_endpoint("postgres")
    page = admin_client.get(f"/admin/healthchecks/serviceendpoint/{endpoint.pk}/change/")
    assert b'<option value="db-01">db-01</option>' in page.content

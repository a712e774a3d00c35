"""What ``tools/fuzz.py`` (schemathesis against a served console) found, each kept fixed."""

from __future__ import annotations

import pytest

from alerts.models import Alert
from metrics.models import ProcessSample
from opsconsole.apitools import MAX_INT

pytestmark = pytest.mark.django_db


def test_an_id_past_64_bits_in_a_path_is_invalid_input(alice, token_for, api_client):
    # SQLite raised OverflowError comparing it: a 500 from POST .../resend.
    admin = api_client(token_for(alice, "read,write"))
    response = admin.post(f"/notifications/{2**64}/resend")
    assert response.status_code == 422
    assert response.json()["detail"].startswith("path.notification_id: Input should be less than")
    assert admin.get(f"/alerts/{2**63}").status_code == 422
    assert admin.get(f"/alerts/{2**63 - 1}").status_code == 404


def test_a_repeat_with_a_huge_user_count_is_refused(bob, token_for, api_client):
    # The repeat stores counts with a bare UPDATE, past the models' range check: 500.
    api = api_client(token_for(bob, "read,write"))
    alert = {"alert_type": "errors", "title": "Errors", "resource": "web"}
    assert api.post("/alerts", alert).status_code == 201
    response = api.post("/alerts", {**alert, "affected_users": 2**63})
    assert response.status_code == 422
    assert response.json()["detail"].startswith("affected_users: Input should be less than")
    assert Alert.objects.get().affected_users == 0


def test_error_counts_of_repeats_stop_at_the_columns_top(bob, token_for, api_client):
    # error_count + n overflowed PostgreSQL's integer (a 500) and SQLite stored past it.
    api = api_client(token_for(bob, "read,write"))
    alert = {"alert_type": "errors", "title": "Errors", "error_count": MAX_INT}
    assert api.post("/alerts", alert).status_code == 201
    repeat = api.post("/alerts", alert)
    assert repeat.status_code == 201, repeat.content
    assert repeat.json()["error_count"] == MAX_INT
    assert repeat.json()["notification_count"] == 2


@pytest.mark.parametrize("ref", ["\u00b2", "\u0663", str(2**64)])
def test_a_service_reference_that_is_no_id_is_a_name(carol, token_for, api_client, ref):
    # "²" passed str.isdigit() and failed int(): a 500 on every /services/{ref} route.
    response = api_client(token_for(carol)).get(f"/services/{ref}")
    assert response.status_code == 404
    assert response.json() == {"detail": f"no service endpoint {ref!r}"}


def test_an_ingested_process_id_past_an_integer_is_refused(alice, token_for, api_client):
    # Ingest writes with COPY: PostgreSQL refused the row with a 500, SQLite kept it.
    process = {"pid": 2**31, "name": "x", "cpu_percent": 1, "memory_percent": 1, "rss_bytes": 1}
    response = api_client(token_for(alice, "ingest")).post(
        "/metrics", {"host": "web-01", "processes": [process]}
    )
    assert response.status_code == 422
    assert "processes.0.pid" in response.json()["detail"]
    assert not ProcessSample.objects.exists()


def test_system_health_masks_a_targets_password_for_viewers(carol, alice, token_for, api_client):
    from healthchecks.models import ServiceEndpoint

    ServiceEndpoint.objects.create(
        name="orders-db", kind="postgres", target="postgres://orders:S3cretPass@db:5432/orders"
    )
    shown = api_client(token_for(carol)).get("/system/health").json()["services"][0]["target"]
    assert "S3cretPass" not in shown and shown.endswith("@db:5432/orders")
    admin = api_client(token_for(alice)).get("/system/health").json()
    assert "S3cretPass" in admin["services"][0]["target"]


@pytest.mark.parametrize("field", ["labels", "recommendations", "name", "window_seconds"])
def test_a_null_for_a_rule_field_without_nulls_is_refused(alice, token_for, api_client, field):
    # null became an empty form value, then NULL in a NOT NULL column: a 500.
    from alerts.models import AlertRule

    rule = AlertRule.objects.create(name="cpu", metric="cpu_usage_percent", threshold=80)
    response = api_client(token_for(alice, "read,write")).client_patch(
        f"/alert-rules/{rule.pk}", {field: None}
    )
    assert response.status_code == 422
    assert response.json()["detail"].startswith(f"{field}: ")
    rule.refresh_from_db()
    assert (rule.name, rule.labels) == ("cpu", {})


def test_a_null_threshold_still_clears_it(alice, token_for, api_client):
    from alerts.models import AlertRule

    rule = AlertRule.objects.create(
        name="cpu", metric="cpu_usage_percent", threshold=80, clear_threshold=70
    )
    response = api_client(token_for(alice, "read,write")).client_patch(
        f"/alert-rules/{rule.pk}", {"clear_threshold": None}
    )
    assert response.status_code == 200 and response.json()["clear_threshold"] is None


def test_a_routing_rule_naming_a_channel_id_past_64_bits_is_refused(alice, token_for, api_client):
    # Checking that the channels exist overflowed SQLite's integer: a 500.
    response = api_client(token_for(alice, "read,write")).post(
        "/routing-rules", {"name": "to a huge id", "channels": [2**64]}
    )
    assert response.status_code == 422
    assert response.json()["detail"].startswith("channels.0: Input should be less than")

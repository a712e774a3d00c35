"""The endpoint's admin page asks for no JSON: tags and recovery actions are names,
headers are 'Name: value' lines whose stored values are never shown back. The API and
configuration files keep their shape (a headers object, lists) and store the same."""

from __future__ import annotations

import io

import pytest
import yaml
from django.core.management import call_command

from healthchecks.models import ServiceEndpoint
from metrics.models import Host
from tests.healthchecks.test_admin import _endpoint

pytestmark = pytest.mark.django_db

SECRET = "Bearer hc-typed-s3cret-41"


@pytest.fixture
def admin_client(client, alice):
    from opsconsole.bootstrap import load_defaults

    load_defaults()
    client.force_login(alice)
    return client


@pytest.fixture
def guarded(make_endpoint):
    return make_endpoint(
        "payments",
        target="http://127.0.0.1:9/health",
        http_headers={"Authorization": SECRET, "X-Team": "pay"},
        tags=["payments", "eu"],
        recovery_webhook_url="https://restart.example.com/hook",
        recovery_actions=["RECONNECT", "RESTART"],
    )


def _change(admin_client, endpoint, **fields):
    return admin_client.post(
        f"/admin/healthchecks/serviceendpoint/{endpoint.pk}/change/",
        _endpoint(
            name=endpoint.name,
            target=endpoint.target,
            recovery_webhook_url=endpoint.recovery_webhook_url,
            **fields,
        ),
    )


def test_the_change_page_names_the_headers_set_but_shows_no_value(admin_client, guarded):
    page = admin_client.get(f"/admin/healthchecks/serviceendpoint/{guarded.pk}/change/")
    text = page.content.decode()
    assert "hc-typed-s3cret-41" not in text
    assert "Set: Authorization, X-Team (values hidden)" in text
    assert "payments, eu" in text and "RECONNECT, RESTART" in text


def test_header_lines_add_replace_and_remove_and_keep_the_others(admin_client, guarded):
    response = _change(
        admin_client,
        guarded,
        http_headers="X-Team: billing\nAccept: application/json",
        tags="payments, eu",
        recovery_actions="RECONNECT, RESTART",
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    guarded.refresh_from_db()
    assert guarded.http_headers == {
        "Authorization": SECRET,
        "X-Team": "billing",
        "Accept": "application/json",
    }
    _change(
        admin_client,
        guarded,
        http_headers="Authorization:",
        tags="payments",
        recovery_actions="NOTIFY_ADMIN",
    )
    guarded.refresh_from_db()
    assert guarded.http_headers == {"X-Team": "billing", "Accept": "application/json"}
    assert (guarded.tags, guarded.recovery_actions) == (["payments"], ["NOTIFY_ADMIN"])
    # Left empty, the box changes nothing.
    _change(admin_client, guarded, http_headers="", tags="", recovery_actions="")
    guarded.refresh_from_db()
    assert guarded.http_headers == {"X-Team": "billing", "Accept": "application/json"}
    assert (guarded.tags, guarded.recovery_actions) == ([], [])


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"http_headers": "Authorization Bearer x"}, "http_headers", "is not 'Name: value'"),
        ({"http_headers": "Bad Name: x"}, "http_headers", "is not a header name"),
        ({"recovery_actions": "restart now"}, "recovery_actions", "action names in capitals"),
    ],
)
def test_bad_lines_are_form_errors(admin_client, guarded, fields, field, message):
    response = _change(admin_client, guarded, **fields)
    assert response.status_code == 200
    assert message in " ".join(response.context["adminform"].form.errors[field])
    guarded.refresh_from_db()
    assert guarded.http_headers["Authorization"] == SECRET


def test_the_api_takes_headers_and_lists_as_json_and_replaces_them(alice, token_for, api_client):
    admin_api = api_client(token_for(alice, "read,write"))
    created = admin_api.post(
        "/services",
        {
            "name": "orders",
            "target": "https://orders.example/health",
            "http_headers": {"Authorization": SECRET},
            "tags": ["orders"],
        },
    )
    assert created.status_code == 201, created.content
    endpoint = ServiceEndpoint.objects.get(name="orders")
    assert (endpoint.http_headers, endpoint.tags) == ({"Authorization": SECRET}, ["orders"])
    patched = admin_api.client_patch(f"/services/{endpoint.pk}", {"http_headers": {"X-A": "1"}})
    assert patched.status_code == 200, patched.content
    endpoint.refresh_from_db()
    assert endpoint.http_headers == {"X-A": "1"}, "the API's object replaces every header"
    refused = admin_api.client_patch(f"/services/{endpoint.pk}", {"http_headers": {"X-A": 1}})
    assert refused.status_code == 422 and "http_headers" in refused.json()["detail"]


def test_a_configuration_file_keeps_headers_and_tags(tmp_path):
    path = tmp_path / "ops.yaml"
    path.write_text(
        "endpoints:\n"
        "  - name: billing\n"
        "    kind: http\n"
        "    target: https://billing.example/health\n"
        "    tags: [billing, eu]\n"
        "    http_headers: {Accept: application/json, X-Team: billing}\n"
    )
    call_command("import_config", str(path), stdout=io.StringIO())
    endpoint = ServiceEndpoint.objects.get(name="billing")
    assert endpoint.tags == ["billing", "eu"]
    assert endpoint.http_headers == {"Accept": "application/json", "X-Team": "billing"}
    again = io.StringIO()
    call_command("import_config", str(path), stdout=again)
    assert "endpoints: no changes" in again.getvalue()
    out = io.StringIO()
    call_command("export_config", "--section", "endpoints", stdout=out)
    exported = yaml.safe_load(out.getvalue())["endpoints"][0]
    assert exported["tags"] == ["billing", "eu"]


def test_a_hosts_labels_are_lines(admin_client):
    host = Host.objects.create(hostname="db-01")
    response = admin_client.post(
        f"/admin/metrics/host/{host.pk}/change/",
        {"hostname": "db-01", "labels": "role = db\nrack = r4", "enabled": "on"},
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    host.refresh_from_db()
    assert host.labels == {"role": "db", "rack": "r4"}
    page = admin_client.get(f"/admin/metrics/host/{host.pk}/change/").content.decode()
    assert "role = db" in page

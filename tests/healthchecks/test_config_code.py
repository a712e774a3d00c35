"""Service endpoints in export_config / import_config."""

from __future__ import annotations

import io

import pytest
import yaml
from django.core.management import CommandError, call_command

from healthchecks.models import ServiceEndpoint

pytestmark = pytest.mark.django_db

ENDPOINTS = """\
version: 1
endpoints:
  - name: api
    kind: http
    target: https://api.example.org/health
    interval_seconds: 30
    parent: gateway
  - name: gateway
    kind: tcp
    target: gw.example.org:443
    severity: critical
"""


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def import_text(tmp_path, text: str, *options) -> str:
    path = tmp_path / "ops.yaml"
    path.write_text(text)
    return run("import_config", str(path), *options)


def failing_import(tmp_path, text: str) -> list[str]:
    path = tmp_path / "ops.yaml"
    path.write_text(text)
    err = io.StringIO()
    with pytest.raises(CommandError, match="nothing was changed"):
        call_command("import_config", str(path), stdout=io.StringIO(), stderr=err)
    return err.getvalue().splitlines()


def test_it_creates_the_endpoints_a_file_lists_with_a_parent_listed_after_its_child(tmp_path):
    import_text(tmp_path, ENDPOINTS)
    api = ServiceEndpoint.objects.get(name="api")
    assert api.parent is not None
    assert (api.target, api.interval_seconds, api.parent.name) == (
        "https://api.example.org/health",
        30,
        "gateway",
    )
    assert ServiceEndpoint.objects.get(name="gateway").severity == "critical"


def test_importing_the_same_file_twice_changes_nothing_the_second_time(tmp_path):
    import_text(tmp_path, ENDPOINTS)
    out = import_text(tmp_path, ENDPOINTS)
    assert "endpoints: no changes" in out


def test_export_then_import_is_a_no_op_and_leaves_out_runtime_state(tmp_path):
    import_text(tmp_path, ENDPOINTS)
    ServiceEndpoint.objects.filter(name="api").update(state="down", last_response_ms=12.5)
    exported = run("export_config", "--section", "endpoints")
    document = yaml.safe_load(exported)
    api = next(item for item in document["endpoints"] if item["name"] == "api")
    assert api["parent"] == "gateway"
    assert not {"state", "last_response_ms", "ping_uuid", "last_checked"} & set(api)
    ServiceEndpoint.objects.all().delete()
    import_text(tmp_path, exported)
    assert import_text(tmp_path, exported).count("no changes") == 1
    assert ServiceEndpoint.objects.values_list("parent__name", flat=True).get(name="api") == (
        "gateway"
    )


def test_a_dry_run_shows_the_diff_and_changes_nothing(tmp_path):
    import_text(tmp_path, ENDPOINTS)
    out = import_text(
        tmp_path, ENDPOINTS.replace("interval_seconds: 30", "interval_seconds: 90"), "--dry-run"
    )
    assert "interval_seconds: 30 -> 90" in out
    assert ServiceEndpoint.objects.get(name="api").interval_seconds == 30


def test_an_invalid_endpoint_is_reported_at_its_line_and_nothing_is_stored(tmp_path):
    text = ENDPOINTS.replace("interval_seconds: 30", "interval_seconds: -5")
    lines = failing_import(tmp_path, text)
    assert len(lines) == 1
    assert lines[0].startswith(f"{tmp_path}/ops.yaml:6: endpoint 'api': interval_seconds:")
    assert not ServiceEndpoint.objects.exists()


def test_an_unknown_parent_and_an_unknown_field_are_reported_at_their_lines(tmp_path):
    text = ENDPOINTS.replace("parent: gateway", "parent: nowhere").replace(
        "    severity: critical\n", "    severity: critical\n    state: up\n"
    )
    assert failing_import(tmp_path, text) == [
        f"{tmp_path}/ops.yaml:7: endpoint 'api': parent: no endpoint named 'nowhere'",
        f"{tmp_path}/ops.yaml:12: endpoint 'gateway': unknown field 'state'",
    ]


def test_prune_deletes_the_endpoints_the_file_leaves_out(tmp_path):
    import_text(tmp_path, ENDPOINTS)
    ServiceEndpoint.objects.create(name="old", kind="tcp", target="old.example.org:22")
    import_text(tmp_path, ENDPOINTS)
    assert ServiceEndpoint.objects.filter(name="old").exists()
    import_text(tmp_path, ENDPOINTS, "--prune")
    assert set(ServiceEndpoint.objects.values_list("name", flat=True)) == {"api", "gateway"}


def test_the_recovery_webhook_is_exported_as_a_reference_never_inline(tmp_path):
    ServiceEndpoint.objects.create(
        name="shop web",
        target="https://shop.example.org",
        recovery_webhook_url="https://hooks.example.org/restart?key=s3cret",
    )
    exported = run("export_config", "--section", "endpoints")
    assert "s3cret" not in exported
    item = yaml.safe_load(exported)["endpoints"][0]
    assert item["recovery_webhook_url"] == "${ENDPOINT_SHOP_WEB_RECOVERY_WEBHOOK_URL}"
    # Without the variable the stored hook is kept, so re-applying changes nothing.
    assert "endpoints: no changes" in import_text(tmp_path, exported)
    stored = ServiceEndpoint.objects.get(name="shop web").recovery_webhook_url
    assert stored == "https://hooks.example.org/restart?key=s3cret"


def test_a_webhook_reference_resolves_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SHOP_HOOK", "https://hooks.example.org/new")
    import_text(
        tmp_path,
        "endpoints:\n  - name: shop\n    target: https://shop.example.org\n"
        "    recovery_webhook_url: ${SHOP_HOOK}\n",
    )
    assert ServiceEndpoint.objects.get(name="shop").recovery_webhook_url == (
        "https://hooks.example.org/new"
    )


def test_an_inline_webhook_or_a_missing_variable_is_refused_at_its_line(tmp_path, monkeypatch):
    monkeypatch.delenv("NO_SUCH_HOOK", raising=False)
    text = (
        "endpoints:\n  - name: shop\n    target: https://shop.example.org\n"
        "    recovery_webhook_url: https://hooks.example.org/x\n"
    )
    assert failing_import(tmp_path, text)[0].startswith(
        f"{tmp_path}/ops.yaml:4: recovery_webhook_url holds a secret inline"
    )
    lines = failing_import(tmp_path, text.replace("https://hooks.example.org/x", "${NO_SUCH_HOOK}"))
    assert lines == [
        f"{tmp_path}/ops.yaml:4: endpoint 'shop': recovery_webhook_url: "
        "the environment variable NO_SUCH_HOOK is not set"
    ]


def test_a_secret_header_is_exported_as_a_reference_and_kept_on_import(tmp_path):
    ServiceEndpoint.objects.create(
        name="billing",
        target="https://billing.example.org",
        http_headers={"Authorization": "Bearer t0ken", "Accept": "application/json"},
    )
    exported = run("export_config", "--section", "endpoints")
    assert "t0ken" not in exported
    headers = yaml.safe_load(exported)["endpoints"][0]["http_headers"]
    assert headers == {
        "Authorization": "${ENDPOINT_BILLING_AUTHORIZATION}",
        "Accept": "application/json",
    }
    assert "endpoints: no changes" in import_text(tmp_path, exported)
    assert ServiceEndpoint.objects.get(name="billing").http_headers["Authorization"] == (
        "Bearer t0ken"
    )


def test_a_dependency_loop_through_new_endpoints_is_refused_at_its_lines(tmp_path):
    text = ENDPOINTS.replace(
        "    severity: critical\n", "    severity: critical\n    parent: api\n"
    )
    assert failing_import(tmp_path, text) == [
        f"{tmp_path}/ops.yaml:7: endpoint 'api': parent: this would make a dependency loop",
        f"{tmp_path}/ops.yaml:12: endpoint 'gateway': parent: this would make a dependency loop",
    ]
    assert not ServiceEndpoint.objects.exists()

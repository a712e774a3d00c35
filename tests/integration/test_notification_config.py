"""Channels and routing rules as configuration files: secrets only by reference,
idempotent imports, dry-run diffs, line-accurate errors, and routing rule history."""

from __future__ import annotations

import io

import pytest
import yaml
from django.core.management import CommandError, call_command

from notifications.models import NotificationChannel, RoutingRule
from opsconsole.models import ConfigVersion

pytestmark = pytest.mark.django_db

HOOK_URL = "http://127.0.0.1:9/incoming/SECRET-PATH-777"

DOCUMENT = """\
version: 1
channels:
  - name: ops-hook
    kind: webhook
    min_severity: warning
    secrets:
      url: ${OPS_HOOK_URL}
      signing_secret: ${OPS_HOOK_SIGNING}
  - name: screen
    kind: dashboard
routing:
  - name: critical to the hook
    severities: [critical]
    channels: [ops-hook]
"""


@pytest.fixture
def env(monkeypatch):
    monkeypatch.setenv("OPS_HOOK_URL", HOOK_URL)
    monkeypatch.setenv("OPS_HOOK_SIGNING", "sign-me-123")


def run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def write(tmp_path, text: str, name: str = "ops.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def failing(path) -> str:
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_config", path, stdout=io.StringIO(), stderr=err)
    return err.getvalue()


def test_it_creates_channels_with_secrets_read_from_the_environment(env, tmp_path):
    run("import_config", write(tmp_path, DOCUMENT))
    hook = NotificationChannel.objects.get(name="ops-hook")
    assert hook.secrets == {"url": HOOK_URL, "signing_secret": "sign-me-123"}
    assert hook.min_severity == "warning"
    rule = RoutingRule.objects.get(name="critical to the hook")
    assert [c.name for c in rule.channels.all()] == ["ops-hook"]


def test_an_export_writes_secrets_as_the_same_references_never_values(env, tmp_path):
    run("import_config", write(tmp_path, DOCUMENT))
    out, _ = run("export_config", "--section", "channels")
    assert HOOK_URL not in out and "sign-me-123" not in out
    hook = next(c for c in yaml.safe_load(out)["channels"] if c["name"] == "ops-hook")
    assert hook["secrets"] == {"signing_secret": "${OPS_HOOK_SIGNING}", "url": "${OPS_HOOK_URL}"}


def test_a_channel_made_in_the_admin_exports_a_named_reference(tmp_path):
    NotificationChannel.objects.create(
        name="Ops Slack", kind="slack", secrets={"webhook_url": "https://hooks.slack.com/x/y"}
    )
    out, _ = run("export_config", "--section", "channels")
    assert "hooks.slack.com" not in out
    assert "webhook_url: ${NOTIFY_OPS_SLACK_WEBHOOK_URL}" in out


def test_importing_the_same_file_twice_changes_nothing(env, tmp_path):
    path = write(tmp_path, DOCUMENT)
    run("import_config", path)
    out, _ = run("import_config", path)
    assert "channels: no changes" in out and "routing: no changes" in out
    assert "applied 0 change(s)" in out


def test_an_export_imports_back_without_changes_even_without_the_variables(
    env, tmp_path, monkeypatch
):
    run("import_config", write(tmp_path, DOCUMENT))
    exported, _ = run("export_config")
    monkeypatch.delenv("OPS_HOOK_URL")
    out, _ = run("import_config", write(tmp_path, exported, "exported.yaml"), "--dry-run")
    assert "channels: no changes" in out and "routing: no changes" in out


def test_a_dry_run_shows_the_diff_and_changes_nothing(env, tmp_path):
    run("import_config", write(tmp_path, DOCUMENT))
    edited = DOCUMENT.replace("severities: [critical]", "severities: [critical, error]")
    edited = edited.replace("min_severity: warning", "min_severity: error")
    out, _ = run("import_config", write(tmp_path, edited, "edited.yaml"), "--dry-run")
    assert (
        '~ update \'critical to the hook\'\n      severities: ["critical"] -> ["critical", "error"]'
        in out
    )
    assert 'min_severity: "warning" -> "error"' in out
    assert RoutingRule.objects.get().severities == ["critical"]
    assert NotificationChannel.objects.get(name="ops-hook").min_severity == "warning"


def test_a_changed_secret_shows_in_the_diff_by_reference_only(env, tmp_path, monkeypatch):
    run("import_config", write(tmp_path, DOCUMENT))
    monkeypatch.setenv("NEW_HOOK_URL", "http://127.0.0.1:9/other/NEW-SECRET-PATH")
    edited = DOCUMENT.replace("${OPS_HOOK_URL}", "${NEW_HOOK_URL}")
    out, _ = run("import_config", write(tmp_path, edited, "edited.yaml"))
    assert 'secrets.url: "${OPS_HOOK_URL}" -> "${NEW_HOOK_URL}"' in out
    assert "NEW-SECRET-PATH" not in out and "SECRET-PATH-777" not in out
    hook = NotificationChannel.objects.get(name="ops-hook")
    assert hook.secrets["url"] == "http://127.0.0.1:9/other/NEW-SECRET-PATH"


def test_an_inline_secret_is_refused_on_its_line(env, tmp_path):
    text = DOCUMENT.replace("url: ${OPS_HOOK_URL}", "url: http://127.0.0.1:9/hook")
    err = failing(write(tmp_path, text))
    assert (
        ":7: channel 'ops-hook': secrets.url must be a reference to an environment variable" in err
    )
    assert not NotificationChannel.objects.exists()


def test_an_inline_token_is_refused_without_echoing_it(env, tmp_path):
    text = """\
channels:
  - name: bot
    kind: telegram
    config: {chat_id: "-100"}
    secrets:
      bot_token: 123456:REAL-TOKEN
"""
    err = failing(write(tmp_path, text))
    assert ":6: bot_token holds a secret inline" in err and "REAL-TOKEN" not in err


def test_a_missing_variable_is_an_error_for_a_new_channel(tmp_path, monkeypatch):
    monkeypatch.setenv("OPS_HOOK_SIGNING", "x")
    err = failing(write(tmp_path, DOCUMENT))
    assert (
        ":7: channel 'ops-hook': secrets.url: the environment variable OPS_HOOK_URL is not set"
        in err
    )


def test_a_routing_rule_naming_an_unknown_channel_is_refused_on_its_line(env, tmp_path):
    text = DOCUMENT.replace("channels: [ops-hook]", "channels: [ops-hook, pager]")
    err = failing(write(tmp_path, text))
    assert ":14: routing rule 'critical to the hook': no channel named 'pager'" in err
    assert not RoutingRule.objects.exists() and not NotificationChannel.objects.exists()


def test_a_bad_severity_in_a_routing_rule_is_refused_on_its_line(env, tmp_path):
    text = DOCUMENT.replace("severities: [critical]", "severities: [urgent]")
    err = failing(write(tmp_path, text))
    assert ":13: routing rule 'critical to the hook': severities: unknown ['urgent']" in err


def test_a_channel_setting_the_kind_does_not_have_is_refused_on_its_line(env, tmp_path):
    text = DOCUMENT.replace(
        "    kind: dashboard\n", "    kind: dashboard\n    config: {colour: red}\n"
    )
    err = failing(write(tmp_path, text))
    assert ":11: channel 'screen': config.colour is not a dashboard setting" in err


def test_prune_removes_routing_rules_the_file_no_longer_has(env, tmp_path):
    run("import_config", write(tmp_path, DOCUMENT))
    RoutingRule.objects.create(name="stray", all_channels=True)
    out, _ = run("import_config", write(tmp_path, DOCUMENT), "--prune")
    assert "- delete 'stray'" in out
    assert list(RoutingRule.objects.values_list("name", flat=True)) == ["critical to the hook"]


# -- routing rule history ----------------------------------------------------------------------
def routing_versions(rule) -> list[ConfigVersion]:
    return list(
        ConfigVersion.objects.filter(section="routing", object_key=str(rule.pk)).order_by("number")
    )


def test_an_import_records_a_routing_version_with_its_actor(env, tmp_path):
    run("import_config", write(tmp_path, DOCUMENT), "--actor", "ci-deploy")
    (version,) = routing_versions(RoutingRule.objects.get())
    assert (version.actor, version.source) == ("ci-deploy", "import")
    assert version.snapshot is not None and version.snapshot["channels"] == ["ops-hook"]


def _routing_form(**fields) -> dict:
    data = {
        "name": "db team",
        "position": "100",
        "enabled": "on",
        "severities": ["critical"],
        "label_matchers": "team = db",
        "channels": [],
        "group_by": "rule, host",
        "group_wait": "30",
        "group_interval": "300",
        "repeat_interval": "14400",
    }
    data.update(fields)
    return data


def test_an_admin_edit_of_a_routing_rule_records_who_and_what_changed(admin_client):
    screen = NotificationChannel.objects.create(name="screen", kind="dashboard")
    response = admin_client.post("/admin/notifications/routingrule/add/", _routing_form())
    assert response.status_code == 302
    rule = RoutingRule.objects.get(name="db team")
    admin_client.post(
        f"/admin/notifications/routingrule/{rule.pk}/change/",
        _routing_form(severities=["critical", "error"], channels=[str(screen.pk)]),
    )
    first, second = routing_versions(rule)
    assert (first.actor, first.source, second.actor) == ("alice", "admin", "alice")
    assert second.changes == {
        "severities": [["critical"], ["critical", "error"]],
        "channels": [[], ["screen"]],
    }


def test_an_api_edit_of_a_routing_rule_records_a_version(alice, token_for, api_client):
    api = api_client(token_for(alice, "read,write"))
    created = api.post("/routing-rules", {"name": "db team", "severities": ["critical"]})
    assert created.status_code == 201, created.content
    rule_id = created.json()["id"]
    assert api.client_patch(f"/routing-rules/{rule_id}", {"position": 5}).status_code == 200
    latest = routing_versions(RoutingRule.objects.get(pk=rule_id))[-1]
    assert (latest.actor, latest.source, latest.changes) == ("alice", "api", {"position": [100, 5]})


def test_the_admin_shows_a_routing_diff_and_rolls_back(admin_client):
    screen = NotificationChannel.objects.create(name="screen", kind="dashboard")
    admin_client.post(
        "/admin/notifications/routingrule/add/", _routing_form(channels=[str(screen.pk)])
    )
    rule = RoutingRule.objects.get(name="db team")
    admin_client.post(
        f"/admin/notifications/routingrule/{rule.pk}/change/",
        _routing_form(severities=["info"], channels=[]),
    )
    first, second = routing_versions(rule)
    page = admin_client.get(f"/admin/opsconsole/configversion/{second.pk}/change/").content.decode()
    assert "<th>severities</th><td><del>[&quot;critical&quot;]</del></td>" in page
    assert "<td><ins>[&quot;info&quot;]</ins></td>" in page
    assert "<th>channels</th><td><del>[&quot;screen&quot;]</del></td>" in page
    admin_client.post(f"/admin/opsconsole/configversion/{first.pk}/rollback/")
    rule.refresh_from_db()
    assert rule.severities == ["critical"]
    assert [c.name for c in rule.channels.all()] == ["screen"]
    latest = routing_versions(rule)[-1]
    assert (latest.source, latest.actor, latest.number) == ("rollback", "alice", 3)


def test_a_deleted_routing_rule_comes_back_on_rollback(admin_client):
    admin_client.post("/admin/notifications/routingrule/add/", _routing_form())
    rule = RoutingRule.objects.get(name="db team")
    first = routing_versions(rule)[0]
    admin_client.post(f"/admin/notifications/routingrule/{rule.pk}/delete/", {"post": "yes"})
    assert not RoutingRule.objects.filter(pk=rule.pk).exists()
    admin_client.post(f"/admin/opsconsole/configversion/{first.pk}/rollback/")
    assert RoutingRule.objects.get(pk=rule.pk).label_matchers == {"team": "db"}


def test_a_rollback_to_a_channel_since_deleted_is_refused_with_a_reason(admin_client):
    screen = NotificationChannel.objects.create(name="screen", kind="dashboard")
    admin_client.post(
        "/admin/notifications/routingrule/add/", _routing_form(channels=[str(screen.pk)])
    )
    rule = RoutingRule.objects.get(name="db team")
    first = routing_versions(rule)[0]
    admin_client.post(
        f"/admin/notifications/routingrule/{rule.pk}/change/", _routing_form(channels=[])
    )
    screen.delete()
    response = admin_client.post(
        f"/admin/opsconsole/configversion/{first.pk}/rollback/", follow=True
    )
    assert "channels that no longer exist: screen" in response.content.decode()
    assert list(RoutingRule.objects.get(name="db team").channels.all()) == []


def test_a_routing_rules_admin_page_links_to_its_versions(admin_client):
    admin_client.post("/admin/notifications/routingrule/add/", _routing_form())
    rule = RoutingRule.objects.get(name="db team")
    page = admin_client.get(f"/admin/notifications/routingrule/{rule.pk}/change/").content.decode()
    link = f"/admin/opsconsole/configversion/?section=routing&amp;object_key={rule.pk}"
    assert link in page
    listed = admin_client.get(
        f"/admin/opsconsole/configversion/?section=routing&object_key={rule.pk}"
    )
    assert "db team" in listed.content.decode()


def test_a_json_file_round_trips_and_reports_errors_by_line(env, tmp_path):
    run("import_config", write(tmp_path, DOCUMENT))
    exported, _ = run("export_config", "--format", "json")
    assert HOOK_URL not in exported and '"url": "${OPS_HOOK_URL}"' in exported
    out, _ = run("import_config", write(tmp_path, exported, "ops.json"), "--dry-run")
    assert "channels: no changes" in out and "routing: no changes" in out
    broken = exported.replace('"${OPS_HOOK_URL}"', f'"{HOOK_URL}"')
    line = next(n for n, text in enumerate(broken.splitlines(), 1) if HOOK_URL in text)
    err = failing(write(tmp_path, broken, "broken.json"))
    assert f":{line}: channel 'ops-hook': secrets.url must be a reference" in err
    assert HOOK_URL not in err


def test_the_audit_names_who_imported_each_channel_edit(tmp_path, env):
    from opsconsole.models import AuditEntry

    run("import_config", write(tmp_path, DOCUMENT), "--actor", "ci-deploy")
    edits = AuditEntry.objects.filter(summary__icontains="ops-hook")
    assert edits.exists()
    assert set(edits.values_list("actor", flat=True)) == {"ci-deploy"}
    # Without --actor the command names itself, not nobody.
    changed = DOCUMENT.replace("min_severity: warning", "min_severity: error")
    run("import_config", write(tmp_path, changed))
    latest = AuditEntry.objects.filter(summary__icontains="ops-hook").order_by("-pk").first()
    assert latest is not None and latest.actor == "import_config"

"""Rule edits keep a version history; the admin shows the diff and rolls back."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from alerts.models import AlertRule
from opsconsole.bootstrap import load_defaults
from opsconsole.models import ConfigVersion
from tests.alerts.test_admin import _rule

pytestmark = pytest.mark.django_db


@pytest.fixture
def rule(admin_client):
    response = admin_client.post("/admin/alerts/alertrule/add/", _rule(threshold="80"))
    assert response.status_code == 302
    return AlertRule.objects.get(name="CPU high")


def versions_of(rule) -> list[ConfigVersion]:
    return list(ConfigVersion.objects.filter(object_key=str(rule.pk)).order_by("number"))


def test_an_admin_edit_records_who_and_what_changed(admin_client, rule):
    admin_client.post(f"/admin/alerts/alertrule/{rule.pk}/change/", _rule(threshold="85"))
    first, second = versions_of(rule)
    assert (first.number, first.actor, first.source) == (1, "alice", "admin")
    assert second.changes == {"threshold": [80, 85]} and second.actor == "alice"


def test_saving_without_a_change_adds_no_version(admin_client, rule):
    admin_client.post(f"/admin/alerts/alertrule/{rule.pk}/change/", _rule(threshold="80"))
    assert len(versions_of(rule)) == 1


def test_an_api_edit_records_a_version(alice, token_for, api_client, rule):
    api = api_client(token_for(alice, "read,write"))
    assert api.client_patch(f"/alert-rules/{rule.pk}", {"for_seconds": 120}).status_code == 200
    latest = versions_of(rule)[-1]
    assert (latest.source, latest.changes) == ("api", {"for_seconds": [60, 120]})


def test_an_import_records_a_version_with_its_actor(tmp_path, rule):
    path = tmp_path / "ops.yaml"
    path.write_text(
        "rules:\n  - name: CPU high\n    metric: cpu_usage_percent\n    threshold: 90\n"
    )
    call_command("import_config", str(path), "--actor", "ci-deploy", stdout=io.StringIO())
    latest = versions_of(rule)[-1]
    assert (latest.actor, latest.source) == ("ci-deploy", "import")
    assert latest.changes["threshold"] == [80, 90]


def test_the_version_page_shows_the_diff(admin_client, rule):
    admin_client.post(f"/admin/alerts/alertrule/{rule.pk}/change/", _rule(threshold="85"))
    second = versions_of(rule)[-1]
    page = admin_client.get(f"/admin/opsconsole/configversion/{second.pk}/change/")
    html = page.content.decode()
    assert "<th>threshold</th><td><del>80</del></td><td><ins>85</ins></td>" in html


def test_a_rollback_restores_the_rule_and_is_itself_a_version(admin_client, rule):
    admin_client.post(f"/admin/alerts/alertrule/{rule.pk}/change/", _rule(threshold="85"))
    first = versions_of(rule)[0]
    preview = admin_client.get(f"/admin/opsconsole/configversion/{first.pk}/rollback/")
    assert "<del>85</del>" in preview.content.decode()
    admin_client.post(f"/admin/opsconsole/configversion/{first.pk}/rollback/")
    rule.refresh_from_db()
    assert rule.threshold == 80
    latest = versions_of(rule)[-1]
    assert (latest.number, latest.source, latest.changes) == (
        3,
        "rollback",
        {"threshold": [85, 80]},
    )


def test_a_deleted_rule_comes_back_with_its_id(admin_client, rule):
    admin_client.post(f"/admin/alerts/alertrule/{rule.pk}/delete/", {"post": "yes"})
    assert not AlertRule.objects.filter(pk=rule.pk).exists()
    created = versions_of(rule)[0]
    admin_client.post(f"/admin/opsconsole/configversion/{created.pk}/rollback/")
    assert AlertRule.objects.get(pk=rule.pk).name == "CPU high"
    assert [v.snapshot is None for v in versions_of(rule)] == [False, True, False]


def test_a_viewer_cannot_roll_back(client, carol, admin_client, rule):
    carol.is_staff = True
    carol.save()
    load_defaults()
    client.force_login(carol)
    first = versions_of(rule)[0]
    assert client.get(f"/admin/opsconsole/configversion/{first.pk}/change/").status_code == 200
    assert client.post(f"/admin/opsconsole/configversion/{first.pk}/rollback/").status_code == 403


def test_the_first_edit_of_a_rule_made_before_history_has_a_diff(admin_client):
    rule = AlertRule.objects.create(
        name="CPU high", metric="cpu_usage_percent", threshold=80, for_seconds=60
    )
    admin_client.post(f"/admin/alerts/alertrule/{rule.pk}/change/", _rule(threshold="85"))
    baseline, edit = versions_of(rule)
    assert (baseline.source, edit.source) == ("baseline", "admin")
    assert edit.changes == {"threshold": [80, 85]}


def test_a_rule_deleted_before_any_edit_can_still_come_back(admin_client):
    rule = AlertRule.objects.create(name="Old rule", metric="load_1m", threshold=4)
    admin_client.post(f"/admin/alerts/alertrule/{rule.pk}/delete/", {"post": "yes"})
    baseline = versions_of(rule)[0]
    admin_client.post(f"/admin/opsconsole/configversion/{baseline.pk}/rollback/")
    assert AlertRule.objects.get(pk=rule.pk).threshold == 4


def test_a_rule_page_links_to_its_versions(admin_client, rule):
    page = admin_client.get(f"/admin/alerts/alertrule/{rule.pk}/change/").content.decode()
    link = f"/admin/opsconsole/configversion/?section=rules&amp;object_key={rule.pk}"
    assert link in page
    listing = admin_client.get(link.replace("&amp;", "&")).content.decode()
    assert "1 configuration version" in listing

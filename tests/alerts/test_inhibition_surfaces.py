"""Inhibition rules in the admin, the API and configuration files, and inhibited alerts on
the console's pages."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from alerts import pipeline
from alerts.models import InhibitionRule
from alerts.service import Alert as AlertSpec

pytestmark = pytest.mark.django_db

RULE = {
    "name": "critical beats warning",
    "source_matchers": [{"field": "severity", "op": "eq", "value": "critical"}],
    "target_matchers": [{"field": "severity", "op": "regex", "value": "warning|info"}],
    "equal": ["resource"],
}


def fire(title: str, severity: str, resource: str = "db-01"):
    return pipeline.raise_alert(
        AlertSpec(
            alert_type=title.lower().replace(" ", "_"),
            title=title,
            message=title,
            priority=severity,
            resource=resource,
        )
    )


# -- API ---------------------------------------------------------------------------------------
def test_the_api_creates_reads_changes_and_deletes_a_rule(api_client, token_for, alice):
    admin = api_client(token_for(alice, "read,write"))
    created = admin.post("/inhibitions", RULE)
    assert created.status_code == 201, created.content
    rule = created.json()
    assert rule["target_matchers"] == RULE["target_matchers"] and rule["enabled"] is True
    assert admin.get(f"/inhibitions/{rule['id']}").json()["equal"] == ["resource"]
    changed = admin.client_patch(f"/inhibitions/{rule['id']}", {"enabled": False})
    assert changed.json()["enabled"] is False
    assert changed.json()["source_matchers"] == RULE["source_matchers"]
    assert admin.get("/inhibitions", {"enabled": "false"}).json()[0]["name"] == RULE["name"]
    assert admin.client_delete(f"/inhibitions/{rule['id']}").status_code == 204
    assert admin.get(f"/inhibitions/{rule['id']}").status_code == 404


@pytest.mark.parametrize(
    "change, message",
    [
        ({"source_matchers": []}, "source_matchers: Give at least one matcher"),
        (
            {"source_matchers": [{"field": "colour", "value": "red"}]},
            "unknown field 'colour'",
        ),
        (
            {"target_matchers": [{"field": "resource", "op": "regex", "value": "(a)\\1"}]},
            "target_matchers: Matcher 1:",
        ),
        ({"equal": ["nothing"]}, "equal: unknown field 'nothing'"),
    ],
)
def test_the_api_refuses_bad_rules_with_the_reason(api_client, token_for, alice, change, message):
    response = api_client(token_for(alice, "read,write")).post("/inhibitions", {**RULE, **change})
    assert response.status_code == 422
    assert message in response.json()["detail"]


def test_the_api_refuses_an_op_it_does_not_know_and_an_unknown_field_on_patch(
    api_client, token_for, alice
):
    admin = api_client(token_for(alice, "read,write"))
    bad_op = {**RULE, "source_matchers": [{"field": "severity", "op": "ne", "value": "x"}]}
    assert admin.post("/inhibitions", bad_op).status_code == 422
    rule = InhibitionRule.objects.create(**RULE)
    response = admin.client_patch(f"/inhibitions/{rule.pk}", {"colour": "red"})
    assert response.status_code == 422
    assert "colour: Extra inputs are not permitted" in response.json()["detail"]


def test_only_admins_change_rules_and_viewers_read_them(api_client, token_for, bob, carol):
    InhibitionRule.objects.create(**RULE)
    assert api_client(token_for(bob, "read,write")).post("/inhibitions", RULE).status_code == 403
    assert len(api_client(token_for(carol, "read")).get("/inhibitions").json()) == 1


# -- admin -------------------------------------------------------------------------------------
def test_the_admin_edits_matchers_as_lines_and_refuses_a_bad_one(admin_client):
    response = admin_client.post(
        "/admin/alerts/inhibitionrule/add/",
        {
            "name": "db beats web",
            "enabled": "on",
            "source_matchers": "alert_type = db_down\nlabel:team =~ db|data",
            "target_matchers": "",
            "equal": "resource, label:zone",
        },
    )
    assert response.status_code == 302, response.content
    rule = InhibitionRule.objects.get(name="db beats web")
    assert rule.source_matchers == [
        {"field": "alert_type", "op": "eq", "value": "db_down"},
        {"field": "label:team", "op": "regex", "value": "db|data"},
    ]
    assert (rule.target_matchers, rule.equal) == ([], ["resource", "label:zone"])
    page = admin_client.get(f"/admin/alerts/inhibitionrule/{rule.pk}/change/")
    assert b"alert_type = db_down\nlabel:team =~ db|data" in page.content
    refused = admin_client.post(
        "/admin/alerts/inhibitionrule/add/",
        {"name": "bad", "source_matchers": "severity is critical", "equal": ""},
    )
    assert refused.status_code == 200
    assert "is not &#x27;field = value&#x27;" in refused.content.decode()


def test_the_admin_list_counts_what_each_rule_holds_back_now(admin_client):
    rule = InhibitionRule.objects.create(**RULE)
    InhibitionRule.objects.create(**{**RULE, "name": "idle", "enabled": False})
    fire("Disk full", "critical")
    fire("High CPU", "warning")
    page = admin_client.get("/admin/alerts/inhibitionrule/?holding=yes").content.decode()
    assert "critical beats warning" in page and "idle" not in page
    assert f"/admin/alerts/inhibitionrule/{rule.pk}/change/" in page
    assert '<td class="field-holding">1</td>' in page


# -- configuration as code ------------------------------------------------------------------
FILE = """\
version: 1
inhibitions:
  - name: critical beats warning
    source_matchers: [{field: severity, value: critical}]
    target_matchers: [{field: severity, op: regex, value: warning|info}]
    equal: [resource]
"""


def _import(tmp_path, text: str, *options) -> str:
    path = tmp_path / "ops.yaml"
    path.write_text(text)
    out = io.StringIO()
    call_command("import_config", str(path), *options, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_a_file_creates_the_rule_and_a_second_import_changes_nothing(tmp_path):
    _import(tmp_path, FILE)
    rule = InhibitionRule.objects.get()
    assert rule.source_matchers == [{"field": "severity", "op": "eq", "value": "critical"}]
    before = rule.updated
    _import(tmp_path, FILE)
    assert InhibitionRule.objects.get().updated == before
    out = io.StringIO()
    call_command("export_config", stdout=out)
    assert "critical beats warning" in out.getvalue()
    # What the export writes, imported, changes nothing.
    _import(tmp_path, out.getvalue())
    assert InhibitionRule.objects.get().updated == before


def test_a_bad_rule_in_a_file_is_refused_at_its_line(tmp_path):
    path = tmp_path / "ops.yaml"
    path.write_text(FILE.replace("equal: [resource]", "equal: [nothing]"))
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_config", str(path), stdout=io.StringIO(), stderr=err)
    assert "ops.yaml:6: inhibition rule 'critical beats warning': equal:" in err.getvalue()
    assert not InhibitionRule.objects.exists()


def test_prune_deletes_the_rules_the_file_leaves_out(tmp_path):
    InhibitionRule.objects.create(**{**RULE, "name": "old"})
    _import(tmp_path, FILE, "--prune")
    assert list(InhibitionRule.objects.values_list("name", flat=True)) == [RULE["name"]]


# -- pages ------------------------------------------------------------------------------------
def test_an_inhibited_alerts_page_names_and_links_its_source(client, carol):
    InhibitionRule.objects.create(**RULE)
    disk = fire("Disk full", "critical")
    cpu = fire("High CPU", "warning")
    client.force_login(carol)
    page = client.get(f"/alerts/{cpu.pk}/").content.decode()
    assert "Inhibited by" in page
    assert f'<a href="/alerts/{disk.pk}/">alert #{disk.pk} (Disk full)</a>' in page
    assert "via rule \u2018critical beats warning\u2019" in page
    assert "<dt>Held back</dt>" not in page  # the banner says it once
    # The timeline entry links the source too.
    assert f'<a href="/alerts/{disk.pk}/">open alert #{disk.pk}</a>' in page
    listing = client.get("/alerts/?status=suppressed").content.decode()
    assert f'inhibited by <a href="/alerts/{disk.pk}/">#{disk.pk}</a>' in listing


def test_a_page_of_an_alert_that_is_not_inhibited_shows_no_banner(client, carol):
    alert = fire("High CPU", "warning")
    client.force_login(carol)
    assert "Inhibited by" not in client.get(f"/alerts/{alert.pk}/").content.decode()

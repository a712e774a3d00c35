"""Every edit path records exactly one version per change of a versioned item, and
none for a save that changes nothing: the admin (forms, bulk actions, the changelist's
inline edits, deletes), the API, configuration files, rule templates and rollbacks."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from alerts.models import AlertRule
from notifications.models import RoutingRule
from opsconsole import versions
from opsconsole.models import ConfigVersion
from tests.alerts.test_admin import _rule
from tests.integration.test_notification_config import _routing_form

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(alice, token_for, api_client):
    return api_client(token_for(alice, "read,write"))


def counted(section: str) -> int:
    return ConfigVersion.objects.filter(section=section).count()


def latest(section: str) -> ConfigVersion | None:
    return ConfigVersion.objects.filter(section=section).order_by("-id").first()


class Recorded:
    """How many versions a step adds, and the last one's source."""

    def __init__(self, section: str):
        self.section = section

    def __enter__(self):
        self.before = counted(self.section)
        return self

    def __exit__(self, *exc):
        self.added = counted(self.section) - self.before
        self._last = latest(self.section)

    @property
    def last(self) -> ConfigVersion:
        """The section's newest version once the step is done."""
        assert self._last is not None, f"{self.section} has no version"
        return self._last


def import_file(tmp_path, text: str, *extra: str) -> None:
    path = tmp_path / "ops.yaml"
    path.write_text(text)
    call_command("import_config", str(path), "--actor", "ci", *extra, stdout=io.StringIO())


# -- alert rules ---------------------------------------------------------------------------
@pytest.fixture
def rule(admin_client):
    assert admin_client.post("/admin/alerts/alertrule/add/", _rule()).status_code == 302
    return AlertRule.objects.get(name="CPU high")


def test_it_records_one_version_per_admin_form_save(admin_client, rule):
    with Recorded("rules") as step:
        admin_client.post(f"/admin/alerts/alertrule/{rule.pk}/change/", _rule(threshold="85"))
    assert (step.added, step.last.source, step.last.actor) == (1, "admin", "alice")
    with Recorded("rules") as step:
        admin_client.post(f"/admin/alerts/alertrule/{rule.pk}/change/", _rule(threshold="85"))
    assert step.added == 0


def test_it_records_one_version_per_rule_a_bulk_action_changes(admin_client, rule):
    other = AlertRule.objects.create(name="Disk", metric="disk_usage_percent", enabled=False)
    with Recorded("rules") as step:
        admin_client.post(
            "/admin/alerts/alertrule/",
            {"action": "enable", "_selected_action": [rule.pk, other.pk]},
        )
    # The rule already enabled did not change; the other gets its baseline and its edit.
    assert step.added == 2
    history = ConfigVersion.objects.filter(object_key=str(other.pk)).order_by("number")
    assert [v.source for v in history] == [
        "baseline",
        "admin",
    ]


def test_it_records_one_version_per_admin_delete(admin_client, rule):
    with Recorded("rules") as step:
        admin_client.post(f"/admin/alerts/alertrule/{rule.pk}/delete/", {"post": "yes"})
    assert step.added == 1 and step.last.snapshot is None


def test_it_records_one_version_per_api_change(api):
    with Recorded("rules") as step:
        created = api.post(
            "/alert-rules", {"name": "Load", "metric": "cpu_usage_percent", "threshold": 4}
        )
    assert created.status_code == 201 and step.added == 1, created.content
    rule_id = created.json()["id"]
    with Recorded("rules") as step:
        api.client_patch(f"/alert-rules/{rule_id}", {"threshold": 6})
    assert (step.added, step.last.changes) == (1, {"threshold": [4, 6]})
    with Recorded("rules") as step:
        api.client_patch(f"/alert-rules/{rule_id}", {"threshold": 6})
    assert step.added == 0
    with Recorded("rules") as step:
        api.client_delete(f"/alert-rules/{rule_id}")
    assert step.added == 1 and step.last.snapshot is None


def test_a_refused_api_change_records_nothing(api, rule):
    with Recorded("rules") as step:
        response = api.client_patch(f"/alert-rules/{rule.pk}", {"window_seconds": 1})
    assert response.status_code == 422 and step.added == 0


def test_it_records_one_version_per_imported_change(tmp_path, admin_client, rule):
    text = "rules:\n  - name: CPU high\n    metric: cpu_usage_percent\n    threshold: {}\n"
    with Recorded("rules") as step:
        import_file(tmp_path, text.format(90))
    assert (step.added, step.last.source, step.last.actor) == (1, "import", "ci")
    with Recorded("rules") as step:
        import_file(tmp_path, text.format(90))
    assert step.added == 0


def test_it_records_one_version_when_a_template_is_enabled(admin_client):
    with Recorded("rules") as step:
        admin_client.post("/admin/alerts/alertrule/templates/", {"template": "leverage"})
    assert (step.added, step.last.source) == (1, "template")


def test_a_rollback_is_one_version(admin_client, rule):
    admin_client.post(f"/admin/alerts/alertrule/{rule.pk}/change/", _rule(threshold="85"))
    first = ConfigVersion.objects.filter(section="rules", number=1).get()
    with Recorded("rules") as step:
        versions.roll_back(first, actor="alice")
    assert (step.added, step.last.source, step.last.changes) == (
        1,
        "rollback",
        {"threshold": [85, 80]},
    )


# -- routing rules -------------------------------------------------------------------------
@pytest.fixture
def route(admin_client):
    assert (
        admin_client.post("/admin/notifications/routingrule/add/", _routing_form()).status_code
        == 302
    )
    return RoutingRule.objects.get(name="db team")


def test_it_records_one_routing_version_per_admin_form_save(admin_client, route):
    url = f"/admin/notifications/routingrule/{route.pk}/change/"
    with Recorded("routing") as step:
        admin_client.post(url, _routing_form(severities=["critical", "error"]))
    assert (step.added, step.last.source) == (1, "admin")
    with Recorded("routing") as step:
        admin_client.post(url, _routing_form(severities=["critical", "error"]))
    assert step.added == 0


def test_it_records_one_routing_version_per_changelist_edit(admin_client, route):
    with Recorded("routing") as step:
        response = admin_client.post(
            "/admin/notifications/routingrule/",
            {
                "form-TOTAL_FORMS": "1",
                "form-INITIAL_FORMS": "1",
                "form-0-id": str(route.pk),
                "form-0-position": "7",
                "form-0-enabled": "on",
                "_save": "Save",
            },
        )
    assert response.status_code == 302
    assert (step.added, step.last.changes) == (1, {"position": [100, 7]})


def test_it_records_one_routing_version_per_admin_delete(admin_client, route):
    with Recorded("routing") as step:
        admin_client.post(f"/admin/notifications/routingrule/{route.pk}/delete/", {"post": "yes"})
    assert step.added == 1 and step.last.snapshot is None


def test_it_records_one_routing_version_per_api_change(api):
    with Recorded("routing") as step:
        created = api.post("/routing-rules", {"name": "pages", "severities": ["critical"]})
    assert created.status_code == 201 and step.added == 1
    rule_id = created.json()["id"]
    with Recorded("routing") as step:
        api.client_patch(f"/routing-rules/{rule_id}", {"position": 5})
    assert step.added == 1
    with Recorded("routing") as step:
        api.client_delete(f"/routing-rules/{rule_id}")
    assert step.added == 1 and step.last.snapshot is None


def test_it_records_one_routing_version_per_imported_change(tmp_path, admin_client, route):
    text = "routing:\n  - name: db team\n    severities: [{}]\n"
    with Recorded("routing") as step:
        import_file(tmp_path, text.format("error"))
    assert (step.added, step.last.source) == (1, "import")
    with Recorded("routing") as step:
        import_file(tmp_path, text.format("error"))
    assert step.added == 0

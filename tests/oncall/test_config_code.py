"""Schedules and escalation policies in configuration files: exported, imported with
line-numbered errors, a policy naming a schedule the same file creates, and applying
an export again changing nothing."""

from __future__ import annotations

import io

import pytest
import yaml
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from oncall.models import EscalationPolicy, Schedule

pytestmark = pytest.mark.django_db

DOCUMENT = """\
version: 1
routing:
  - name: to people
    group_by: ["..."]
schedules:
  - name: Primary
    time_zone: Europe/Berlin
    rotations:
      - name: weekly
        start_date: 2026-01-05
        handoff_time: 09:30
        participants: [ann, ben]
escalation_policies:
  - name: Default
    repeat: 1
    routing_rules: [to people]
    steps:
      - action: schedule
        schedule: Primary
        wait_minutes: 10
      - action: person
        person: ben
"""


def _import(tmp_path, text: str, *options) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    out = io.StringIO()
    call_command("import_config", str(path), *options, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.fixture
def crew(db):
    return [User.objects.create_user(name) for name in ("ann", "ben")]


def test_a_file_creates_a_schedule_and_a_policy_that_uses_it(tmp_path, crew):
    _import(tmp_path, DOCUMENT)
    schedule = Schedule.objects.get(name="Primary")
    rotation = schedule.rotations.get()
    assert rotation.handoff_time.strftime("%H:%M") == "09:30"  # YAML's 09:30 is 570
    policy = EscalationPolicy.objects.get(name="Default")
    assert [s.action for s in policy.steps.all()] == ["schedule", "person"]
    assert [r.name for r in policy.routing_rules.all()] == ["to people"]
    # The lint ran: nobody in the schedule has a verified contact method.
    assert any("nobody would reach" in p for p in policy.problems)


def test_an_export_applied_again_changes_nothing(tmp_path, crew):
    _import(tmp_path, DOCUMENT)
    out = io.StringIO()
    call_command(
        "export_config", "--section", "schedules", "--section", "escalation_policies", stdout=out
    )
    exported = yaml.safe_load(out.getvalue())
    assert exported["schedules"][0]["rotations"][0]["participants"] == ["ann", "ben"]
    assert exported["escalation_policies"][0]["steps"][1] == {
        "action": "person",
        "person": "ben",
        "wait_minutes": 5,
    }
    again = _import(tmp_path, out.getvalue(), "--dry-run")
    assert "update" not in again and "create" not in again


def test_errors_name_their_line_and_change_nothing(tmp_path, crew):
    broken = DOCUMENT.replace("participants: [ann, ben]", "participants: [ann, nobody]")
    path = tmp_path / "broken.yaml"
    path.write_text(broken)
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_config", str(path), stdout=io.StringIO(), stderr=err)
    assert "broken.yaml:6: schedule 'Primary': no active user named nobody" in err.getvalue()
    assert not Schedule.objects.exists() and not EscalationPolicy.objects.exists()


def test_a_pruning_import_removes_what_the_file_no_longer_lists(tmp_path, crew):
    _import(tmp_path, DOCUMENT)
    kept = DOCUMENT.split("escalation_policies:")[0] + "escalation_policies: []\n"
    _import(tmp_path, kept, "--prune")
    assert not EscalationPolicy.objects.exists()
    assert Schedule.objects.filter(name="Primary").exists()

"""export_config / import_config: rules, silences and thresholds as YAML or JSON."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
import yaml
from django.core.management import CommandError, call_command
from django.utils import timezone

from alerts.models import AlertRule, Silence
from opsconsole import thresholds
from opsconsole.models import ConfigVersion

pytestmark = pytest.mark.django_db

RULES = """\
version: 1
rules:
  - name: High CPU usage
    metric: cpu_usage_percent
    threshold: 80
    severity: warning
  - name: Disk almost full
    metric: disk_usage_percent
    aggregation: max
    threshold: 95
    severity: critical
    for_seconds: 120
"""


def run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def import_text(tmp_path, text: str, *options, name: str = "ops.yaml") -> tuple[str, str]:
    path = tmp_path / name
    path.write_text(text)
    return run("import_config", str(path), *options)


def failing_import(tmp_path, text: str, *options, name: str = "ops.yaml") -> list[str]:
    path = tmp_path / name
    path.write_text(text)
    err = io.StringIO()
    with pytest.raises(CommandError, match="nothing was changed"):
        call_command("import_config", str(path), *options, stdout=io.StringIO(), stderr=err)
    return err.getvalue().splitlines()


def test_it_creates_the_rules_a_file_lists(tmp_path):
    out, _ = import_text(tmp_path, RULES)
    disk = AlertRule.objects.get(name="Disk almost full")
    assert (disk.threshold, disk.severity, disk.for_seconds) == (95, "critical", 120)
    assert "+ create 'High CPU usage'" in out and "applied 2 change(s)" in out


def test_importing_the_same_file_twice_changes_nothing_the_second_time(tmp_path):
    import_text(tmp_path, RULES)
    out, _ = import_text(tmp_path, RULES)
    assert "rules: no changes" in out and "applied 0 change(s)" in out
    assert ConfigVersion.objects.count() == 2


def test_a_dry_run_shows_the_diff_and_changes_nothing(tmp_path):
    import_text(tmp_path, RULES)
    out, _ = import_text(tmp_path, RULES.replace("threshold: 80", "threshold: 85"), "--dry-run")
    assert "~ update 'High CPU usage'" in out and "threshold: 80 -> 85" in out
    assert "dry run: 1 change(s) not applied" in out
    assert AlertRule.objects.get(name="High CPU usage").threshold == 80


def test_export_then_import_is_a_no_op(tmp_path):
    import_text(tmp_path, RULES)
    Silence.objects.create(
        matchers=[{"field": "resource", "op": "eq", "value": "db-01"}],
        starts_at=timezone.now(),
        ends_at=timezone.now() + timedelta(hours=2),
        comment="patching db-01",
    )
    exported, _ = run("export_config")
    out, _ = import_text(tmp_path, exported)
    assert "applied 0 change(s)" in out


def test_export_writes_json_too(tmp_path):
    import_text(tmp_path, RULES)
    target = tmp_path / "config.json"
    run("export_config", "--output", str(target))
    document = json.loads(target.read_text())
    assert [rule["name"] for rule in document["rules"]] == ["Disk almost full", "High CPU usage"]


def test_export_leaves_out_fields_at_their_defaults(tmp_path):
    import_text(tmp_path, RULES)
    exported = yaml.safe_load(run("export_config", "--section", "rules")[0])
    cpu = next(rule for rule in exported["rules"] if rule["name"] == "High CPU usage")
    assert cpu == {
        "name": "High CPU usage",
        "kind": "system_metric",
        "metric": "cpu_usage_percent",
        "threshold": 80,
    }


def test_an_invalid_rule_is_reported_at_its_line_and_nothing_is_stored(tmp_path):
    broken = RULES.replace("    aggregation: max\n", "    aggregation: median\n")
    lines = failing_import(tmp_path, broken)
    assert lines[0].endswith(
        "ops.yaml:9: rule 'Disk almost full': aggregation: "
        "Select a valid choice. median is not one of the available choices."
    )
    assert AlertRule.objects.count() == 0  # the valid rule on line 3 is not stored either


def test_an_unknown_field_is_reported_at_its_own_line(tmp_path):
    lines = failing_import(tmp_path, RULES.replace("    for_seconds: 120\n", "    for_secs: 120\n"))
    assert lines == [f"{tmp_path}/ops.yaml:12: rule 'Disk almost full': unknown field 'for_secs'"]


def test_a_duplicate_rule_name_names_both_lines(tmp_path):
    lines = failing_import(tmp_path, RULES.replace("Disk almost full", "High CPU usage"))
    assert lines == [
        f"{tmp_path}/ops.yaml:7: rule 'High CPU usage' appears twice (first on line 3)"
    ]


def test_a_json_file_gets_line_accurate_errors_too(tmp_path):
    text = (
        '{\n  "version": 1,\n  "rules": [\n'
        '    {"name": "ok", "metric": "load_1m", "threshold": 4},\n'
        '    {"name": "bad", "metric": "load_1m", "threshold": "high"}\n  ]\n}\n'
    )
    lines = failing_import(tmp_path, text, name="ops.json")
    assert lines[0] == f"{tmp_path}/ops.json:5: rule 'bad': threshold: Enter a number."
    assert all(line.startswith(f"{tmp_path}/ops.json:5: ") for line in lines)


def test_a_syntax_error_names_its_line(tmp_path):
    lines = failing_import(tmp_path, "version: 1\nrules:\n  - name: [unclosed\n")
    assert len(lines) == 1 and lines[0].startswith(f"{tmp_path}/ops.yaml:4: not valid YAML")


def test_an_unknown_section_is_refused_at_its_line(tmp_path):
    lines = failing_import(tmp_path, "version: 1\nchanels: []\n")
    assert lines[0].startswith(f"{tmp_path}/ops.yaml:2: unknown section 'chanels'")


def test_an_inline_secret_is_refused_and_a_reference_accepted(tmp_path):
    text = RULES.replace(
        "    severity: warning\n", "    severity: warning\n    labels: {api_token: abc123}\n"
    )
    lines = failing_import(tmp_path, text)
    assert lines == [
        f"{tmp_path}/ops.yaml:7: api_token holds a secret inline; write a reference to an "
        "environment variable instead, like ${API_TOKEN}"
    ]
    import_text(tmp_path, text.replace("abc123", "'${OPS_API_TOKEN}'"))
    assert AlertRule.objects.get(name="High CPU usage").labels == {"api_token": "${OPS_API_TOKEN}"}


def test_prune_deletes_the_rules_the_file_leaves_out(tmp_path):
    import_text(tmp_path, RULES)
    only_cpu = RULES.split("  - name: Disk almost full")[0]
    out, _ = import_text(tmp_path, only_cpu)
    assert AlertRule.objects.count() == 2  # without --prune nothing is deleted
    out, _ = import_text(tmp_path, only_cpu, "--prune")
    assert "- delete 'Disk almost full'" in out
    assert list(AlertRule.objects.values_list("name", flat=True)) == ["High CPU usage"]


def test_thresholds_change_what_the_gauges_call_critical(tmp_path, settings):
    settings.CPU_ALERT_THRESHOLD = 80.0
    assert thresholds.current()["cpu"] == 80
    out, _ = import_text(tmp_path, "thresholds:\n  cpu: 70\n")
    assert "cpu" in out and "80 -> 70" in out
    assert thresholds.current()["cpu"] == 70


def test_a_bad_threshold_is_refused_at_its_line(tmp_path):
    lines = failing_import(tmp_path, "thresholds:\n  cpu: 70\n  gpu: 10\n  disk: lots\n")
    assert lines == [
        f"{tmp_path}/ops.yaml:3: unknown threshold 'gpu' (known: cpu, memory, disk, "
        "response_time_ms)",
        f"{tmp_path}/ops.yaml:4: threshold disk must be a number >= 0",
    ]


def test_silences_are_created_once_and_their_comment_updated(tmp_path):
    text = (
        "silences:\n"
        "  - matchers: [{field: resource, op: eq, value: db-01}]\n"
        "    starts_at: 2030-01-01T22:00:00Z\n"
        "    ends_at: 2030-01-02T02:00:00Z\n"
        "    comment: patching\n"
    )
    import_text(tmp_path, text)
    import_text(tmp_path, text)
    assert Silence.objects.count() == 1
    out, _ = import_text(tmp_path, text.replace("patching", "kernel upgrade"))
    assert 'comment: "patching" -> "kernel upgrade"' in out
    assert Silence.objects.get().comment == "kernel upgrade"


def test_a_silence_ending_before_it_starts_is_refused_at_its_line(tmp_path):
    text = (
        "silences:\n"
        "  - matchers: [{field: resource, value: db-01}]\n"
        "    starts_at: 2030-01-02T00:00:00Z\n"
        "    ends_at: 2030-01-01T00:00:00Z\n"
    )
    lines = failing_import(tmp_path, text)
    assert lines == [
        f"{tmp_path}/ops.yaml:4: silence on line 2: ends_at: A silence must end after it starts."
    ]


def test_an_unreadable_file_is_one_readable_error(tmp_path):
    with pytest.raises(CommandError, match="cannot read"):
        call_command("import_config", str(tmp_path / "missing.yaml"))


def test_removing_a_threshold_in_the_admin_returns_to_the_environment(
    tmp_path, settings, client, alice
):
    from opsconsole.bootstrap import load_defaults

    settings.MEMORY_ALERT_THRESHOLD = 85.0
    import_text(tmp_path, "thresholds:\n  memory: 60\n")
    assert thresholds.current()["memory"] == 60
    load_defaults()
    client.force_login(alice)
    client.post("/admin/opsconsole/thresholdsetting/memory/delete/", {"post": "yes"})
    assert thresholds.current()["memory"] == 85


def test_references_resolve_from_the_environment_where_they_are_used():
    from opsconsole.configcode import resolve_references

    environ = {"SLACK_WEBHOOK_URL": "https://hooks.example/abc"}
    assert resolve_references("${SLACK_WEBHOOK_URL}", environ) == "https://hooks.example/abc"
    with pytest.raises(KeyError, match="PAGERDUTY_KEY"):
        resolve_references("${PAGERDUTY_KEY}", environ)


def test_a_section_of_the_wrong_shape_is_reported_at_its_key(tmp_path):
    lines = failing_import(tmp_path, "version: 1\n\nrules:\nthresholds: 80\n")
    assert lines == [
        f"{tmp_path}/ops.yaml:3: rules must be a list",
        f"{tmp_path}/ops.yaml:4: thresholds must be a mapping of numbers",
    ]

"""Inhibition: while a source alert is open, matching target alerts that share its
``equal`` fields are stored, shown and not sent; they are sent when it closes if they are
still open."""

from __future__ import annotations

import pytest
from django.db import connection

from alerts import inhibition, pipeline
from alerts.constants import INHIBITION_ACTOR, EventKind, Status
from alerts.models import Alert, AlertRule, InhibitionRule
from alerts.service import Alert as AlertSpec
from alerts.service import AlertService
from notifications.models import Notification, NotificationChannel, RoutingRule

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def board(db):
    """Every alert routed to one dashboard channel, so 'sent' is an outbox row."""
    RoutingRule.objects.create(
        name="everything", all_channels=True, group_by=["..."], group_wait=0, group_interval=0
    )
    return NotificationChannel.objects.create(
        name="board", kind="dashboard", rate_limit_per_minute=0
    )


def critical_beats_warning(**fields) -> InhibitionRule:
    return InhibitionRule.objects.create(
        **{
            "name": "critical beats warning",
            "source_matchers": [{"field": "severity", "op": "eq", "value": "critical"}],
            "target_matchers": [{"field": "severity", "op": "regex", "value": "warning|info"}],
            "equal": ["resource"],
            **fields,
        }
    )


def fire(title: str, severity: str, resource: str = "db-01", **fields) -> Alert:
    return pipeline.raise_alert(
        AlertSpec(
            alert_type=fields.pop("alert_type", title.lower().replace(" ", "_")),
            title=title,
            message=f"{title} on {resource}",
            priority=severity,
            resource=resource,
            **fields,
        )
    )


def sent(alert: Alert) -> int:
    return Notification.objects.filter(alert=alert).count()


def test_it_holds_a_target_raised_while_its_source_is_open_and_says_by_what():
    rule = critical_beats_warning()
    disk = fire("Disk full", "critical")
    cpu = fire("High CPU", "warning")
    cpu.refresh_from_db()
    assert cpu.status == Status.SUPPRESSED
    assert cpu.suppressed_by == INHIBITION_ACTOR
    assert cpu.inhibited_by_id == disk.pk
    expected = f"inhibited by alert #{disk.pk} (Disk full) via rule 'critical beats warning'"
    assert cpu.suppressed_reason == expected
    event = cpu.events.get(kind=EventKind.SILENCED)
    assert event.reason == expected
    assert event.data["inhibited_by"] == disk.pk
    assert event.data["rule"] == rule.pk
    assert event.data["rule_name"] == "critical beats warning"
    assert sent(cpu) == 0
    assert sent(disk) == 1


def test_without_a_rule_both_alerts_are_sent():
    disk = fire("Disk full", "critical")
    cpu = fire("High CPU", "warning")
    assert cpu.status == Status.ACTIVE
    assert (sent(disk), sent(cpu)) == (1, 1)


def test_a_disabled_rule_holds_nothing():
    critical_beats_warning(enabled=False)
    fire("Disk full", "critical")
    assert fire("High CPU", "warning").status == Status.ACTIVE


def test_only_alerts_sharing_the_equal_fields_are_held():
    critical_beats_warning()
    fire("Disk full", "critical", resource="db-01")
    assert fire("High CPU", "warning", resource="web-01").status == Status.ACTIVE


def test_an_equal_field_empty_on_both_alerts_matches_nothing():
    critical_beats_warning()
    fire("Disk full", "critical", resource="")
    assert fire("High CPU", "warning", resource="").status == Status.ACTIVE


def test_an_equal_label_must_be_set_on_both_with_the_same_value():
    critical_beats_warning(equal=["resource", "label:mount"])
    fire("Disk full", "critical", labels={"mount": "/data"})
    assert fire("Disk slow", "warning", labels={"mount": "/"}).status == Status.ACTIVE
    assert fire("Disk busy", "warning", labels={"mount": "/data"}).status == Status.SUPPRESSED
    assert fire("No mount", "warning").status == Status.ACTIVE


def test_an_alert_never_inhibits_itself():
    # Every critical alert is both a source and a target of this rule.
    critical_beats_warning(target_matchers=[], equal=["resource"])
    first = fire("Disk full", "critical")
    assert first.status == Status.ACTIVE
    pipeline.reapply_policies()
    first.refresh_from_db()
    assert first.status == Status.ACTIVE
    # Another critical of the same resource is held by the first, not the reverse.
    second = fire("Disk slow", "critical")
    assert second.status == Status.SUPPRESSED
    assert second.inhibited_by_id == first.pk


def test_a_repeat_that_escalates_is_not_held_by_itself():
    critical_beats_warning(target_matchers=[])
    fire("Disk full", "warning")
    escalated = fire("Disk full", "critical")
    assert escalated.status == Status.ACTIVE


def test_two_alerts_that_match_each_others_rules_do_not_silence_each_other():
    InhibitionRule.objects.create(
        name="db beats web",
        source_matchers=[{"field": "alert_type", "op": "eq", "value": "db_down"}],
        target_matchers=[{"field": "alert_type", "op": "eq", "value": "web_down"}],
    )
    InhibitionRule.objects.create(
        name="web beats db",
        source_matchers=[{"field": "alert_type", "op": "eq", "value": "web_down"}],
        target_matchers=[{"field": "alert_type", "op": "eq", "value": "db_down"}],
    )
    db = fire("DB down", "error", alert_type="db_down")
    web = fire("Web down", "error", alert_type="web_down")
    assert (db.status, web.status) == (Status.ACTIVE, Status.SUPPRESSED)
    pipeline.reapply_policies()
    db.refresh_from_db()
    web.refresh_from_db()
    assert (db.status, web.status) == (Status.ACTIVE, Status.SUPPRESSED)


def test_when_both_were_already_active_the_older_one_keeps_paging():
    db = fire("DB down", "error", alert_type="db_down")
    web = fire("Web down", "error", alert_type="web_down")
    InhibitionRule.objects.create(
        name="web beats db",
        source_matchers=[{"field": "alert_type", "op": "eq", "value": "web_down"}],
        target_matchers=[{"field": "alert_type", "op": "eq", "value": "db_down"}],
    )
    InhibitionRule.objects.create(
        name="db beats web",
        source_matchers=[{"field": "alert_type", "op": "eq", "value": "db_down"}],
        target_matchers=[{"field": "alert_type", "op": "eq", "value": "web_down"}],
    )
    assert pipeline.reapply_policies()["held"] == 1
    db.refresh_from_db()
    web.refresh_from_db()
    assert (db.status, web.status) == (Status.ACTIVE, Status.SUPPRESSED)


def test_an_inhibited_alert_does_not_inhibit_others():
    critical_beats_warning()
    InhibitionRule.objects.create(
        name="warning beats info",
        source_matchers=[{"field": "severity", "op": "eq", "value": "warning"}],
        target_matchers=[{"field": "severity", "op": "eq", "value": "info"}],
        equal=["resource"],
    )
    fire("Disk full", "critical", resource="db-01")
    warning = fire("High CPU", "warning", resource="db-01")
    assert warning.status == Status.SUPPRESSED
    # The info alert is held by the critical (its own rule), never by the held warning.
    info = fire("Backup late", "info", resource="db-01")
    assert info.inhibited_by_id != warning.pk


def test_a_source_opening_later_holds_the_targets_already_open_at_the_next_pass():
    critical_beats_warning()
    cpu = fire("High CPU", "warning")
    assert sent(cpu) == 1
    disk = fire("Disk full", "critical")
    assert pipeline.reapply_policies()["held"] == 1
    cpu.refresh_from_db()
    assert (cpu.status, cpu.inhibited_by_id) == (Status.SUPPRESSED, disk.pk)


def test_an_acknowledged_target_keeps_its_state():
    critical_beats_warning()
    cpu = fire("High CPU", "warning")
    AlertService().acknowledge_alert(cpu.pk, acknowledged_by="bob")
    fire("Disk full", "critical")
    assert pipeline.reapply_policies()["held"] == 0


def test_resolving_the_source_sends_its_targets_right_after_the_commit(
    django_capture_on_commit_callbacks,
):
    critical_beats_warning()
    with django_capture_on_commit_callbacks(execute=True):
        disk = fire("Disk full", "critical")
        cpu = fire("High CPU", "warning")
    assert sent(cpu) == 0
    with django_capture_on_commit_callbacks(execute=True):
        AlertService().resolve_alert(disk.pk, resolved_by="bob")
    cpu.refresh_from_db()
    assert (cpu.status, cpu.inhibited_by_id) == (Status.ACTIVE, None)
    assert cpu.events.filter(kind=EventKind.UNSUPPRESSED).count() == 1
    assert sent(cpu) == 1


def test_a_source_that_closes_lets_its_targets_go_at_the_next_pass_too():
    critical_beats_warning()
    disk = fire("Disk full", "critical")
    cpu = fire("High CPU", "warning")
    # Closed behind the pipeline's back (another process that died before its commit
    # hook ran): the pass finds it.
    Alert.objects.filter(pk=disk.pk).update(status=Status.RESOLVED)
    assert pipeline.reapply_policies()["released"] == 1
    cpu.refresh_from_db()
    assert cpu.status == Status.ACTIVE
    assert sent(cpu) == 1


def test_a_target_resolved_while_inhibited_is_never_sent(django_capture_on_commit_callbacks):
    critical_beats_warning()
    disk = fire("Disk full", "critical")
    cpu = fire("High CPU", "warning")
    AlertService().resolve_alert(cpu.pk, resolved_by="bob")
    with django_capture_on_commit_callbacks(execute=True):
        AlertService().resolve_alert(disk.pk, resolved_by="bob")
    cpu.refresh_from_db()
    assert cpu.status == Status.RESOLVED
    assert sent(cpu) == 0


def test_when_its_source_closes_another_open_source_keeps_holding_it_and_says_so(
    django_capture_on_commit_callbacks,
):
    critical_beats_warning()
    first = fire("Disk full", "critical")
    second = fire("Replication broken", "critical")
    cpu = fire("High CPU", "warning")
    assert cpu.inhibited_by_id == first.pk
    with django_capture_on_commit_callbacks(execute=True):
        AlertService().resolve_alert(first.pk, resolved_by="bob")
    cpu.refresh_from_db()
    assert (cpu.status, cpu.inhibited_by_id) == (Status.SUPPRESSED, second.pk)
    note = cpu.events.last()
    assert note is not None and f"alert #{second.pk} (Replication broken)" in note.reason
    assert sent(cpu) == 0


def test_a_silenced_source_still_inhibits():
    from datetime import timedelta

    from django.utils import timezone

    from alerts.models import Silence

    critical_beats_warning()
    now = timezone.now()
    Silence.objects.create(
        matchers=[{"field": "alert_type", "op": "eq", "value": "disk_full"}],
        starts_at=now - timedelta(minutes=1),
        ends_at=now + timedelta(hours=1),
    )
    disk = fire("Disk full", "critical")
    assert disk.suppressed_by == "silence"
    assert fire("High CPU", "warning").inhibited_by_id == disk.pk


def test_the_chain_stops_at_an_inhibited_alert():
    # A holds B; B's rule would hold C, but B is held, so C is sent.
    InhibitionRule.objects.create(
        name="a beats b",
        source_matchers=[{"field": "alert_type", "op": "eq", "value": "a"}],
        target_matchers=[{"field": "alert_type", "op": "eq", "value": "b"}],
    )
    InhibitionRule.objects.create(
        name="b beats c",
        source_matchers=[{"field": "alert_type", "op": "eq", "value": "b"}],
        target_matchers=[{"field": "alert_type", "op": "eq", "value": "c"}],
    )
    c = fire("C", "error", alert_type="c")
    b = fire("B", "error", alert_type="b")
    a = fire("A", "error", alert_type="a")
    pipeline.reapply_policies()
    for alert in (a, b, c):
        alert.refresh_from_db()
    assert (a.status, b.status, c.status) == (Status.ACTIVE, Status.SUPPRESSED, Status.ACTIVE)
    assert c.events.filter(kind=EventKind.SILENCED).count() == 0


# -- the defaults -------------------------------------------------------------------------
def test_the_defaults_are_loaded_once_on_a_fresh_console():
    assert len(inhibition.load_default_rules()) == 2
    assert inhibition.load_default_rules() == []
    assert InhibitionRule.objects.filter(enabled=True).count() == 2


def test_the_default_holds_warnings_of_a_resource_with_a_critical_alert():
    inhibition.load_default_rules()
    fire("Disk full", "critical")
    assert fire("High CPU", "warning").status == Status.SUPPRESSED
    assert fire("Disk errors", "error").status == Status.ACTIVE


def test_the_default_holds_every_other_alert_of_a_host_that_stopped_reporting():
    inhibition.load_default_rules()
    absence = AlertRule.objects.create(
        name="Agent silent", kind=AlertRule.Kind.ABSENCE, metric="cpu_usage_percent"
    )
    silent = fire("Agent silent - db-01", "warning", alert_type=f"rule_{absence.pk}", rule=absence)
    assert silent.status == Status.ACTIVE
    held = fire("Disk full", "critical")
    assert held.inhibited_by_id == silent.pk
    assert "via rule 'A host not reporting holds back its other alerts'" in held.suppressed_reason
    assert fire("High CPU", "warning", resource="web-01").status == Status.ACTIVE


def test_a_no_data_alert_of_a_firing_rule_counts_as_the_host_not_reporting():
    inhibition.load_default_rules()
    rule = AlertRule.objects.create(name="High CPU", metric="cpu_usage_percent", threshold=90)
    no_data = fire(
        "No data: High CPU - db-01", "warning", alert_type=f"no_data_rule_{rule.pk}", rule=rule
    )
    assert fire("Memory high", "warning").inhibited_by_id == no_data.pk


# -- cost -----------------------------------------------------------------------------------
class Queries:
    """Every statement run while counting (no cap, unlike CaptureQueriesContext's 9,000)."""

    def __init__(self):
        self.statements: list[str] = []

    def __call__(self, execute, sql, params, many, context):
        self.statements.append(sql)
        return execute(sql, params, many, context)

    def naming(self, text: str) -> int:
        return sum(1 for sql in self.statements if text in sql)


def _storm(count: int) -> Queries:
    queries = Queries()
    with connection.execute_wrapper(queries):
        for n in range(count):
            fire(f"High CPU {n}", "warning", resource=f"host-{n % 200}")
    return queries


def test_a_storm_of_1000_alerts_costs_no_query_per_alert_for_inhibition(settings):
    settings.CONFIG_CACHE_SECONDS = 60
    inhibition.forget()
    baseline = len(_storm(1000).statements)  # no rule: the pipeline without inhibition
    Alert.objects.all().delete()
    Notification.objects.all().delete()
    critical_beats_warning()
    inhibition.load_default_rules()
    for n in range(0, 200, 2):
        fire(f"Disk full {n}", "critical", resource=f"host-{n}")
    inhibition.forget()
    storm = _storm(1000)
    # Half the hosts have a critical alert: their warnings are held (written as held,
    # with no outbox row), the others sent. The rules and sources are read once.
    assert Alert.objects.filter(suppressed_by=INHIBITION_ACTOR).count() == 500
    assert storm.naming("alerts_inhibitionrule") == 1
    # The candidate sources, read with their rule's kind.
    assert storm.naming('"alerts_alertrule"."kind"') <= 1
    assert len(storm.statements) <= baseline + 10


def test_a_pass_over_1000_open_alerts_reads_the_sources_once():
    critical_beats_warning()
    for n in range(1000):
        fire(f"High CPU {n}", "warning", resource=f"host-{n}")
    queries = Queries()
    with connection.execute_wrapper(queries):
        assert pipeline.reapply_policies() == {"released": 0, "held": 0}
    assert len(queries.statements) <= 6

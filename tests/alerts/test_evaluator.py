"""The evaluator over stored samples, with the clock in the test's hands."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command

from alerts.constants import EventKind, Status
from alerts.evaluator import evaluate
from alerts.models import Alert, AlertEvent, AlertRule, RuleState, Silence
from tests.metrics.helpers import store

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clock_in_the_tests_hands():
    """Evaluation after ingest would run at the real time; these tests set their own."""
    from alerts.apps import _evaluate_soon
    from metrics.signals import samples_ingested

    samples_ingested.disconnect(dispatch_uid="alerts.evaluate_after_ingest")
    yield
    samples_ingested.connect(_evaluate_soon, dispatch_uid="alerts.evaluate_after_ingest")


T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)


def _series(host, key, values, end, step=15):
    """Samples ending at ``end``, ``step`` seconds apart."""
    n = len(values)
    store(
        host,
        {key: [(end - timedelta(seconds=step * (n - 1 - i)), v) for i, v in enumerate(values)]},
    )


def _rule(**fields):
    defaults = {
        "name": "CPU high",
        "metric": "cpu_usage_percent",
        "threshold": 80,
        "window_seconds": 60,
        "for_seconds": 0,
        "cooldown_seconds": 0,
        "repeat_interval_seconds": 3600,
        "severity": "warning",
    }
    return AlertRule.objects.create(**{**defaults, **fields})


def _at(minutes):
    return T0 + timedelta(minutes=minutes)


def test_a_breach_fires_an_alert_that_says_what_where_and_why():
    rule = _rule()
    _series("web-01", "cpu_usage_percent", [90, 92, 94, 96], _at(0))
    result = evaluate(_at(0))
    assert result.fired == 1
    alert = Alert.objects.get()
    assert alert.rule == rule and alert.resource == "web-01" and alert.status == Status.ACTIVE
    assert alert.title == "CPU high - web-01"
    assert alert.message == "cpu_usage_percent average over 60 s is 93.0 % (> 80.0 %)"
    assert alert.value == pytest.approx(93)


def test_for_waits_before_firing_and_notes_the_pending_state():
    _rule(for_seconds=120)
    _series("web-01", "cpu_usage_percent", [95] * 5, _at(0))
    assert evaluate(_at(0)).pending == 1
    assert not Alert.objects.exists()
    assert AlertEvent.objects.filter(kind=EventKind.PENDING).exists()
    _series("web-01", "cpu_usage_percent", [95] * 5, _at(1))
    evaluate(_at(1))
    assert not Alert.objects.exists(), "only a minute of the two"
    _series("web-01", "cpu_usage_percent", [95] * 5, _at(2))
    assert evaluate(_at(2)).fired == 1


def test_a_short_spike_inside_for_never_fires():
    _rule(for_seconds=120)
    _series("web-01", "cpu_usage_percent", [95] * 4, _at(0))
    evaluate(_at(0))
    _series("web-01", "cpu_usage_percent", [20] * 4, _at(1))
    evaluate(_at(1))
    _series("web-01", "cpu_usage_percent", [20] * 4, _at(3))
    evaluate(_at(3))
    assert not Alert.objects.exists()
    assert RuleState.objects.get().state == RuleState.State.OK


def test_hysteresis_keeps_it_firing_until_past_the_clear_threshold():
    _rule(clear_threshold=70)
    _series("web-01", "cpu_usage_percent", [90] * 4, _at(0))
    evaluate(_at(0))
    _series("web-01", "cpu_usage_percent", [75] * 4, _at(2))
    evaluate(_at(2))
    alert = Alert.objects.get()
    assert alert.status == Status.ACTIVE, "75 is below 80 but not below 70"
    _series("web-01", "cpu_usage_percent", [60] * 4, _at(4))
    assert evaluate(_at(4)).resolved == 1
    alert.refresh_from_db()
    assert alert.status == Status.RESOLVED and alert.resolved_by == "evaluator"
    assert alert.resolution_notes == "condition cleared: cpu_usage_percent is 60.0 %"


def test_a_lasting_breach_repeats_only_at_the_repeat_interval():
    _rule(repeat_interval_seconds=600)
    for minute in range(0, 12, 2):
        _series("web-01", "cpu_usage_percent", [90] * 4, _at(minute))
        evaluate(_at(minute))
    alert = Alert.objects.get()
    assert alert.notification_count == 2, "fired at 0, repeated at 10"


def test_cooldown_withholds_a_new_alert_and_says_so():
    _rule(cooldown_seconds=600)
    _series("web-01", "cpu_usage_percent", [90] * 4, _at(0))
    evaluate(_at(0))
    _series("web-01", "cpu_usage_percent", [10] * 4, _at(2))
    evaluate(_at(2))
    _series("web-01", "cpu_usage_percent", [90] * 4, _at(4))
    assert evaluate(_at(4)).withheld == 1
    assert Alert.objects.count() == 1
    note = AlertEvent.objects.get(kind=EventKind.COOLDOWN)
    assert "cooldown" in note.reason and note.rule is not None and note.rule.name == "CPU high"


def test_when_data_stops_a_firing_rule_raises_no_data_instead_of_resolving():
    _rule()
    _series("web-01", "cpu_usage_percent", [90] * 4, _at(0))
    evaluate(_at(0))
    assert evaluate(_at(5)).no_data == 1
    fired = Alert.objects.get(alert_type__startswith="rule_")
    assert fired.status == Status.ACTIVE, "no false resolve"
    silent = Alert.objects.get(alert_type__startswith="no_data_rule_")
    assert "sent nothing for 60 s" in silent.message
    # Data is back and healthy: both close.
    _series("web-01", "cpu_usage_percent", [10] * 4, _at(7))
    evaluate(_at(7))
    assert set(Alert.objects.values_list("status", flat=True)) == {Status.RESOLVED}


def test_a_matching_silence_suppresses_the_alert_and_the_timeline_says_which():
    _rule()
    silence = Silence.objects.create(
        matchers=[{"field": "resource", "op": "regex", "value": "web-0[1-3]"}],
        starts_at=_at(-10),
        ends_at=_at(60),
        comment="kernel upgrade",
    )
    _series("web-01", "cpu_usage_percent", [90] * 4, _at(0))
    evaluate(_at(0))
    alert = Alert.objects.get()
    assert alert.status == Status.SUPPRESSED
    event = alert.events.get(kind=EventKind.SILENCED)
    assert f"silence #{silence.pk}: kernel upgrade" in event.reason


def test_a_weekly_window_silences_only_inside_it():
    from alerts.silences import matching

    silence = Silence(
        matchers=[{"field": "severity", "value": "warning"}],
        starts_at=datetime(2026, 1, 1, tzinfo=UTC),
        ends_at=datetime(2027, 1, 1, tzinfo=UTC),
        recurrence={"weekdays": [5], "start": "22:00", "end": "02:00", "timezone": "UTC"},
    )
    fields = {"severity": "warning"}
    saturday_night = datetime(2026, 11, 21, 23, 0, tzinfo=UTC)  # a Saturday
    sunday_early = datetime(2026, 11, 22, 1, 30, tzinfo=UTC)
    sunday_night = datetime(2026, 11, 22, 23, 0, tzinfo=UTC)
    assert matching([silence], fields, saturday_night) is silence
    assert matching([silence], fields, sunday_early) is silence
    assert matching([silence], fields, sunday_night) is None


def test_flapping_is_held_open_then_resolves_once_it_settles():
    _rule(window_seconds=30)
    for minute in range(12):
        value = 90 if minute % 2 == 0 else 10
        _series("web-01", "cpu_usage_percent", [value] * 2, _at(minute))
        evaluate(_at(minute))
    assert Alert.objects.count() == 3, "fired at 0, 2 and 4; then held instead of cycling"
    assert AlertEvent.objects.filter(kind=EventKind.FLAPPING).count() == 1
    held = Alert.objects.get(status=Status.ACTIVE)
    assert held.events.filter(kind=EventKind.FLAPPING).exists()
    for minute in range(12, 16):
        _series("web-01", "cpu_usage_percent", [10] * 2, _at(minute))
        evaluate(_at(minute))
    held.refresh_from_db()
    assert held.status == Status.RESOLVED


def test_an_absence_rule_fires_for_a_host_that_went_quiet():
    _rule(name="web-02 silent", kind="absence", threshold=None, window_seconds=120)
    _series("web-01", "cpu_usage_percent", [10] * 4, _at(29))
    _series("web-02", "cpu_usage_percent", [10] * 4, _at(0))
    evaluate(_at(30))
    alert = Alert.objects.get()
    assert alert.resource == "web-02"
    assert alert.message == "No cpu_usage_percent from web-02 for 120 s"


def test_a_trend_rule_catches_steady_growth():
    _rule(
        name="Memory leak",
        kind="trend",
        metric="memory_used_bytes",
        threshold=100e6,
        window_seconds=3600,
    )
    # 1 GB growing by 5 MB a minute: 300 MB per hour.
    values = [1e9 + 5e6 * i for i in range(60)]
    _series("app-01", "memory_used_bytes", values, _at(0), step=60)
    evaluate(_at(0))
    alert = Alert.objects.get()
    assert alert.value == pytest.approx(300e6, rel=0.01)
    assert "growth per hour" in alert.message


def test_labels_select_series():
    _rule(
        name="Root full", metric='disk_usage_percent{mount="/"}', threshold=90, aggregation="last"
    )
    _series("db-01", 'disk_usage_percent{mount="/"}', [95], _at(0))
    _series("db-01", 'disk_usage_percent{mount="/data"}', [99], _at(0))
    evaluate(_at(0))
    alert = Alert.objects.get()
    assert alert.labels == {"series": 'disk_usage_percent{mount="/"}'}


def test_a_pass_reads_all_rules_with_a_few_queries(django_assert_max_num_queries):
    for n in range(20):
        _rule(name=f"rule {n}", threshold=1000 + n)
    for host in range(5):
        _series(f"host-{host}", "cpu_usage_percent", [10] * 4, _at(0))
    with django_assert_max_num_queries(12):
        result = evaluate(_at(0))
    assert result.rules == 20 and result.targets == 100


def test_fresh_samples_are_evaluated_right_after_ingest():
    from alerts.apps import _evaluate_soon
    from metrics.signals import samples_ingested

    samples_ingested.connect(_evaluate_soon, dispatch_uid="alerts.evaluate_after_ingest")
    _rule()
    now = datetime.now(UTC)
    _series("web-01", "cpu_usage_percent", [99] * 4, now)
    assert Alert.objects.filter(resource="web-01").exists()


def test_the_commands():
    _rule()
    _series("web-01", "cpu_usage_percent", [99] * 4, datetime.now(UTC))
    out = StringIO()
    call_command("evaluate_alerts", "--once", stdout=out)
    assert "1 rules over 1 targets" in out.getvalue()
    out = StringIO()
    call_command("send_test_alert", "--severity", "high", stdout=out)
    assert "Test alert (error)" in out.getvalue()


def test_rules_sharing_a_window_each_watch_only_their_own_metric():
    _rule(name="CPU high", metric="cpu_usage_percent", threshold=80)
    _rule(name="Disk full", metric="disk_usage_percent", threshold=90, aggregation="last")
    _series("web-01", "cpu_usage_percent", [99] * 4, _at(0))
    _series("web-01", 'disk_usage_percent{mount="/"}', [40] * 4, _at(0))
    evaluate(_at(0))
    alert = Alert.objects.get()
    assert alert.title == "CPU high - web-01"
    assert alert.labels == {"series": "cpu_usage_percent"}


@pytest.mark.parametrize("operator", ["gt", "gte", "lt", "lte", "eq", "ne"])
def test_grouped_thresholds_breach_exactly_as_rule_by_rule(operator):
    from alerts.evaluator import _breaches, _Group

    rules = [
        AlertRule(pk=n, name=f"r{n}", operator=operator, threshold=float(t))
        for n, t in enumerate([50, 10, 30, 30, 90, 70])
    ]
    group = _Group("avg", rules)
    for value in (0, 10, 29.9, 30, 30.1, 70, 95):
        expected = {r.pk for r in rules if _breaches(r, value)}
        assert {r.pk for r in group.breached(value)} == expected, (operator, value)


def test_an_edited_rule_is_read_anew_by_the_next_pass():
    rule = _rule(threshold=80)
    _series("web-01", "cpu_usage_percent", [90] * 4, _at(0))
    assert evaluate(_at(0)).fired == 1
    rule.threshold = 95
    rule.save()
    _series("web-01", "cpu_usage_percent", [90] * 4, _at(1))
    assert evaluate(_at(1)).resolved == 1


def _checks(endpoint, end, outcomes_and_times):
    from healthchecks.models import CheckResult

    n = len(outcomes_and_times)
    CheckResult.objects.bulk_create(
        CheckResult(
            endpoint=endpoint,
            time=end - timedelta(seconds=15 * (n - 1 - i)),
            outcome=outcome,
            response_ms=ms,
        )
        for i, (outcome, ms) in enumerate(outcomes_and_times)
    )


def test_a_service_rule_fires_on_slow_responses_and_resolves_when_they_recover():
    from healthchecks.models import ServiceEndpoint

    api = ServiceEndpoint.objects.create(name="orders-api", target="http://127.0.0.1:9/")
    ServiceEndpoint.objects.create(name="search", target="http://127.0.0.1:9/")
    rule = _rule(
        name="Orders API slow",
        kind="service_health",
        service="orders-api",
        metric="",
        threshold=800,
        window_seconds=60,
    )
    _checks(api, _at(0), [("ok", 900), ("slow", 1200), ("ok", 950), ("ok", 1000)])
    assert evaluate(_at(0)).fired == 1
    alert = Alert.objects.get(rule=rule)
    assert alert.resource == "orders-api"
    assert alert.message == "response_ms average over 60 s is 1.01 s (> 800.0 ms)"
    _checks(api, _at(2), [("ok", 120)] * 4)
    assert evaluate(_at(2)).resolved == 1


def test_a_service_rule_can_count_failed_checks_on_every_endpoint():
    from healthchecks.models import ServiceEndpoint

    api = ServiceEndpoint.objects.create(name="orders-api", target="http://127.0.0.1:9/")
    search = ServiceEndpoint.objects.create(name="search", target="http://127.0.0.1:9/")
    _rule(
        name="Failing checks",
        kind="service_health",
        service="*",
        metric="",
        aggregation="count",
        operator="gte",
        threshold=2,
        window_seconds=60,
    )
    _checks(api, _at(0), [("fail", None), ("fail", None), ("ok", 30)])
    _checks(search, _at(0), [("ok", 40), ("fail", None), ("ok", 35)])
    assert evaluate(_at(0)).fired == 1
    assert Alert.objects.get().resource == "orders-api"


def test_the_scheduled_pass_is_skipped_right_after_a_pass_for_fresh_samples(settings):
    import time as clock

    from django.core.cache import cache

    from alerts.apps import LAST_QUEUED_KEY, _evaluate_args

    settings.ALERT_EVALUATION_INTERVAL = 15
    assert _evaluate_args() == (), "nothing queued lately: the scheduled pass runs"
    cache.set(LAST_QUEUED_KEY, clock.time() - 2)
    assert _evaluate_args() is None
    cache.set(LAST_QUEUED_KEY, clock.time() - 10)
    assert _evaluate_args() == ()

"""Passes that read only what changed: the hosts stamped by ingest since the last pass,
the targets time moves on, and a full pass when there is nothing to go by; and passes
that never overlap silently."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from alerts import evaluator
from alerts.evaluator import LOCK_KEY, evaluate, pass_stats
from alerts.models import Alert, AlertRule, RuleState
from tests.metrics.helpers import store

pytestmark = pytest.mark.django_db

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(autouse=True)
def _clock_in_the_tests_hands():
    """Evaluation after ingest would run at the real time; these tests set their own."""
    from alerts.apps import _evaluate_soon
    from metrics.signals import samples_ingested

    samples_ingested.disconnect(dispatch_uid="alerts.evaluate_after_ingest")
    yield
    samples_ingested.connect(_evaluate_soon, dispatch_uid="alerts.evaluate_after_ingest")


def _rule(**fields) -> AlertRule:
    defaults = {
        "name": "CPU high",
        "metric": "cpu_usage_percent",
        "threshold": 80,
        "window_seconds": 60,
        "for_seconds": 0,
        "cooldown_seconds": 0,
        "repeat_interval_seconds": 3600,
    }
    return AlertRule.objects.create(**{**defaults, **fields})


@pytest.fixture(autouse=True)
def _one_clock(monkeypatch):
    """Ingest and evaluation share this process's clock: no margin for another's."""
    monkeypatch.setattr(evaluator, "CLOCK_MARGIN", 0.0)


def _send(host: str, value: float, at: datetime, key: str = "cpu_usage_percent") -> None:
    store(host, {key: [(at - timedelta(seconds=s), value) for s in (4, 2, 0)]})


def _fired() -> set[str]:
    return set(
        Alert.objects.filter(alert_type__startswith="rule_").values_list("resource", flat=True)
    )


def test_the_first_pass_reads_every_host_and_the_next_only_those_that_sent():
    _rule(window_seconds=10)
    for n in range(5):
        _send(f"web-{n}", 10, NOW)
    first = evaluate(NOW)
    assert first.full and first.hosts == 5
    _send("web-3", 95, NOW + timedelta(seconds=15))
    second = evaluate(NOW + timedelta(seconds=15))
    assert not second.full and second.hosts == 1
    assert second.fired == 1 and _fired() == {"web-3"}
    # Nothing sent since: nothing to read but the firing target's host.
    third = evaluate(NOW + timedelta(seconds=16))
    assert third.hosts == 1 and third.repeated == 0


def test_a_firing_host_that_goes_quiet_still_turns_into_no_data():
    _rule()
    _send("web-1", 95, NOW)
    _send("web-2", 10, NOW)
    assert evaluate(NOW).fired == 1
    # web-2 keeps sending, web-1 sends nothing more: its window empties.
    for step in (1, 2, 3, 4, 5):
        at = NOW + timedelta(seconds=30 * step)
        _send("web-2", 10, at)
        result = evaluate(at)
        assert not result.full
    assert result.no_data == 0  # said once, at the pass that found the window empty
    assert Alert.objects.filter(alert_type__startswith="no_data_rule_", resource="web-1").exists()
    assert RuleState.objects.get(target="web-1/cpu_usage_percent").no_data


def test_a_pending_target_fires_when_its_for_runs_out_without_new_samples():
    _rule(for_seconds=30, window_seconds=300)
    _send("web-1", 95, NOW)
    assert evaluate(NOW).pending == 1
    later = evaluate(NOW + timedelta(seconds=45))
    assert not later.full and later.hosts == 1
    assert later.fired == 1


def test_an_edited_rule_makes_the_next_pass_full():
    rule = _rule(threshold=99)
    _send("web-1", 95, NOW)
    _send("web-2", 95, NOW)
    evaluate(NOW)
    assert not evaluate(NOW).full
    rule.threshold = 90
    rule.save()
    result = evaluate(NOW)
    assert result.full and result.fired == 2


def test_the_backstop_full_pass_comes_round(settings):
    _rule()
    _send("web-1", 10, NOW)
    evaluate(NOW)
    mark = cache.get(evaluator.MARK_KEY)
    cache.set(
        evaluator.MARK_KEY,
        {**mark, "full_at": mark["full_at"] - settings.ALERT_FULL_EVALUATION_SECONDS},
        None,
    )
    assert evaluate(NOW).full


def test_samples_that_bypass_ingest_are_read_by_the_next_full_pass():
    """A stamp is what a pass goes by: rows written without one wait for the backstop."""
    from metrics.models import Host, Metric, MetricSample

    _rule()
    _send("web-1", 10, NOW)
    evaluate(NOW)
    host = Host.objects.get(hostname="web-1")
    metric = Metric.objects.get(key="cpu_usage_percent")
    MetricSample.objects.create(
        host=host, metric=metric, time=NOW + timedelta(seconds=5), value=1000
    )
    assert evaluate(NOW + timedelta(seconds=5)).fired == 0
    assert evaluate(NOW + timedelta(seconds=5), full=True).fired == 1


@pytest.mark.parametrize("label_rule", [False, True])
def test_incremental_passes_decide_as_full_passes_would(label_rule):
    """The same samples through passes that read only what changed and through full
    passes: the same alerts, pending targets and no-data alerts at every step."""
    fields = {"labels": {"mount": "/"}} if label_rule else {}
    key = 'disk_usage_percent{mount="/"}' if label_rule else "cpu_usage_percent"
    metric = "disk_usage_percent" if label_rule else "cpu_usage_percent"
    _rule(metric=metric, for_seconds=30, window_seconds=60, **fields)
    # Per host and step: a value, or None for nothing sent.
    plan: dict[str, list[int | None]] = {
        "a": [10, 95, 95, 95, 10, 10],
        "b": [95, 95, None, None, None, None],
        "c": [10, None, None, 95, 95, 95],
        "d": [95, 10, 95, 10, 95, None],
    }
    outcomes = {}
    for mode in ("incremental", "full"):
        Alert.objects.all().delete()
        RuleState.objects.all().delete()
        cache.delete(evaluator.MARK_KEY)
        seen = []
        for step in range(6):
            base = NOW - timedelta(minutes=10 if mode == "full" else 20)
            at = base + timedelta(seconds=20 * step)
            for host, values in plan.items():
                if (value := values[step]) is not None:
                    store(host, {key: [(at, value)]})
            evaluate(at, full=mode == "full")
            seen.append(
                (
                    sorted(
                        Alert.objects.filter(status="active").values_list("alert_type", "resource")
                    ),
                    sorted(RuleState.objects.values_list("target", "state", "no_data")),
                )
            )
        outcomes[mode] = [
            ([(t.split("_rule_")[0], r) for t, r in alerts], states) for alerts, states in seen
        ]
    assert outcomes["incremental"] == outcomes["full"]
    assert any(alerts for alerts, _ in outcomes["full"]), "the plan must fire something"


def test_a_pass_that_finds_one_running_is_skipped_and_counted():
    _rule()
    _send("web-1", 95, NOW)
    cache.add(LOCK_KEY, 1, timeout=60)
    try:
        first, second = evaluate(NOW), evaluate(NOW)
    finally:
        cache.delete(LOCK_KEY)
    assert first.skipped and second.skipped and not Alert.objects.exists()
    assert pass_stats()["skipped"] == 2
    done = evaluate(NOW)
    assert not done.skipped and done.fired == 1
    assert pass_stats()["last_seconds"] == pytest.approx(done.seconds)


def _exposed() -> dict[str, float]:
    response = Client().get("/metrics")
    assert response.status_code == 200
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
        if sample.name.startswith("opsconsole_alert_evaluation")
    }


def test_metrics_show_the_skipped_passes_and_the_last_pass():
    assert _exposed() == {"opsconsole_alert_evaluation_skipped_total": 0}
    _rule()
    _send("web-1", 95, NOW)
    _send("web-2", 10, NOW)
    result = evaluate(NOW)
    cache.add(LOCK_KEY, 1, timeout=60)
    evaluate(NOW)
    cache.delete(LOCK_KEY)
    exposed = _exposed()
    assert exposed["opsconsole_alert_evaluation_skipped_total"] == 1
    assert exposed["opsconsole_alert_evaluation_last_pass_seconds"] == pytest.approx(result.seconds)
    assert exposed["opsconsole_alert_evaluation_last_pass_hosts"] == 2


def test_the_status_api_warns_while_passes_are_slow(alice, settings):
    client = Client()
    client.force_login(alice)
    cache.set(evaluator.LAST_RUN_KEY, {"seconds": 0.2, "hosts": 1, "full": True}, None)
    assert not any("evaluation" in w for w in client.get("/api/v1/status").json()["warnings"])
    cache.set(evaluator.LAST_RUN_KEY, {"seconds": 4.0, "hosts": 1000, "full": True}, None)
    evaluator._count_skip()
    warnings = client.get("/api/v1/status").json()["warnings"]
    assert any("last pass took 4.0 s" in w and "1 passes skipped" in w for w in warnings), warnings
